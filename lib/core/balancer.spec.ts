import { describe, expect, it } from 'vitest';
import { type QueueView, type RebalanceBudget, planRebalance } from './rebalance-plan.js';

/** Queues as strings: `'a,b,c'` = a leads, then b, then c; `me` is this replica. */
function views(...queues: string[]): QueueView[] {
  return queues.map((q, i) => ({
    election: `e${String(i).padStart(2, '0')}`,
    queue: q.split(',').map(id => (id === 'me' ? null : id)),
    settled: true,
  }));
}

/** Every replica applies its plan in turn (resign and step-back: to the back of the queue). */
function simulate(queues: string[][], maxRounds = 200) {
  let changes = 0;
  let rounds = 0;
  const names = [...new Set(queues.flat())];
  const budgets = new Map(names.map(n => [n, { left: 0 } as RebalanceBudget]));
  for (; rounds < maxRounds; rounds++) {
    let acted = false;
    for (const self of names) {
      const mine = queues.flatMap((q, i) =>
        q.includes(self)
          ? [
              {
                election: `e${String(i).padStart(2, '0')}`,
                queue: q.map(id => (id === self ? null : id)),
                settled: true,
              },
            ]
          : [],
      );
      const plan = planRebalance(mine, budgets.get(self));
      const moved = [...plan.stepBack, ...(plan.resign ? [plan.resign.election] : [])];
      for (const election of moved) {
        const q = queues[Number(election.slice(1))];
        if (q[0] === self) changes++;
        q.splice(q.indexOf(self), 1);
        q.push(self);
        acted = true;
      }
    }
    if (!acted) break;
  }
  const leads = new Map<string, number>();
  for (const q of queues) leads.set(q[0], (leads.get(q[0]) ?? 0) + 1);
  return { changes, rounds, leads: names.map(n => leads.get(n) ?? 0) };
}

describe('planRebalance', () => {
  it('counts E, R by value and the fair share ceil(E / R)', () => {
    const plan = planRebalance(views('me,a', 'a,me', 'b,a,me', 'me,b', 'me'));
    expect(plan).toMatchObject({ elections: 5, replicas: 3, fairShare: 2, leading: 3 });
  });

  it('resigns one election over the share, to the least loaded next in line', () => {
    const plan = planRebalance(views('me,a', 'me,b', 'me,a', 'a,me', 'a,me', 'me,b'));
    // E 6, R 3, share 2: I lead 4, a 2, b 0.
    expect(plan.resign).toEqual({ election: 'e01', successor: 'b' });
    expect(plan.stepBack).toEqual([]);
  });

  it('does nothing at or under the share (hysteresis: 4 / 4 / 4 and 4 / 4 / 3 stay)', () => {
    expect(planRebalance(views('me,a', 'me,a', 'a,me', 'a,me')).resign).toBeUndefined();
    const uneven = views('me,a,b', 'me,a,b', 'a,me,b', 'a,me,b', 'b,me,a');
    expect(planRebalance(uneven)).toMatchObject({ fairShare: 2, leading: 2 });
    expect(planRebalance(uneven).resign).toBeUndefined();
    expect(planRebalance(uneven).stepBack).toEqual([]);
  });

  it('never resigns an election with nobody queued behind', () => {
    const plan = planRebalance(views('me', 'me', 'me', 'a,me'));
    expect(plan.leading).toBe(3);
    expect(plan.resign).toBeUndefined();
  });

  it('waits for a step-back rather than resigning to a replica at its share', () => {
    // E 4, R 3 (share 2): I lead 3; a, next in line, leads 1: under its share, it takes one.
    const over = views('me,a,b', 'me,a,b', 'me,a,b', 'a,me,b');
    expect(planRebalance(over).resign).toEqual({ election: 'e00', successor: 'a' });
    // Here a is at its share (2) and b, under it, is queued behind: I wait for a to step back.
    const atShare = views('me,a,b', 'me,a,b', 'me,a,b', 'a,me,b', 'a,me,b', 'x,b');
    expect(planRebalance(atShare).resign).toBeUndefined();
    // … and looks again soon, until a does.
    expect(planRebalance(atShare).pending).toBe(true);
    expect(planRebalance(views('me,a', 'a,me')).pending).toBe(false);
  });

  it('steps back behind a leader over its share, as often as that leader needs', () => {
    // a leads 3 of 4 (share 2 over a, b and me), I lead 1 and am next in line.
    const plan = planRebalance(views('a,me,b', 'a,me,b', 'a,me,b', 'me,a'));
    expect(plan).toMatchObject({ fairShare: 2, leading: 1 });
    // I am under my share: I take over myself, no step-back.
    expect(plan.stepBack).toEqual([]);
    const atShare = planRebalance(views('a,me,b', 'a,me,b', 'a,me,b', 'me,a', 'me,b', 'b,a'));
    // E 6, R 3, share 2: a leads 3 (one too many), I lead 2, b 1: step back once.
    expect(atShare.stepBack).toEqual(['e00']);
  });

  it('holds a key that heads the queue but does not lead yet as not resignable', () => {
    const v = views('me,a', 'me,a', 'me,a');
    v[0] = { ...v[0], settled: false };
    v[1] = { ...v[1], settled: false };
    v[2] = { ...v[2], settled: false };
    expect(planRebalance(v).resign).toBeUndefined();
  });
});

