import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient, Election } from '../../lib/core/index.js';
import { ON_ONE_INSTANCE_PREFIX } from '../../lib/index.js';
import {
  deadline,
  freePort,
  spawnTracked,
  waitFor,
  type TrackedProcess,
} from '../support/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TTL_S = 5;
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const LAUNCH = '.build/sample/01-scheduler/demo/launch.js';
const LAPTOP = { width: 1400, height: 900 };
const PHONE = { width: 390, height: 844 };
/** The sample's balanced `@OnOneInstance` jobs (sample/01-scheduler/src/housekeeping.job.ts). */
const JOBS = 6;

/** The little of the DOM the page-side predicates use (the project compiles without `lib: dom`). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
  getAnimations(): unknown[];
};

interface DemoState {
  election: string;
  endpoints: string[];
  nodes: Array<{ id: string; value: string; lang: string; pid?: number; state: string }>;
  etcd: Array<{ pid?: number; dataDir: string }>;
}

/**
 * Runs in the page: every way the layout can fail a reader. The page must not scroll sideways,
 * no box may stick out of the viewport or hold content wider than itself (text cut or spilling
 * out of its panel), and no message may cover a heading.
 */
const LAYOUT_PROBLEMS = `(() => {
  const problems = [];
  const root = document.documentElement;
  const width = root.clientWidth;
  if (root.scrollWidth > width) problems.push('the page is ' + root.scrollWidth + ' px wide in a ' + width + ' px window');
  const name = el => el.tagName.toLowerCase() + (el.dataset.testid ? '[' + el.dataset.testid + ']' : el.className ? '.' + String(el.className).split(' ')[0] : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.visually-hidden')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.display === 'inline' || style.display === 'contents') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) problems.push(name(el) + ' sticks out (' + Math.round(box.left) + '..' + Math.round(box.right) + ')');
    if (el.scrollWidth > el.clientWidth + 1) problems.push(name(el) + ' holds ' + el.scrollWidth + ' px in ' + el.clientWidth + ' px');
  }
  const headings = [...document.querySelectorAll('h1, h2, h3')].map(h => h.getBoundingClientRect());
  for (const toast of document.querySelectorAll('.toast, .notice')) {
    const t = toast.getBoundingClientRect();
    for (const h of headings) {
      if (t.left < h.right && h.left < t.right && t.top < h.bottom && h.top < t.bottom) problems.push(name(toast) + ' covers a heading');
    }
  }
  return problems;
})()`;

/** Each job the page's Jobs panel shows, with the value of the replica it says leads it. */
async function pageJobs(page: Page): Promise<Map<string, string>> {
  const pairs = await page
    .getByTestId('job')
    .evaluateAll(els =>
      els.map(el => [el.getAttribute('data-job'), el.getAttribute('data-leader')]),
    );
  return new Map(pairs as Array<[string, string]>);
}

/** How many jobs each value leads, from a {@link pageJobs} map. */
function spreadOf(jobs: Map<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const leader of jobs.values()) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  return counts;
}

/**
 * Waits until the page shows all {@link JOBS} jobs led by exactly `replicas`, each leading at
 * least one and at most ceil(JOBS / replicas); resolves with the page's job → leader map.
 */
async function spreadOver(page: Page, replicas: string[], timeout: number) {
  const most = Math.ceil(JOBS / replicas.length);
  return waitFor(
    async () => {
      const jobs = await pageJobs(page);
      const counts = spreadOf(jobs);
      const spread =
        jobs.size === JOBS &&
        [...counts.keys()].every(v => replicas.includes(v)) &&
        replicas.every(v => (counts.get(v) ?? 0) >= 1 && counts.get(v)! <= most);
      // thrown, not returned: the timeout error then tells the last spread seen
      if (!spread) throw new Error(`${jobs.size} jobs, ${JSON.stringify([...counts])}`);
      return jobs;
    },
    {
      timeout,
      interval: 100,
      message: `${JOBS} jobs spread over ${replicas.join(', ')}, at most ${most} each`,
    },
  );
}

