/** The module that holds the application's one `ElectionBalancer`. */
import { Global, Module } from '@nestjs/common';
import { ElectionBalancer } from './election.balancer.js';

/**
 * @internal Holds the application's one `ElectionBalancer`, whichever registrations bring it
 * (elections, and the connection that jobs use).
 */
@Global()
@Module({ providers: [ElectionBalancer], exports: [ElectionBalancer] })
export class ElectionBalancerModule {}
