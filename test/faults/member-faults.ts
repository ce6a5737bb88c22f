/**
 * One sick member of a 3-member etcd cluster, as the scenario-8 spec and the cluster bench run
 * it: three of our candidates at TTL 3 s, each given all three endpoints, and one fault on one
 * member — killed, frozen, the one the leading process talks to frozen or cut off from its peers,
 * a follower killed then every member restarted in turn. Framework-free.
 */
import { execFileSync } from 'node:child_process';
import { delay, waitFor, type EtcdCluster, type EtcdMember } from '../support/index.js';
import { longestGapAfterFirstElection, type Report } from './checker.js';
import { Lab } from './lab.js';
import type { OurNode } from './nodes.js';
import { PeerProxies } from './peer-cut.js';
import { Prng } from './prng.js';

/** The lease TTL of every candidate, seconds. */
export const TTL = 3;
/** No span without a leader may be longer than this, ms. */
export const BOUND_MS = (TTL + 1) * 1000;

/** The members a process holds TCP connections to, from the kernel's socket table. */
export function membersOf(pid: number, cluster: EtcdCluster): EtcdMember[] {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' });
  const ports = new Set(
    out
      .split('\n')
      .filter(line => line.includes(`pid=${pid},`))
      .map(line => line.trim().split(/\s+/)[3]?.split(':').pop()),
  );
  return cluster.members.filter(m => ports.has(new URL(m.clientUrl).port));
}

