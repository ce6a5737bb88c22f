/**
 * The fault catalog the soak draws from: the faults of the scenarios, each injected on a lab,
 * recorded for the checker, and undone (healed, resumed, restarted) before it returns. Kinds,
 * targets and durations are drawn from the run's PRNG, so a seed gives the same draws.
 *
 * Go's `etcdctl elect` is the reference implementation, not the one under test, and it lacks
 * guarantees the faults below would test: it does not watch its own key, hears of a revoked
 * lease only at its next keepalive (every 20 s), and keeps believing it leads for as long as its
 * client thinks the lease lives, with no margin. Revoke, delete and cut-off (stall, drop)
 * therefore target one of our nodes: the leader when ours leads, else one of our followers.
 */
import { delay, deleteKey, leaseRevoke, type EtcdMember } from '../support/index.js';
import type { Lab } from './lab.js';
import { OurNode, type FaultNode } from './nodes.js';
import type { Prng } from './prng.js';

/** What a fault gets to work with. */
export interface FaultContext {
  lab: Lab;
  prng: Prng;
  /** Lease TTL of our candidates, seconds. */
  ttl: number;
}

/** One kind of fault. */
export interface FaultKind {
  name: string;
  /** Relative probability of being drawn. */
  weight: number;
  /** Only for clusters of this many members or more (default 1). */
  minMembers?: number;
  /** Ends a Go leader's term too: drawn more often while Go leads, so that ours lead as well. */
  rotates?: boolean;
  /** Injects, records and undoes the fault. */
  run(context: FaultContext): Promise<void>;
}

/** The leader if one of ours leads, else a random one of our nodes; and which it is. */
function ourTarget({ lab, prng }: FaultContext): { node: OurNode; role: string } {
  const leader = lab.leader();
  if (leader instanceof OurNode) return { node: leader, role: 'leader' };
  const running = lab.ours.filter(n => n.running);
  return { node: prng.pick(running.length ? running : lab.ours), role: 'follower' };
}

/** The leader (any implementation), or a random running node while nobody leads. */
function anyLeader({ lab, prng }: FaultContext): { node: FaultNode; role: string } {
  const leader = lab.leader();
  if (leader) return { node: leader, role: 'leader' };
  return { node: prng.pick(lab.nodes.filter(n => n.running)), role: 'node' };
}

function aFollower({ lab, prng }: FaultContext): FaultNode | undefined {
  const leader = lab.leader();
  const followers = lab.nodes.filter(n => n.running && n !== leader);
  return followers.length ? prng.pick(followers) : undefined;
}

async function killAndRestart(context: FaultContext, node: FaultNode, role: string) {
  context.lab.fault(`kill -9 ${role}`, node.proc);
  await node.kill();
  await delay(context.prng.int(300, 2000));
  await context.lab.restart(node);
}

async function pauseFor(context: FaultContext, node: FaultNode, role: string, ms: number) {
  context.lab.fault(`SIGSTOP ${role} ${(ms / 1000).toFixed(1)} s`, node.proc);
  await node.pause();
  await delay(ms);
  await node.resume();
}

async function cutOff(context: FaultContext, how: 'stall' | 'drop') {
  const { node, role } = ourTarget(context);
  const link = context.lab.link(node);
  // From shorter than the lease deadline (must be survived) to well past the TTL.
  const ms = context.prng.int(context.ttl * 300, context.ttl * 2500);
  context.lab.fault(`${how} ${role} link ${(ms / 1000).toFixed(1)} s`, node.proc);
  link[how]();
  await delay(ms);
  link.heal();
}

async function restartMembers(members: EtcdMember[]) {
  await Promise.all(members.map(m => m.start({ waitHealthy: false })));
  await Promise.all(members.map(m => m.waitHealthy(20_000)));
}

