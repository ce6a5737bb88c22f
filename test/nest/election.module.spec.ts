import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionRegistry,
  ElectionService,
  InjectElection,
  LeadershipLostError,
  OnFollower,
  OnLeader,
  getElectionToken,
  type ElectionModuleOptions,
  type ElectionOptionsFactory,
  type LeaderContext,
  type Leadership,
} from '../../lib/index.js';
import { delay, goLeader, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, now } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

let electionSeq = 0;
const uniqueElection = (label: string) => `nest-module-${label}-${process.pid}-${++electionSeq}`;

/** Records the calls of its election handlers, with monotonic timestamps. */
@Injectable()
class Recorder {
  readonly leader: Array<{ at: number; context: LeaderContext }> = [];
  readonly follower: Array<{ at: number; leadership: Leadership }> = [];
  abortedAt?: number;

  @OnLeader()
  lead(context: LeaderContext) {
    this.leader.push({ at: now(), context });
    context.signal.addEventListener('abort', () => (this.abortedAt = now()), { once: true });
  }

  @OnFollower()
  follow(leadership: Leadership) {
    this.follower.push({ at: now(), leadership });
  }
}

function options(election: string, value: string): ElectionModuleOptions {
  return { etcd: { hosts: etcd().endpoints }, election, value, ttl: 2 };
}

function startNode(election: string, value: string): Promise<INestApplication> {
  return apps.create({
    imports: [ElectionModule.forRoot(options(election, value))],
    providers: [Recorder],
  });
}

describe('ElectionModule with three application instances', () => {
  it('calls exactly one @OnLeader; the others settle as followers', async () => {
    const election = uniqueElection('three');
    const nodes = await Promise.all(['a', 'b', 'c'].map(value => startNode(election, value)));
    const recorders = nodes.map(app => app.get(Recorder));

    await waitFor(
      () =>
        recorders.filter(r => r.leader.length === 1).length === 1 &&
        recorders.filter(r => r.follower.length === 1).length === 2,
      { timeout: 10_000, message: 'one leader and two followers' },
    );
    const leaderIndex = recorders.findIndex(r => r.leader.length === 1);
    const leaderApp = nodes[leaderIndex];
    const leaderService = leaderApp.get(ElectionService);

    expect(recorders.map(r => r.leader.length).sort()).toEqual([0, 0, 1]);
    expect(leaderService.isLeader()).toBe(true);
    expect(nodes.filter(app => app.get(ElectionService).isLeader())).toHaveLength(1);
    // Followers were told who leads; the context of the leader carries its fencing token.
    const { context } = recorders[leaderIndex].leader[0];
    expect(context.token).toEqual(leaderService.fencingToken());
    expect(context.leadership.role).toBe('leader');
    for (const r of recorders.filter(r => r.follower.length)) {
      expect(r.follower[0].leadership.leader?.key).toBe(context.token.key);
    }
    // Go's view of the election agrees.
    const go = await goLeader(etcd(), election);
    expect(go?.key).toBe(context.token.key);
    expect(go?.value).toBe(leaderService.leadership.value);
    const participants = await leaderService.participants();
    expect(participants.map(p => p.leader)).toEqual([true, false, false]);
    expect(leaderService.stats.elected).toBe(1);
  });

  it('app.close() of the leader aborts its signal first, then another node leads', async () => {
    const election = uniqueElection('handover');
    const nodes = await Promise.all(['a', 'b', 'c'].map(value => startNode(election, value)));
    const recorders = nodes.map(app => app.get(Recorder));
    await waitFor(
      () =>
        recorders.some(r => r.leader.length === 1) &&
        recorders.filter(r => r.follower.length === 1).length === 2,
      { timeout: 10_000, message: 'first leader' },
    );
    const oldIndex = recorders.findIndex(r => r.leader.length === 1);
    const old = recorders[oldIndex];
    const oldToken = old.leader[0].context.token;

    const closing = now();
    await apps.close(nodes[oldIndex]);
    const others = recorders.filter((_, i) => i !== oldIndex);
    const next = await waitFor(() => others.find(r => r.leader.length === 1), {
      timeout: 5_000,
      message: 'a new leader after app.close()',
    });

    expect(old.abortedAt).toBeDefined();
    expect(old.abortedAt!).toBeGreaterThanOrEqual(closing);
    expect(old.abortedAt!).toBeLessThan(next.leader[0].at);
    expect(old.leader[0].context.signal.reason).toBeInstanceOf(LeadershipLostError);
    // A resign hands over at once, not after the TTL.
    expect(next.leader[0].at - closing).toBeLessThan(1500);
    // Shutdown is not a loss of leadership: no @OnFollower on the old leader.
    expect(old.follower).toHaveLength(0);
    // Fencing tokens only grow.
    expect(BigInt(next.leader[0].context.token.revision)).toBeGreaterThan(
      BigInt(oldToken.revision),
    );
    expect(others.filter(r => r.leader.length > 0)).toHaveLength(1);
  });
});

