import { Controller, Get, HttpCode, type MessageEvent, Post, Sse } from '@nestjs/common';
import { type Observable, map } from 'rxjs';
import {
  CurrentLeadership,
  ElectionService,
  type Leadership,
  type Participant,
} from '../../../lib/index.js';

/** This replica's standing in the election, who leads, and a live stream of changes. */
@Controller()
export class LeadershipController {
  constructor(private readonly election: ElectionService) {}

  /** This replica's leadership snapshot (role, leader, since …) and its counters. */
  @Get('leadership')
  show(@CurrentLeadership() leadership: Leadership) {
    return { ...leadership, isLeader: this.election.isLeader(), stats: this.election.stats };
  }

  /** Every change of this replica's leadership, as server-sent events. */
  @Sse('leadership/stream')
  stream(): Observable<MessageEvent> {
    return this.election.leadership$.pipe(map(leadership => ({ data: leadership })));
  }

  /** The queue, leader first, whatever language each candidate runs. */
  @Get('participants')
  participants(): Promise<Participant[]> {
    return this.election.participants();
  }

  /** Steps down (if leading) and queues again at the back. */
  @Post('resign')
  @HttpCode(200)
  async resign(): Promise<Leadership> {
    await this.election.resign();
    return this.election.leadership;
  }
}