/** Every fault of the list, with the soak's default weights. */
export const FAULTS: FaultKind[] = [
  {
    name: 'kill -9 leader',
    weight: 3,
    rotates: true,
    run: async context => {
      const { node, role } = anyLeader(context);
      await killAndRestart(context, node, role);
    },
  },
  {
    name: 'kill -9 follower',
    weight: 1,
    run: async context => {
      const node = aFollower(context);
      if (node) await killAndRestart(context, node, 'follower');
    },
  },
  {
    name: 'SIGSTOP leader',
    weight: 2,
    run: async context => {
      const { node, role } = anyLeader(context);
      // Around the lease deadline (TTL − margin) up to the scenario's 2 × TTL.
      const ms = context.prng.int(context.ttl * 400, context.ttl * 2000);
      await pauseFor(context, node, role, ms);
    },
  },
  {
    name: 'SIGSTOP follower',
    weight: 1,
    run: async context => {
      const node = aFollower(context);
      if (node) await pauseFor(context, node, 'follower', 2 * context.ttl * 1000);
    },
  },
  { name: 'stall link', weight: 2, run: context => cutOff(context, 'stall') },
  { name: 'drop link', weight: 2, run: context => cutOff(context, 'drop') },
  {
    name: 'revoke lease',
    weight: 2,
    run: async context => {
      const { node, role } = ourTarget(context);
      const lease = node.state?.lease;
      if (!lease) return;
      context.lab.fault(`revoke ${role} lease`, node.proc, { external: true });
      await leaseRevoke(context.lab.cluster, lease).catch(() => false);
    },
  },
  {
    name: 'delete key',
    weight: 2,
    run: async context => {
      const { node, role } = ourTarget(context);
      const key = node.state?.key;
      if (!key) return;
      context.lab.fault(`delete ${role} key`, node.proc, { external: true });
      await deleteKey(context.lab.cluster, key).catch(() => 0);
    },
  },
  {
    name: 'etcd outage',
    weight: 1,
    run: async ({ lab, prng, ttl }) => {
      const members = lab.cluster.members;
      const ms = ttl * 1000 + prng.int(500, 2000);
      lab.fault(
        `stop all etcd ${(ms / 1000).toFixed(1)} s`,
        members.length === 1 ? members[0].name : `${members.length} members`,
      );
      await Promise.all(members.map(m => m.stop()));
      await delay(ms);
      await restartMembers([...members]);
    },
  },
  {
    name: 'kill raft leader member',
    weight: 2,
    minMembers: 3,
    run: async ({ lab, prng }) => {
      const member = await lab.cluster.raftLeader();
      lab.fault('kill raft leader member', member.name);
      await member.kill();
      await delay(prng.int(500, 3000));
      await restartMembers([member]);
    },
  },
  {
    name: 'kill raft follower member',
    weight: 1,
    minMembers: 3,
    run: async ({ lab, prng }) => {
      const leader = await lab.cluster.raftLeader();
      const member = prng.pick(lab.cluster.members.filter(m => m !== leader));
      lab.fault('kill raft follower member', member.name);
      await member.kill();
      await delay(prng.int(500, 3000));
      await restartMembers([member]);
    },
  },
  {
    name: 'graceful restart',
    weight: 3,
    rotates: true,
    run: async context => {
      const { lab, prng } = context;
      const leader = lab.leader();
      const node = leader && prng.next() < 0.6 ? leader : aFollower(context);
      if (!node) return;
      lab.fault(`graceful restart${node === leader ? ' of the leader' : ''}`, node.proc);
      await node.stop();
      await lab.restart(node);
    },
  },
];

/**
 * Brings the lab back to its full strength after a fault: every member running, every link
 * open, every node running and queued, and a leader. Throws if that takes longer than `timeout`.
 */
export async function recover(lab: Lab, timeout = 30_000): Promise<void> {
  const down = lab.cluster.members.filter(m => !m.running);
  if (down.length) await restartMembers(down);
  for (const link of lab.links.values()) if (link.mode !== 'open') link.heal();
  for (const node of lab.nodes) {
    if (node.frozen) await node.resume();
    if (!node.running) node.start();
  }
  await Promise.all(lab.nodes.map(n => lab.waitQueued(n, timeout)));
  await lab.waitForLeader({ timeout, message: 'a leader after recovery' });
}