/** The member the leading process talks to. */
function memberOfLeader(lab: Lab): EtcdMember {
  const leader = lab.leader() as OurNode | undefined;
  if (!leader?.process) throw new Error('no leader to fault the member of');
  const [member] = membersOf(leader.process.pid, lab.cluster);
  if (!member) throw new Error(`${leader.proc} holds no connection to any member`);
  return member;
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

/** The member the leading process talks to, made a raft follower. */
async function followerMemberOfLeader(lab: Lab): Promise<EtcdMember> {
  const member = memberOfLeader(lab);
  if ((await lab.cluster.raftLeader()) === member) {
    await moveRaftLeader(
      lab,
      lab.cluster.members.find(m => m !== member)!,
    );
  }
  return member;
}

/**
 * SIGSTOPs `member` for 10 s, then SIGCONTs it and lets the lab run 2 s more; resolves with the
 * instant of the SIGSTOP. `resumed` are the options of the SIGCONT fault record.
 */
async function freeze(
  lab: Lab,
  member: EtcdMember,
  what: string,
  resumed: { external?: boolean; anyHolder?: boolean } = {},
): Promise<bigint> {
  const from = lab.fault(`SIGSTOP ${what}`, member.name).t;
  await member.pause();
  try {
    await delay(10_000);
  } finally {
    lab.fault(
      resumed.anyHolder ? 'SIGCONT (may revoke live leases)' : 'SIGCONT',
      member.name,
      resumed,
    );
    await member.resume();
  }
  await delay(2000);
  return from;
}

/** One kind of member fault. */
export interface MemberFault {
  /** What happens, as in tables. */
  title: string;
  /** The default seed of its runs. */
  seed: number;
  /** Our leader's process is never hit, and the raft leader neither: no change is needed at all. */
  noChangeNeeded: boolean;
  /** Whether the members talk to each other through proxies (to cut one off). */
  peerProxies?: boolean;
  /** More etcd flags for every member. */
  etcdArgs?: string[];
  /** Injects and undoes the fault; resolves with the instant of the first injection. */
  run(lab: Lab, peers?: PeerProxies): Promise<bigint>;
}

/** Every member fault, in table order. */
export const MEMBER_FAULTS: MemberFault[] = [
  {
    title: 'raft leader member killed, then restarted',
    seed: 81,
    noChangeNeeded: false,
    async run(lab) {
      // The worst case: it is also the member the leading process talks to.
      const member = memberOfLeader(lab);
      await moveRaftLeader(lab, member);
      const from = lab.fault('kill raft leader member', member.name).t;
      await member.kill();
      await lab.cluster.waitForRaftLeader({ exclude: member, timeout: 10_000 });
      await delay(BOUND_MS + 1000);
      lab.fault('restart it', member.name);
      await member.start();
      await delay(2000);
      return from;
    },
  },
  {
    title: 'raft leader member frozen 10 s',
    seed: 82,
    noChangeNeeded: false,
    async run(lab) {
      const member = memberOfLeader(lab);
      await moveRaftLeader(lab, member);
      // Resumed, the old raft leader may revoke live leases (etcd-io/etcd#15247, in etcd without
      // the fix, as 3.4.23): etcd then deletes the leader's key from under it, from outside.
      return freeze(lab, member, 'raft leader member', { external: true, anyHolder: true });
    },
  },
  {
    title: "leader's member frozen 10 s",
    seed: 83,
    noChangeNeeded: true,
    async run(lab) {
      return freeze(lab, await followerMemberOfLeader(lab), 'member of the leader');
    },
  },
  {
    // etcd 3.4 runs without pre-vote by default: the member, cut off, keeps starting elections
    // with ever higher terms, and on rejoining forces the cluster into a new raft election,
    // during which no lease can be renewed. At TTL 3 s that can outlast the leader's lease
    // deadline: it then steps down on time, and the gap stays bounded.
    title: "leader's member cut off from its peers 10 s (etcd 3.4's defaults)",
    seed: 85,
    noChangeNeeded: false,
    peerProxies: true,
    async run(lab, peers) {
      const member = await followerMemberOfLeader(lab);
      const from = lab.fault('cut member off from its peers', member.name).t;
      peers!.cut(member, lab.cluster);
      try {
        await delay(10_000);
      } finally {
        lab.fault('heal', member.name);
        peers!.heal();
      }
      await lab.cluster.waitForRaftLeader({ timeout: 10_000 });
      await delay(2000);
      return from;
    },
  },
  {
    // With pre-vote (the default from etcd 3.5), the rejoining member cannot disrupt the leader.
    title: "leader's member cut off from its peers 10 s (etcd --pre-vote)",
    seed: 87,
    noChangeNeeded: true,
    peerProxies: true,
    etcdArgs: ['--pre-vote'],
    async run(lab, peers) {
      const member = await followerMemberOfLeader(lab);
      const from = lab.fault('cut member off from its peers', member.name).t;
      peers!.cut(member, lab.cluster);
      try {
        await delay(10_000);
      } finally {
        lab.fault('heal', member.name);
        peers!.heal();
      }
      await lab.cluster.waitForRaftLeader({ timeout: 10_000 });
      await delay(2000);
      return from;
    },
  },
  {
    title: "leader's member killed (a raft follower)",
    seed: 84,
    noChangeNeeded: true,
    async run(lab) {
      const member = await followerMemberOfLeader(lab);
      const from = lab.fault('kill raft follower member', member.name).t;
      await member.kill();
      await delay(BOUND_MS + 1000);
      lab.fault('restart it', member.name);
      await member.start();
      await delay(1000);
      return from;
    },
  },
  {
    title: 'rolling restart of every member',
    seed: 86,
    noChangeNeeded: false,
    async run(lab) {
      let from: bigint | undefined;
      for (const member of lab.cluster.members) {
        const t = lab.fault('rolling restart', member.name).t;
        from ??= t;
        await member.stop();
        await member.start();
        await lab.cluster.waitForRaftLeader({ timeout: 10_000 });
        await delay(1000);
      }
      await delay(2000);
      return from!;
    },
  },
];

/** What one run of one fault gave. */
export interface MemberFaultRun {
  report: Report;
  /** The longest span without a leader after the first election, ms. */
  gapMs: number;
  /** Changes of belief from the fault on, in any process (0 when nothing moved). */
  changes: number;
  /** Elections from the fault on: changes of leader, none of them needed when `noChangeNeeded`. */
  elections: number;
  /** The node that led before the fault still leads. */
  sameLeader: boolean;
}

/** Runs `fault` once in a fresh lab, and closes everything it started. */
export async function runMemberFault(
  fault: MemberFault,
  seed = fault.seed,
  start: (options: Parameters<typeof Lab.start>[0]) => Promise<Lab> = Lab.start,
): Promise<MemberFaultRun & { lab: Lab; peers?: PeerProxies }> {
  const peers = fault.peerProxies ? new PeerProxies() : undefined;
  const prng = new Prng(seed);
  const lab = await start({
    label: fault.title.replace(/\W+/g, '-').slice(0, 24),
    members: 3,
    ttl: TTL,
    ours: prng.shuffle(['n1', 'n2', 'n3']),
    etcd: { advertisePeerUrl: peers?.advertise, extraArgs: fault.etcdArgs },
  });
  const before = lab.leader();
  const from = await fault.run(lab, peers);
  const report = lab.report();
  const after = lab.recorder.timeline.beliefs.filter(
    b => b.t >= from && b.reason !== 'campaigning',
  );
  return {
    lab,
    peers,
    report,
    gapMs: Number(longestGapAfterFirstElection(report)) / 1e6,
    changes: after.length,
    elections: after.filter(b => b.belief === 'leader').length,
    sameLeader: lab.leader() === before,
  };
}