/** Who leads each job election, as etcd itself says, read apart from the demo. */
async function etcdJobLeaders(endpoints: string[], jobs: Iterable<string>) {
  const client = createEtcdClient({ hosts: endpoints });
  try {
    const leaders = new Map<string, string | undefined>();
    for (const job of jobs) {
      const recipe = new Election(client, `${ON_ONE_INSTANCE_PREFIX}${job}`, {
        requestTimeout: 2000,
        maxRequestBytes: 1_572_864,
      });
      leaders.set(job, (await recipe.leader())?.value);
    }
    return leaders;
  } finally {
    client.close();
  }
}

async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(LAYOUT_PROBLEMS);
}

/** Where a screenshot goes: `docs/` when asked (UPDATE_SCREENSHOT=1), else the temp dir. */
function shotPath(name: string): string {
  const path = process.env.UPDATE_SCREENSHOT
    ? `${ROOT}docs/${name}.png`
    : join(tmpdir(), `election-${name}-${process.pid}.png`);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

/** Stops a launcher the way a user would (Ctrl-C), then makes sure its children are gone. */
async function stopLauncher(launcher: TrackedProcess | undefined, url: string | undefined) {
  if (!launcher?.running) return;
  const state = url
    ? await fetch(`${url}control/state`)
        .then(res => res.json() as Promise<DemoState>)
        .catch(() => undefined)
    : undefined;
  launcher.signal('SIGINT');
  await deadline(launcher.exited, 10_000, 'demo exit').catch(() => launcher.kill());
  for (const pid of state?.nodes.flatMap(n => n.pid ?? []) ?? []) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

describe('npm run demo', () => {
  let launcher: TrackedProcess;
  let url: string;
  let browser: Browser;
  let page: Page;

  const demoState = async (): Promise<DemoState> =>
    (await (await fetch(`${url}control/state`)).json()) as DemoState;
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

  beforeAll(async () => {
    const port = await freePort();
    launcher = spawnTracked(process.execPath, [LAUNCH], {
      cwd: ROOT,
      label: 'demo',
      env: { DEMO_PORT: String(port), ELECTION_TTL: String(TTL_S), ETCD_HOSTS: undefined },
    });
    const line = await launcher.waitForLine(/Election demo: (http\S+)/, 30_000);
    url = /(http\S+)/.exec(line.text)![1];
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: LAPTOP });
  });

  afterAll(async () => {
    await browser?.close();
    await stopLauncher(launcher, url);
  });

  it('shows the mixed queue and the spread of the jobs, survives resign and kill, fits a laptop and a phone', async () => {
    await page.goto(url);

    // the queue: three of ours and one etcdctl, in campaign order
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid="queue-row"]').length === 4,
      null,
      { timeout: 15_000 },
    );
    const values = await page
      .getByTestId('queue-row')
      .evaluateAll(rows => rows.map(r => r.getAttribute('data-value')));
    expect([...values].sort()).toEqual(['go-1', 'node-1', 'node-2', 'node-3']);
    await expect.poll(() => page.getByTestId('queue').getByText('Go · etcdctl').count()).toBe(1);
    expect(await page.getByTestId('subtitle').textContent()).toBe('NestJS + Go, one queue');
    const first = await nextLeader('', 5000);
    expect(first).toMatch(/^node-/);

    // the balanced jobs: each of the three replicas leads its share, and etcd agrees with the page
    const { endpoints } = await demoState();
    const spread = await spreadOver(page, ['node-1', 'node-2', 'node-3'], 20_000);
    await expect.poll(() => etcdJobLeaders(endpoints, spread.keys())).toEqual(spread);
    expect(
      await page
        .getByTestId('spread-row')
        .evaluateAll(rows =>
          rows.map(r => [r.getAttribute('data-value'), r.getAttribute('data-count')]),
        ),
    ).toEqual([...spreadOf(spread)].sort().map(([value, n]) => [value, String(n)]));
    expect(await page.getByTestId('spread-summary').textContent()).toBe(
      `${JOBS} jobs led by 3 replicas`,
    );

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
    const killedId = second.slice('node-'.length);
    await expect
      .poll(() => page.getByTestId(`node-${killedId}`).getAttribute('data-state'))
      .toBe('stopped');

    // its jobs go to the survivors once its lease expires: they lead them all, in fair shares
    const survivors = ['node-1', 'node-2', 'node-3'].filter(v => v !== second);
    const after = await spreadOver(page, survivors, (TTL_S + 10) * 1000);
    await expect.poll(() => etcdJobLeaders(endpoints, after.keys())).toEqual(after);
    expect(
      await page
        .locator(`[data-testid="spread-row"][data-value="${second}"]`)
        .getAttribute('data-count'),
    ).toBe('0');

    // the metrics, as each replica's /metrics says: is-leader per replica, the handover histogram
    const leaderId = third.slice('node-'.length);
    await expect
      .poll(() => page.getByTestId(`metric-is-leader-${leaderId}`).textContent())
      .toBe('1');
    for (const node of (await demoState()).nodes) {
      if (node.lang !== 'nest' || node.state !== 'running' || node.id === leaderId) continue;
      await expect
        .poll(() => page.getByTestId(`metric-is-leader-${node.id}`).textContent())
        .toBe('0');
      expect(await page.getByTestId(`metric-session-losses-${node.id}`).textContent()).toBe('0');
    }
    await expect
      .poll(() => page.getByTestId('histogram-source').textContent())
      .toMatch(/: 2 observed/);
    const bars = await page
      .getByTestId('histogram-bar')
      .evaluateAll(els => els.map(el => Number(el.getAttribute('data-count'))));
    expect(bars.reduce((a, b) => a + b, 0)).toBe(2);

    // the library's handover latencies arrive, then the page must fit both screens
    await page.getByTestId('history-row').nth(1).waitFor();
    await page.waitForFunction(
      () => !document.querySelector('[data-testid="history-body"]')?.textContent?.includes('…'),
      null,
      { timeout: 3000 },
    );
    await page.waitForFunction(() => document.getAnimations().length === 0, null, {
      timeout: 3000,
    });
    expect(await page.getByTestId('toast').count()).toBe(1);
    expect(await layoutProblems(page)).toEqual([]);
    const laptopShot = shotPath('demo');
    await page.screenshot({ path: laptopShot });
    expect(statSync(laptopShot).size).toBeGreaterThan(10_000);

    await page.setViewportSize(PHONE);
    expect(await layoutProblems(page)).toEqual([]);
    const phoneShot = shotPath('demo-phone');
    await page.screenshot({ path: phoneShot, fullPage: true });
    expect(statSync(phoneShot).size).toBeGreaterThan(10_000);
    await page.setViewportSize(LAPTOP);
    console.info(
      `demo: resign → ${second} in ${resignMs.toFixed(0)} ms, kill → ${third} in ${killMs.toFixed(0)} ms`,
    );
  });

  it('shows go-1 leading within 1 s of etcd once every Nest replica is dead', async () => {
    const { election, endpoints, nodes } = await demoState();
    expect(nodes.find(n => n.lang === 'go')?.state).toBe('running');
    for (const node of nodes) {
      if (node.lang === 'nest' && node.state === 'running') {
        await page.getByTestId(`btn-kill-${node.id}`).click();
      }
    }
    await waitFor(
      async () => (await demoState()).nodes.every(n => n.lang === 'go' || n.state === 'stopped'),
      { timeout: 5000, message: 'every Nest replica stopped' },
    );

    // what etcd itself says, read apart from the demo: go-1 leads once the dead leases expire
    const client = createEtcdClient({ hosts: endpoints });
    try {
      const recipe = new Election(client, election, {
        requestTimeout: 2000,
        maxRequestBytes: 1_572_864,
      });
      await waitFor(async () => (await recipe.leader())?.value === 'go-1', {
        timeout: (TTL_S + 3) * 1000,
        interval: 20,
        message: 'etcd: go-1 leads',
      });
    } finally {
      client.close();
    }
    await page.waitForFunction(
      () => document.querySelector('[data-testid="leader-value"]')?.textContent === 'go-1',
      null,
      { timeout: 1000, polling: 10 },
    );
    expect(await page.getByTestId('btn-resign').isDisabled()).toBe(false);
    // the dead followers' keys leave as their leases expire
    await expect
      .poll(() => page.getByTestId('queue-row').count(), { timeout: (TTL_S + 2) * 1000 })
      .toBe(1);
    // and so do the job elections: nobody is left to run the jobs
    await expect
      .poll(() => page.getByTestId('spread-summary').textContent(), { timeout: 2000 })
      .toBe('no @OnOneInstance job campaigns');
    expect(await page.getByTestId('job').count()).toBe(0);

    // a page loaded now shows the same at once
    const fresh = await browser.newPage({ viewport: PHONE });
    try {
      await fresh.goto(url);
      await fresh.waitForFunction(
        () => document.querySelector('[data-testid="leader-value"]')?.textContent === 'go-1',
        null,
        { timeout: 1000, polling: 10 },
      );
      expect(await fresh.getByTestId('btn-resign').isDisabled()).toBe(false);
      expect(await layoutProblems(fresh)).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('leaves nothing running after Ctrl-C', async () => {
    const state = await demoState();
    const pids = [
      ...state.nodes.flatMap(n => (n.state === 'stopped' ? [] : (n.pid ?? []))),
      ...state.etcd.flatMap(m => m.pid ?? []),
    ];
    expect(pids.length).toBeGreaterThanOrEqual(2);
    launcher.signal('SIGINT');
    const exit = await deadline(launcher.exited, 15_000, 'demo exit after SIGINT');
    expect(exit.code).toBe(0);
    expect(state.nodes.flatMap(n => n.pid ?? []).filter(alive)).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(state.etcd.filter(m => existsSync(m.dataDir))).toEqual([]);
  });
});

describe('npm run demo without etcd at ETCD_HOSTS and without etcdctl', () => {
  let launcher: TrackedProcess | undefined;
  let url: string | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    await stopLauncher(launcher, url);
  });

  it('says within 5 s that etcd does not answer there and how to fix it, and what is missing', async () => {
    const [etcdPort, demoPort] = [await freePort(), await freePort()];
    const hosts = `http://127.0.0.1:${etcdPort}`;
    launcher = spawnTracked(process.execPath, [LAUNCH], {
      cwd: ROOT,
      label: 'demo-dead-etcd',
      env: {
        DEMO_PORT: String(demoPort),
        ETCD_HOSTS: hosts,
        ETCDCTL_BIN: '/nonexistent/etcdctl',
      },
    });
    const down = await launcher.waitForLine(/does not answer/, 5000);
    expect(down.text).toContain(`etcd at ${hosts} does not answer`);
    expect(down.text).toMatch(/point ETCD_HOSTS at a running etcd.*or unset ETCD_HOSTS/);
    url = /(http\S+)/.exec((await launcher.waitForLine(/Election demo: http/, 1000)).text)![1];
    expect(
      launcher.lines.some(l => /No Go peer.*apt-get install -y etcd-client/.test(l.text)),
    ).toBe(true);

    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: PHONE });
    await page.goto(url);
    const notice = page.getByTestId('notice-etcd-down');
    await notice.waitFor({ timeout: 3000 });
    expect(await notice.textContent()).toContain(`etcd at ${hosts} does not answer`);
    expect(await notice.textContent()).toContain('ETCD_HOSTS');
    expect(await page.getByTestId('notice-go-missing').textContent()).toMatch(
      /etcdctl.*not found.*apt-get install -y etcd-client/,
    );
    expect(await page.getByTestId('subtitle').textContent()).toMatch(/no Go peer/);
    expect(await page.getByTestId('leader-value').textContent()).toBe('etcd not answering');
    expect(await layoutProblems(page)).toEqual([]);
    await page.setViewportSize(LAPTOP);
    expect(await layoutProblems(page)).toEqual([]);
    await page.screenshot({ path: shotPath('demo-etcd-down') });

    launcher.signal('SIGINT');
    const exit = await deadline(launcher.exited, 10_000, 'demo exit after SIGINT');
    expect(exit.code).toBe(0);
  });
});
