/**
 * Scenario 6 — a 3-member etcd cluster loses members under a stable leader: the Raft leader
 * member is killed, then (once a new Raft leader is elected) a follower member too, which costs
 * the quorum; both are restarted. Candidates talk to all three members. With TTL 5 s the
 * election must not notice at all: no step-down, no election, a leader throughout.
 */
import { describe, expect, it } from 'vitest';
import { delay } from '../support/index.js';
import { expectSafe, seeded, seedOf, useLabs } from './fixtures.js';
import { now } from './nodes.js';

const TTL = 5;
const startLab = useLabs();

describe('scenario 6: 3-member cluster loses the Raft leader, then a follower', () => {
  it('with TTL 5 s, no change of leadership at all, and a leader throughout', async () => {
    const seed = seedOf(6);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'cluster',
      members: 3,
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2']),
      go: ['g1'],
    });
    const cluster = lab.cluster;
    await settle(500, 1500);
    const leader = lab.leader()!;
    const from = now();

    const raftLeader = await cluster.raftLeader();
    lab.fault('kill raft leader member', raftLeader.name);
    await raftLeader.kill();
    const newRaftLeader = await cluster.waitForRaftLeader({ exclude: raftLeader, timeout: 10_000 });
    // A keepalive period with the new Raft leader, then lose the quorum.
    await settle(TTL * 333, TTL * 400);
    const follower = prng.pick(
      cluster.members.filter(m => m !== raftLeader && m !== newRaftLeader),
    );
    lab.fault('kill raft follower member (quorum lost)', follower.name);
    await follower.kill();
    await settle(200, 600);
    lab.fault('restart both members', `${raftLeader.name}+${follower.name}`);
    await Promise.all([raftLeader.start(), follower.start()]);
    await cluster.waitForRaftLeader({ timeout: 10_000 });
    // Two keepalive periods with the full cluster: any late loss would show by now.
    await delay(TTL * 667);

    const report = expectSafe(
      lab,
      `scenario 6: 3-member cluster, members killed and restarted (seed ${seed}, TTL ${TTL} s)`,
    );
    expect(lab.leaders()).toEqual([leader]);
    // No change of belief in any process since the first kill, and never leaderless.
    const changes = lab.recorder.timeline.beliefs.filter(
      b => b.t >= from && b.reason !== 'campaigning',
    );
    expect(changes).toEqual([]);
    for (const fault of report.faults) {
      expect(fault).toMatchObject({ leader: leader.proc, changes: 0, longestGapNs: 0n });
    }
  });
});
