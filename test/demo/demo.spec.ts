import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadline, freePort, spawnTracked, type TrackedProcess } from '../support/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TTL_S = 5;
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** The little of the DOM the page-side predicates use (the project compiles without `lib: dom`). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
  getAnimations(): unknown[];
};

interface DemoState {
  nodes: Array<{ id: string; value: string; pid?: number; state: string }>;
  etcd: Array<{ pid?: number; dataDir: string }>;
}

let launcher: TrackedProcess;
let url: string;
let browser: Browser;
let page: Page;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function demoState(): Promise<DemoState> {
  return (await (await fetch(`${url}control/state`)).json()) as DemoState;
}

const leaderText = () => page.getByTestId('leader-value').textContent();

/** Waits until the banner names a leader other than `previous`; resolves with it. */
async function nextLeader(previous: string, timeout: number): Promise<string> {
  await page.waitForFunction(
    old => {
      const text = document.querySelector('[data-testid="leader-value"]')?.textContent ?? '';
      return /^(node|go)-\d+$/.test(text) && text !== old;
    },
    previous,
    { timeout, polling: 10 },
  );
  return (await leaderText())!;
}

describe('npm run demo', () => {
  beforeAll(async () => {
    const port = await freePort();
    launcher = spawnTracked(process.execPath, ['.build/sample/01-scheduler/demo/launch.js'], {
      cwd: ROOT,
      label: 'demo',
      env: { DEMO_PORT: String(port), ELECTION_TTL: String(TTL_S), ETCD_HOSTS: undefined },
    });
    const line = await launcher.waitForLine(/Election demo: (http\S+)/, 30_000);
    url = /(http\S+)/.exec(line.text)![1];
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 760 } });
  });

  afterAll(async () => {
    await browser?.close();
    if (launcher?.running) {
      // a failed test: stop the launcher the way a user would, then make sure
      const pids = (await demoState().catch(() => undefined))?.nodes.flatMap(n => n.pid ?? []);
      launcher.signal('SIGINT');
      await deadline(launcher.exited, 10_000, 'demo exit').catch(() => launcher.kill());
      for (const pid of pids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('shows the mixed queue, survives resign and kill, and leaves nothing running', async () => {
    await page.goto(url);

    // the queue: three of ours and one etcdctl, in campaign order
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="queue-row"]').length === 4,
      null,
      {
        timeout: 15_000,
      },
    );
    const values = await page
      .getByTestId('queue-row')
      .evaluateAll(rows => rows.map(r => r.getAttribute('data-value')));
    expect([...values].sort()).toEqual(['go-1', 'node-1', 'node-2', 'node-3']);
    await expect.poll(() => page.getByTestId('queue').getByText('Go · etcdctl').count()).toBe(1);
    const first = await nextLeader('', 5000);
    expect(first).toMatch(/^node-/);

    // resign: the next in the queue leads within a second
    let t0 = performance.now();
    await page.getByTestId('btn-resign').click();
    const second = await nextLeader(first, 1000);
    const resignMs = performance.now() - t0;
    expect(resignMs).toBeLessThan(1000);

    // kill -9: no resign, so the next one leads once the lease expires (TTL + 1 s)
    expect(second).toMatch(/^node-/);
    t0 = performance.now();
    await page.getByTestId('btn-kill').click();
    const third = await nextLeader(second, (TTL_S + 1) * 1000);
    const killMs = performance.now() - t0;
    expect(killMs).toBeLessThan((TTL_S + 1) * 1000);
    expect(third).not.toBe(second);
    await expect
      .poll(() =>
        page.getByTestId('node-' + second.slice('node-'.length)).getAttribute('data-state'),
      )
      .toBe('stopped');

    // the screenshot for the README, once the library's handover latencies have arrived
    await page.getByTestId('history-row').nth(1).waitFor();
    await page
      .waitForFunction(
        () => !document.querySelector('[data-testid="history-body"]')?.textContent?.includes('…'),
        null,
        {
          timeout: 3000,
        },
      )
      .catch(() => undefined);
    await page.waitForFunction(() => document.getAnimations().length === 0, null, {
      timeout: 3000,
    });
    // Refresh the README's picture only when asked (UPDATE_SCREENSHOT=1), so test runs leave
    // the work tree clean; otherwise the screenshot goes to the temp dir.
    const shot = process.env.UPDATE_SCREENSHOT
      ? `${ROOT}docs/demo.png`
      : join(tmpdir(), `election-demo-${process.pid}.png`);
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.info(
      `demo: resign → ${second} in ${resignMs.toFixed(0)} ms, kill → ${third} in ${killMs.toFixed(0)} ms`,
    );

    // Ctrl-C: every child exits, the temp data dir goes
    const state = await demoState();
    const pids = [
      ...state.nodes.flatMap(n => n.pid ?? []),
      ...state.etcd.flatMap(m => m.pid ?? []),
    ];
    expect(pids.length).toBeGreaterThanOrEqual(5);
    launcher.signal('SIGINT');
    const exit = await deadline(launcher.exited, 15_000, 'demo exit after SIGINT');
    expect(exit.code).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(state.etcd.filter(m => existsSync(m.dataDir))).toEqual([]);
  });
});