describe('planRebalance, every replica applying it', () => {
  const spread = (e: number, r: number, order: (i: number) => string[]) =>
    Array.from({ length: e }, (_, i) => order(i));
  const names = (r: number) => Array.from({ length: r }, (_, i) => `r${i}`);

  it.each([
    [12, 3],
    [12, 4],
    [48, 6],
    [20, 3],
    [7, 3],
  ])('E %i over R %i from one leader settles within one of E / R', (e, r) => {
    const result = simulate(spread(e, r, () => names(r)));
    const share = Math.ceil(e / r);
    expect(Math.max(...result.leads)).toBeLessThanOrEqual(share);
    expect(Math.min(...result.leads)).toBeGreaterThanOrEqual(Math.floor(e / r) - 1);
    // Each election moved once at most: no more changes than the excess of the first leader.
    expect(result.changes).toBeLessThanOrEqual(e - Math.floor(e / r));
  });

  it('a replica joining at the back of every queue gets its share, one change per election', () => {
    // 12 over 3, settled at 4 each, then r3 joins behind everyone.
    const queues = spread(12, 3, i => {
      const three = names(3);
      const head = three[i % 3];
      return [head, ...three.filter(n => n !== head), 'r3'];
    });
    const result = simulate(queues);
    expect(result.leads.sort()).toEqual([3, 3, 3, 3]);
    expect(result.changes).toBe(3);
  });

  it('replicas balancing different sets of elections settle too, without going round', () => {
    // b takes part in e00..e07, a only in e00..e03, c only in e04..e07; b starts first.
    const queues = [
      ...Array.from({ length: 4 }, () => ['b', 'a']),
      ...Array.from({ length: 4 }, () => ['b', 'c']),
    ];
    const result = simulate(queues);
    expect(result.rounds).toBeLessThan(20);
    expect(result.leads).toEqual([4, 2, 2]);
    expect(result.changes).toBe(4);
  });

  it('settles from any queue order, and from any sets of elections, without going round', () => {
    let seed = 12;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const shuffled = <T>(items: T[]) =>
      items
        .map(item => ({ item, key: random() }))
        .sort((x, y) => x.key - y.key)
        .map(x => x.item);
    for (let trial = 0; trial < 200; trial++) {
      const e = 1 + Math.floor(random() * 30);
      const r = 1 + Math.floor(random() * 6);
      const everywhere = trial % 2 === 0;
      const queues = spread(e, r, () => {
        const some = shuffled(names(r)).filter((_, i) => everywhere || i === 0 || random() < 0.6);
        return some;
      });
      const result = simulate(queues, 500);
      expect(result.rounds, `trial ${trial}: E ${e}, R ${r}`).toBeLessThan(500);
      if (everywhere) {
        expect(Math.max(...result.leads), `trial ${trial}`).toBeLessThanOrEqual(Math.ceil(e / r));
      }
    }
  });

  it('a stable, balanced membership does nothing', () => {
    const queues = spread(12, 4, i => {
      const four = names(4);
      return [...four.slice(i % 4), ...four.slice(0, i % 4)];
    });
    expect(simulate(queues)).toMatchObject({ changes: 0, rounds: 0 });
  });
});
