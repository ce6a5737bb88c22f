/**
 * Scenario 8 — one sick member of a 3-member etcd cluster, at TTL 3 s: killed, frozen, or the
 * one carrying the leader's keepalive stream frozen; a follower member killed; a rolling restart.
 * Three of our candidates, each given all three endpoints. Whatever one member does, a leader
 * again within TTL + 1 s, never two at once, and no change of leader at all when the sick member
 * is not the raft leader.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { delay, waitFor, type EtcdCluster, type EtcdMember } from '../support/index.js';
import { longestGapAfterFirstElection, type Report } from './checker.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import type { Lab } from './lab.js';
import type { OurNode } from './nodes.js';
import { PeerProxies } from './peer-cut.js';

const TTL = 3;
const BOUND_MS = (TTL + 1) * 1000;
const startLab = useLabs();

function startCluster(label: string, seed: number, peers?: PeerProxies) {
  const { prng } = seeded(seed);
  return startLab({
    label,
    members: 3,
    ttl: TTL,
    ours: prng.shuffle(['n1', 'n2', 'n3']),
    etcd: peers && { advertisePeerUrl: peers.advertise },
  });
}

/** Moves raft leadership to `to` (asking the current raft leader), unless it has it already. */
async function moveRaftLeader(lab: Lab, to: EtcdMember): Promise<void> {
  const from = await lab.cluster.raftLeader();
  if (from === to) return;
  await lab.cluster.memberStatuses();
  await lab.cluster.etcdctlOk(['move-leader', BigInt(to.memberId!).toString(16)], {
    endpoints: [from.clientUrl],
  });
  await waitFor(async () => (await lab.cluster.raftLeader()) === to, {
    timeout: 10_000,
    message: `raft leadership on ${to.name}`,
  });
}

/** The member the leading process talks to. */
function memberOf(lab: Lab, node: OurNode): EtcdMember {
  const [member] = membersOf(node.process!.pid, lab.cluster);
  expect(member).toBeDefined();
  return member;
}

/** The member `node` talks to, made a raft follower (raft leadership moved away if need be). */
async function followerMemberOf(lab: Lab, node: OurNode): Promise<EtcdMember> {
  const member = memberOf(lab, node);
  if ((await lab.cluster.raftLeader()) === member) {
    await moveRaftLeader(
      lab,
      lab.cluster.members.find(m => m !== member)!,
    );
  }
  return member;
}

/** The members a process holds TCP connections to, from the kernel's socket table. */
function membersOf(pid: number, cluster: EtcdCluster): EtcdMember[] {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' });
  const ports = new Set(
    out
      .split('\n')
      .filter(line => line.includes(`pid=${pid},`))
      .map(line => line.trim().split(/\s+/)[3]?.split(':').pop()),
  );
  return cluster.members.filter(m => ports.has(new URL(m.clientUrl).port));
}

/** Asserts the bound on time without a leader, prints it, and returns the report. */
function expectBounded(lab: Lab, title: string): Report {
  const report = expectSafe(lab, title);
  const gap = toMs(longestGapAfterFirstElection(report));
  console.info(`${title}: longest gap without a leader ${gap.toFixed(1)} ms (bound ${BOUND_MS})`);
  expect(gap).toBeLessThanOrEqual(BOUND_MS);
  return report;
}

/** Beliefs that changed since `from` (any election or step-down). */
function changesSince(lab: Lab, from: bigint) {
  return lab.recorder.timeline.beliefs.filter(b => b.t >= from && b.reason !== 'campaigning');
}

describe('scenario 8: one sick member of three, TTL 3 s', () => {
  it('the raft leader member is killed, then restarted', async () => {
    const lab = await startCluster('kill-raft-leader', seedOf(81));
    // The worst case: it is also the member the leading process talks to.
    const raftLeader = memberOf(lab, lab.leader() as OurNode);
    await moveRaftLeader(lab, raftLeader);
    lab.fault('kill raft leader member', raftLeader.name);
    await raftLeader.kill();
    await lab.cluster.waitForRaftLeader({ exclude: raftLeader, timeout: 10_000 });
    await delay(BOUND_MS + 1000);
    lab.fault('restart it', raftLeader.name);
    await raftLeader.start();
    await delay(2000);
    expectBounded(lab, 'raft leader member killed, then restarted');
    expect(lab.leader()).toBeDefined();
  });

  it('the raft leader member is frozen for 10 s', async () => {
    const lab = await startCluster('freeze-raft-leader', seedOf(82));
    const raftLeader = memberOf(lab, lab.leader() as OurNode);
    await moveRaftLeader(lab, raftLeader);
    lab.fault('SIGSTOP raft leader member', raftLeader.name);
    await raftLeader.pause();
    try {
      await delay(10_000);
    } finally {
      lab.fault('SIGCONT', raftLeader.name);
      await raftLeader.resume();
    }
    await delay(2000);
    expectBounded(lab, 'raft leader member frozen 10 s');
    expect(lab.leader()).toBeDefined();
  });

  it("the member carrying the leader's keepalive stream is frozen for 10 s: no change at all", async () => {
    const lab = await startCluster('freeze-keepalive-member', seedOf(83));
    const leader = lab.leader() as OurNode;
    const member = await followerMemberOf(lab, leader);
    const from = lab.fault('SIGSTOP member of the leader', member.name).t;
    await member.pause();
    try {
      await delay(10_000);
    } finally {
      lab.fault('SIGCONT', member.name);
      await member.resume();
    }
    await delay(2000);
    expectBounded(lab, "leader's member frozen 10 s");
    expect(changesSince(lab, from)).toEqual([]);
    expect(lab.leader()).toBe(leader);
  });

  it('a follower member is killed (no change), then the whole cluster restarts one by one', async () => {
    const lab = await startCluster('follower-and-rolling', seedOf(84));
    const leader = lab.leader() as OurNode;
    const raftLeader = await lab.cluster.raftLeader();
    // The leader's own member when it is a raft follower, else any raft follower.
    const follower =
      membersOf(leader.process!.pid, lab.cluster).find(m => m !== raftLeader) ??
      lab.cluster.members.find(m => m !== raftLeader)!;
    const from = lab.fault('kill raft follower member', follower.name).t;
    await follower.kill();
    await delay(BOUND_MS);
    expect(changesSince(lab, from)).toEqual([]);
    lab.fault('restart it', follower.name);
    await follower.start();
    for (const member of lab.cluster.members) {
      lab.fault('rolling restart', member.name);
      await member.stop();
      await member.start();
      await lab.cluster.waitForRaftLeader({ timeout: 10_000 });
      await delay(1000);
    }
    await delay(2000);
    expectBounded(lab, 'follower member killed; rolling restart');
    expect(lab.leader()).toBeDefined();
  });

  it("the leader's member is cut off from its peers for 10 s, its clients still reaching it: no change at all", async () => {
    const peers = new PeerProxies();
    try {
      const lab = await startCluster('cut-member', seedOf(85), peers);
      const leader = lab.leader() as OurNode;
      const member = await followerMemberOf(lab, leader);
      const from = lab.fault('cut member off from its peers', member.name).t;
      peers.cut(member, lab.cluster);
      try {
        await delay(10_000);
      } finally {
        lab.fault('heal', member.name);
        peers.heal();
      }
      await lab.cluster.waitForRaftLeader({ timeout: 10_000 });
      await delay(2000);
      expectBounded(lab, "leader's member cut off from its peers 10 s");
      expect(changesSince(lab, from)).toEqual([]);
      expect(lab.leader()).toBe(leader);
    } finally {
      await peers.close();
    }
  });
});
