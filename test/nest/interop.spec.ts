import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionService,
  OnFollower,
  OnLeader,
  type LeaderContext,
  type Leadership,
} from '../../lib/index.js';
import { GoCandidate, GoObserver, goLeader, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger } from './nest-apps.js';

const etcd = useEtcd();
const apps = new Apps(new CaptureLogger());
const peers: Array<GoCandidate | GoObserver> = [];
afterEach(async () => {
  try {
    await apps.closeAll();
  } finally {
    await Promise.all(peers.splice(0).map(p => (p instanceof GoObserver ? p.close() : p.kill())));
  }
});

@Injectable()
class Recorder {
  readonly terms: LeaderContext[] = [];
  readonly follower: Leadership[] = [];

  @OnLeader()
  lead(context: LeaderContext) {
    this.terms.push(context);
  }

  @OnFollower()
  follow(leadership: Leadership) {
    this.follower.push(leadership);
  }
}

describe('A Nest app and etcdctl elect (Go) in one election', () => {
  it('keeps one leader across both languages, handing over both ways', async () => {
    const election = `interop-${process.pid}`;
    const observer = GoObserver.start(etcd(), election);
    peers.push(observer);
    const go = GoCandidate.start(etcd(), election, 'go-first');
    peers.push(go);
    await go.waitElected(10_000);

    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election,
          value: 'nest',
          ttl: 2,
        }),
      ],
      providers: [Recorder],
    });
    const service = app.get(ElectionService);
    const recorder = app.get(Recorder);

    // Go leads; the Nest node queues behind it and knows who leads.
    await waitFor(() => recorder.follower.length === 1, {
      timeout: 5000,
      message: '@OnFollower at start-up, naming the Go leader',
    });
    expect(recorder.follower[0].leader).toMatchObject({ key: go.key, value: 'go-first' });
    expect(service.isLeader()).toBe(false);
    expect(recorder.terms).toHaveLength(0);
    expect((await service.participants()).map(p => p.value)).toEqual(['go-first', 'nest']);

    // Go resigns: the Nest node leads, and Go's observer sees it.
    await go.resign();
    const leadership = await service.waitForLeadership({ timeout: 5000 });
    await observer.waitForValue('nest', 5000);
    expect(await goLeader(etcd(), election)).toMatchObject({ key: leadership.key, value: 'nest' });
    expect(recorder.terms).toHaveLength(1);

    // A Go candidate now waits behind the Nest leader …
    const next = GoCandidate.start(etcd(), election, 'go-second');
    peers.push(next);
    await waitFor(async () => (await service.participants()).length === 2, {
      timeout: 5000,
      message: 'the Go candidate queued',
    });
    expect(next.isElected).toBe(false);
    expect(service.isLeader()).toBe(true);

    // … and takes over when the Nest app shuts down (it resigns: no TTL to wait for).
    const signal = recorder.terms[0].signal;
    await apps.close(app);
    expect(signal.aborted).toBe(true);
    await next.waitElected(5000);
    await observer.waitForValue('go-second', 5000);
    expect(await goLeader(etcd(), election)).toMatchObject({ value: 'go-second' });
  });
});
