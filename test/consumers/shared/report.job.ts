import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import {
  LeaderOnly,
  OnLeader,
  currentLeaderSignal,
  type LeaderContext,
} from 'nestjs-etcd-election';

/** The job one replica only may run: a tick every 100 ms, on the leader. */
@Injectable()
export class ReportJob {
  @Interval(100)
  @LeaderOnly()
  tick(): void {
    const signal = currentLeaderSignal();
    if (signal && !signal.aborted) console.log(`tick ${process.env.REPLICA}`);
  }

  @OnLeader()
  lead({ token }: LeaderContext): void {
    console.log(`leader ${process.env.REPLICA} token=${token.revision}`);
  }
}
