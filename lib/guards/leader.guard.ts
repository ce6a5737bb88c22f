/** `LeaderGuard`: routes that answer only on the leader; followers answer 503 naming it. */
import {
  type CanActivate,
  type ExecutionContext,
  HttpStatus,
  Injectable,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { LeaderInfo } from '../core/index.js';
import { LEADER_HEADER, LEADER_ROUTE_METADATA } from '../election.constants.js';
import { notLeaderMessage } from '../election.messages.js';
import type { ElectionMethodMetadata } from '../elections/election-metadata.accessor.js';
import { ElectionRegistry } from '../elections/election.registry.js';

/** The JSON body a follower answers a leader-only route with (HTTP 503). */
export interface NotLeaderResponse {
  statusCode: 503;
  message: string;
  /** The election name. */
  election: string;
  /** The current leader, when known. */
  leader: { value: string; key: string } | null;
}

/**
 * Lets a request through only on the leader of the election (checked against the lease deadline).
 * On followers it answers 503 with a {@link NotLeaderResponse} body and, when a leader is known,
 * the `X-Election-Leader` header holding its value (percent-encoded unless printable ASCII), so
 * a client or proxy can retry on the leader. The election is the one named by `@LeaderRoute(name)`
 * on the handler or its controller, else the default one.
 *
 * @example
 * ```ts
 * @UseGuards(LeaderGuard)
 * @Post('compact')
 * compact() { … }
 * ```
 */
@Injectable()
export class LeaderGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly registry: ElectionRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const route = this.reflector.getAllAndOverride<ElectionMethodMetadata | undefined>(
      LEADER_ROUTE_METADATA,
      [context.getHandler(), context.getClass()],
    );
    const election = this.registry.get(route?.election);
    if (election.isLeader()) return true;
    const leader = election.leadership.leader;
    if (context.getType() === 'http' && leader) {
      setHeader(context.switchToHttp().getResponse(), LEADER_HEADER, headerValue(leader));
    }
    const body: NotLeaderResponse = {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      message: notLeaderMessage(election.name, leader),
      election: election.name,
      leader: leader ? { value: leader.value, key: leader.key } : null,
    };
    throw new ServiceUnavailableException(body);
  }
}

/** A header can carry printable ASCII only; anything else is percent-encoded. */
function headerValue(leader: LeaderInfo): string {
  return /^[\x20-\x7e]*$/.test(leader.value) ? leader.value : encodeURIComponent(leader.value);
}

/** Express (`setHeader`) and Fastify (`header`) responses alike. */
function setHeader(response: unknown, name: string, value: string): void {
  const res = response as {
    setHeader?: (name: string, value: string) => void;
    header?: (name: string, value: string) => void;
  };
  if (typeof res.setHeader === 'function') res.setHeader(name, value);
  else if (typeof res.header === 'function') res.header(name, value);
}
