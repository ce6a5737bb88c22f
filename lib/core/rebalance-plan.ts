/** The pure planner of balancing: one replica's next step, from its view of the queues. */

/** @internal One balanced election as the planner sees it. */
export interface QueueView {
  /** The election name. */
  election: string;
  /** The queue, leader first: `null` for this replica, the candidate's value for any other. */
  queue: ReadonlyArray<string | null>;
  /** False while this replica's key heads the queue but it has not declared leadership yet. */
  settled: boolean;
}

/** What the planner found, and what this replica should do now. */
export interface RebalancePlan {
  /** E: the balanced elections this replica takes part in. */
  elections: number;
  /** R: the replicas seen in their queues, this one included, counted by value. */
  replicas: number;
  /** ceil(E / R). */
  fairShare: number;
  /** How many of them this replica leads. */
  leading: number;
  /** The election to resign now (one at a time), if this replica leads more than its share. */
  resign?: { election: string; successor: string };
  /** Elections in which this replica steps back in the queue (it is no leader there). */
  stepBack: string[];
  /**
   * True while some leader is over its share with a replica under its share queued behind but
   * not next in line: a step-back is due somewhere, so look again soon.
   */
  pending: boolean;
}

/**
 * @internal What one replica's planner remembers between steps: how many more terms it may resign while
 * the membership (the replicas seen, and E) stays as it is. Replicas that balance different sets
 * of elections see different loads and could hand terms round for ever; the budget bounds the
 * moves of a stable membership to what the spread needed when it last changed.
 */
export interface RebalanceBudget {
  /** The membership the budget was set for. */
  membership?: string;
  /** Resigns left. */
  left: number;
  /** Step-backs left (each election's worth, plus the slack). */
  stepBacks?: number;
}

/** Resigns allowed beyond this replica's excess when the membership changes (for overshoots). */
const BUDGET_SLACK = 2;

/** One thing the balancer did. */
export interface RebalanceStep extends Omit<RebalancePlan, 'resign' | 'stepBack' | 'pending'> {
  /** `resign`: this replica gave up leading `election`; `step-back`: its place behind the leader. */
  kind: 'resign' | 'step-back';
  election: string;
  /** For a resign: the value of the candidate next in line, which takes over. */
  successor?: string;
}

/**
 * @internal Decides one step of spreading leadership, from this replica's view of the queues. Pure.
 *
 * Each replica's share is ceil(E / R) over the elections it is seen in: for this replica, all
 * of its balanced elections; for another, those of ours it is queued in, over the replicas
 * queued there (the same figure when every replica balances the same elections).
 *
 * - Over its share, a replica resigns one election whose next in line leads less than its own
 *   share, the least loaded first; if there is none it waits (a step-back brings one forward).
 * - Next in line behind a leader over its share, a replica that would go over its own share by
 *   taking over steps back (gives up its place, never a term) when a replica under its share
 *   is queued behind, so that one comes forward; as many times as that leader still needs.
 * - An election with nobody else queued behind this replica is never resigned.
 *
 * Every resign moves a term from a replica over its share to one under it. When every replica
 * balances the same elections the spread only evens out; otherwise views differ, and `budget`
 * (the caller's, kept across steps) bounds the resigns of a stable membership.
 */
export function planRebalance(
  views: readonly QueueView[],
  budget: RebalanceBudget = { left: Infinity, stepBacks: Infinity },
): RebalancePlan {
  const values = new Set<string>();
  const leads = new Map<string | null, number>();
  const seenIn = new Map<string, QueueView[]>();
  for (const view of views) {
    const { queue } = view;
    for (const id of new Set(queue)) {
      if (id === null) continue;
      values.add(id);
      seenIn.set(id, [...(seenIn.get(id) ?? []), view]);
    }
    if (queue.length > 0) leads.set(queue[0], (leads.get(queue[0]) ?? 0) + 1);
  }
  const elections = views.length;
  const replicas = values.size + 1;
  const fairShare = Math.ceil(elections / replicas);
  const leading = leads.get(null) ?? 0;
  const plan: RebalancePlan = {
    elections,
    replicas,
    fairShare,
    leading,
    stepBack: [],
    pending: false,
  };
  if (elections === 0) return plan;
  const membership = `${elections}\n${[...values].sort().join('\n')}`;
  if (budget.membership !== membership) {
    budget.membership = membership;
    budget.left = Math.max(0, leading - fairShare) + BUDGET_SLACK;
    budget.stepBacks = elections + BUDGET_SLACK;
  }

  const shares = new Map<string | null, number>([[null, fairShare]]);
  const share = (id: string | null): number => {
    let known = shares.get(id);
    if (known === undefined) {
      const where = seenIn.get(id as string) ?? [];
      const there = new Set(where.flatMap(v => v.queue));
      there.add(null);
      known = Math.ceil(where.length / there.size);
      shares.set(id, known);
    }
    return known;
  };
  const load = (id: string | null) => leads.get(id) ?? 0;
  const under = (id: string | null) => load(id) < share(id);

  plan.pending = views.some(
    ({ queue }) =>
      queue.length > 2 &&
      load(queue[0]) > share(queue[0]) &&
      !under(queue[1]) &&
      queue.slice(2).some(under),
  );

  if (leading > fairShare) {
    const best = views
      .filter(v => v.settled && v.queue[0] === null && v.queue.length > 1 && under(v.queue[1]))
      .map(v => ({ election: v.election, successor: v.queue[1] as string }))
      .sort((a, b) => load(a.successor) - load(b.successor) || cmp(a.election, b.election))[0];
    if (best && budget.left > 0) {
      budget.left--;
      plan.resign = best;
    }
  }

  if (leading >= fairShare) {
    // Per leader over its share: how many more of its elections need a successor under share.
    const need = new Map<string, number>();
    for (const v of views) {
      const head = v.queue[0];
      if (typeof head !== 'string' || load(head) <= share(head)) continue;
      if (!need.has(head)) need.set(head, load(head) - share(head));
      const next = v.queue[1];
      if (typeof next === 'string' && under(next)) need.set(head, need.get(head)! - 1);
    }
    const sorted = [...views].sort((a, b) => cmp(a.election, b.election));
    for (const v of sorted) {
      const head = v.queue[0];
      if (typeof head !== 'string' || v.queue[1] !== null) continue;
      // Only for one that leads fewer than this replica, as this replica sees it.
      if (!v.queue.slice(2).some(id => under(id) && load(id) < leading)) continue;
      const left = need.get(head) ?? 0;
      if (left <= 0 || !(budget.stepBacks! > 0)) continue;
      need.set(head, left - 1);
      budget.stepBacks!--;
      plan.stepBack.push(v.election);
    }
  }
  return plan;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