describe('ElectionModule shutdown', () => {
  @Injectable()
  class CleansUp {
    readonly events: Array<[string, number]> = [];

    @OnLeader()
    async lead({ signal }: LeaderContext) {
      this.events.push(['lead', now()]);
      await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }));
      this.events.push(['aborted', now()]);
      await delay(150); // the handler's own clean-up work after the abort
      this.events.push(['cleaned', now()]);
    }
  }

  it('waits for @OnLeader work to settle before resigning', async () => {
    const election = uniqueElection('drain');
    const start = (value: string) =>
      apps.create({
        imports: [ElectionModule.forRoot(options(election, value))],
        providers: [CleansUp],
      });
    const first = await start('first');
    await first.get(ElectionService).waitForLeadership({ timeout: 10_000 });
    const second = await start('second');
    await waitFor(() => second.get(ElectionService).leadership.leader?.value === 'first', {
      timeout: 5000,
      message: 'the second node sees the first lead',
    });

    await apps.close(first);
    const closedAt = now();
    await waitFor(() => second.get(CleansUp).events.length > 0, {
      timeout: 5000,
      message: 'the second node leads',
    });
    const old = Object.fromEntries(first.get(CleansUp).events);
    const next = Object.fromEntries(second.get(CleansUp).events);
    expect(Object.keys(old)).toEqual(['lead', 'aborted', 'cleaned']);
    expect(old.aborted).toBeLessThan(old.cleaned);
    expect(old.cleaned).toBeLessThanOrEqual(closedAt);
    expect(next.lead).toBeGreaterThan(old.cleaned);
  });
});

