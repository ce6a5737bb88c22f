import { Controller, Get, UseGuards } from '@nestjs/common';
import { ElectionService, LeaderGuard } from 'nestjs-etcd-election';

/** This replica's role, and a route that only the leader serves. */
@Controller()
export class LeadershipController {
  constructor(private readonly election: ElectionService) {}

  @Get('leadership')
  leadership() {
    const { role, leader } = this.election.leadership;
    return { role, leader: leader?.value };
  }

  @Get('leader-only')
  @UseGuards(LeaderGuard)
  leaderOnly() {
    return { served: process.env.REPLICA };
  }
}