describe('ElectionModule handlers', () => {
  @Injectable()
  class Faulty {
    calls: string[] = [];

    @OnLeader()
    throwsSync() {
      this.calls.push('sync');
      throw new Error('sync boom');
    }

    @OnLeader()
    async rejects() {
      this.calls.push('async');
      throw new Error('async boom');
    }

    @OnLeader()
    works() {
      this.calls.push('works');
    }
  }

  it('logs handler errors, sync and async, with Class.method and keeps the election going', async () => {
    const election = uniqueElection('errors');
    const app = await apps.create({
      imports: [ElectionModule.forRoot(options(election, 'solo'))],
      providers: [Faulty],
    });
    const faulty = app.get(Faulty);
    const service = app.get(ElectionService);
    await service.waitForLeadership({ timeout: 10_000 });
    await waitFor(() => logs.election(`[${election}] @OnLeader handler Faulty.rejects`).length, {
      timeout: 5000,
      message: 'the async handler failure logged',
    });
    expect(faulty.calls.sort()).toEqual(['async', 'sync', 'works']);
    const errors = logs.election(`[${election}] @OnLeader handler Faulty.`);
    expect(errors.map(l => l.level)).toEqual(['error', 'error']);
    expect(errors.map(l => l.message).join('\n')).toContain('Faulty.throwsSync failed: sync boom');
    expect(errors.map(l => l.message).join('\n')).toContain('Faulty.rejects failed: async boom');
    expect(service.isLeader()).toBe(true);

    // The loop survives: resigning and winning again calls the handlers again.
    await service.resign();
    await service.waitForLeadership({ timeout: 10_000 });
    await waitFor(() => faulty.calls.length === 6, { timeout: 5000, message: 'second term' });
  });

  it('logs one line per state change', async () => {
    const election = uniqueElection('logs');
    const app = await apps.create({
      imports: [ElectionModule.forRoot(options(election, 'solo'))],
    });
    const service = app.get(ElectionService);
    const { key, revision } = await service.waitForLeadership({ timeout: 10_000 });
    await apps.close(app);
    const lines = logs.election(`[${election}]`).map(l => l.message);
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^\\[${election}\\] follower \\(campaigning\\) lease=`)),
      `[${election}] leader (elected) key=${key} token=${revision}`,
      expect.stringMatching(new RegExp(`^\\[${election}\\] follower \\(stopping\\)`)),
      `[${election}] disconnected (stopped) left the election`,
    ]);
  });

  it("logs a follower's view: the leader it follows, then its own election", async () => {
    const election = uniqueElection('follower-logs');
    const first = await apps.create({
      imports: [ElectionModule.forRoot(options(election, 'first'))],
    });
    const { key: firstKey } = await first.get(ElectionService).waitForLeadership({
      timeout: 10_000,
    });
    const second = await apps.create({
      imports: [ElectionModule.forRoot(options(election, 'second'))],
    });
    const service = second.get(ElectionService);
    await waitFor(() => service.leadership.leader?.key === firstKey, {
      timeout: 5000,
      message: 'the second node follows the first',
    });
    await apps.close(first);
    const { key, lease, revision } = await service.waitForLeadership({ timeout: 5000 });
    const lines = logs
      .election(`[${election}]`)
      .map(l => l.message)
      .filter(m => m.includes(lease!));
    // The session can be granted before the observe loop's first read names the leader: then the
    // node says once that it follows an unknown leader, before saying whom.
    if (lines[0]?.endsWith('leader=unknown')) {
      expect(lines.shift()).toBe(
        `[${election}] follower (campaigning) lease=${lease} leader=unknown`,
      );
    }
    expect(lines).toEqual([
      `[${election}] follower (campaigning) lease=${lease} leader="first" (${firstKey})`,
      `[${election}] leader (elected) key=${key} token=${revision}`,
    ]);
  });

  it('warns about handlers on request-scoped providers instead of failing', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @OnLeader()
      lead() {}
    }
    const election = uniqueElection('scoped');
    const app = await apps.create({
      imports: [ElectionModule.forRoot(options(election, 'solo'))],
      providers: [PerRequest],
    });
    expect(app.get(ElectionService).name).toBe(election);
    expect(logs.election('Cannot register @OnLeader handler PerRequest.lead').length).toBe(1);
    expect(logs.election('PerRequest.lead')[0].level).toBe('warn');
  });

  it('fails the bootstrap when a decorator names an unregistered election', async () => {
    @Injectable()
    class Typo {
      @OnLeader('ordres')
      lead() {}
    }
    const election = uniqueElection('typo');
    await expect(
      apps.create({
        imports: [ElectionModule.forRoot({ ...options(election, 'x'), autoStart: false })],
        providers: [Typo],
      }),
    ).rejects.toThrow(
      `@OnLeader on Typo.lead refers to election "ordres", which is not registered (registered: "${election}")`,
    );
  });
});

describe('ElectionModule.forRootAsync', () => {
  @Injectable()
  class EtcdSettings {
    hosts = etcd().endpoints;
  }

  @Injectable()
  class OptionsFromSettings implements ElectionOptionsFactory {
    static election = '';
    constructor(@Inject(EtcdSettings) private readonly settings: EtcdSettings) {}
    createElectionOptions() {
      return { etcd: { hosts: this.settings.hosts }, ttl: 2, value: 'from-class' };
    }
  }

  @Module({
    providers: [EtcdSettings, OptionsFromSettings],
    exports: [EtcdSettings, OptionsFromSettings],
  })
  class SettingsModule {}

  it('accepts useFactory with inject and imports', async () => {
    const election = uniqueElection('factory');
    const app = await apps.create({
      imports: [
        ElectionModule.forRootAsync({
          imports: [SettingsModule],
          inject: [EtcdSettings],
          useFactory: async (settings: EtcdSettings) => ({
            etcd: { hosts: settings.hosts },
            election,
            ttl: 2,
            value: 'from-factory',
          }),
        }),
      ],
    });
    const service = app.get(ElectionService);
    const leadership = await service.waitForLeadership({ timeout: 10_000 });
    expect(leadership).toMatchObject({ election, value: 'from-factory', role: 'leader' });
  });

  it('accepts useClass, naming the election up front', async () => {
    const election = uniqueElection('class');
    const app = await apps.create({
      imports: [
        ElectionModule.forRootAsync({
          election,
          imports: [SettingsModule],
          useClass: OptionsFromSettings,
        }),
      ],
    });
    const named = app.get<ElectionService>(getElectionToken(election));
    expect(named).toBe(app.get(ElectionService));
    const leadership = await named.waitForLeadership({ timeout: 10_000 });
    expect(leadership).toMatchObject({ election, value: 'from-class' });
  });

  it('accepts useExisting', async () => {
    const election = uniqueElection('existing');
    const app = await apps.create({
      imports: [
        ElectionModule.forRootAsync({
          election,
          imports: [SettingsModule],
          useExisting: OptionsFromSettings,
        }),
      ],
    });
    const leadership = await app.get(ElectionService).waitForLeadership({ timeout: 10_000 });
    expect(leadership).toMatchObject({ election, value: 'from-class', role: 'leader' });
  });
});

describe('Several named elections in one application', () => {
  @Injectable()
  class PerElection {
    readonly led: string[] = [];
    constructor(
      @InjectElection('orders') readonly a: ElectionService,
      @InjectElection('reports') readonly b: ElectionService,
      readonly byDefault: ElectionService,
    ) {}

    @OnLeader('orders')
    leadA(context: LeaderContext) {
      this.led.push(`a:${context.leadership.election}`);
    }

    @OnLeader('reports')
    @OnLeader()
    leadB(context: LeaderContext) {
      this.led.push(`b:${context.leadership.election}`);
    }
  }

  // Decorators take their election names when the class is defined.
  const a = 'orders';
  const b = 'reports';

  it('gives each election its own service, token and handlers; default: true picks the default', async () => {
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({ ...options(a, 'node-a'), autoStart: true }),
        ElectionModule.forRoot({ ...options(b, 'node-b'), default: true }),
      ],
      providers: [PerElection],
    });
    const holder = app.get(PerElection);
    expect(holder.a.name).toBe(a);
    expect(holder.b.name).toBe(b);
    expect(holder.a).not.toBe(holder.b);
    expect(holder.byDefault).toBe(holder.b);
    expect(app.get(ElectionRegistry).names()).toEqual([a, b]);

    await Promise.all([holder.a, holder.b].map(s => s.waitForLeadership({ timeout: 10_000 })));
    await waitFor(() => holder.led.length === 3, { timeout: 5000, message: 'three handler calls' });
    expect(holder.led.sort()).toEqual([`a:${a}`, `b:${b}`, `b:${b}`]);
    expect(holder.a.fencingToken()?.key.startsWith(`${a}/`)).toBe(true);
    expect(holder.b.fencingToken()?.key.startsWith(`${b}/`)).toBe(true);
  });

  it('makes the first registered election the default when none is marked', async () => {
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({ ...options(a, 'node-a'), autoStart: false }),
        ElectionModule.forRoot({ ...options(b, 'node-b'), autoStart: false }),
      ],
    });
    expect(app.get(ElectionService).name).toBe(a);
    expect(app.get(ElectionService)).toBe(app.get(getElectionToken(a)));
  });

  it('refuses two elections with the same name, or two defaults', async () => {
    await expect(
      apps.create({
        imports: [
          ElectionModule.forRoot({ ...options(a, '1'), autoStart: false }),
          ElectionModule.forRoot({ ...options(a, '2'), autoStart: false }),
        ],
      }),
    ).rejects.toThrow(`Invalid election option "election": "${a}"`);
    await expect(
      apps.create({
        imports: [
          ElectionModule.forRoot({ ...options(a, '1'), autoStart: false, default: true }),
          ElectionModule.forRoot({ ...options(b, '2'), autoStart: false, default: true }),
        ],
      }),
    ).rejects.toThrow('Invalid election option "default"');
  });
});

describe('A client of your own', () => {
  it('is used and never closed', async () => {
    const client = new Etcd3({ hosts: etcd().endpoints });
    try {
      const election = uniqueElection('client');
      const app = await apps.create({
        imports: [
          ElectionModule.forRootAsync({
            useFactory: () => ({ client, election, ttl: 2, value: 'own-client' }),
          }),
        ],
      });
      const service = app.get(ElectionService);
      expect(service.client).toBe(client);
      await service.waitForLeadership({ timeout: 10_000 });
      await apps.close(app);
      // Still open: it can talk to etcd, and the election left nothing behind.
      expect(await client.getAll().prefix(`${election}/`).keys()).toEqual([]);
    } finally {
      client.close();
    }
  });
});
