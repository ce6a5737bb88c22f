/** Reads the election decorators' metadata off a method or class. */
import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  LEADER_ONLY_METADATA,
  LEADER_ROUTE_METADATA,
  ON_FOLLOWER_METADATA,
  ON_LEADER_METADATA,
} from '../election.constants.js';

/** @internal What `@OnLeader`, `@OnFollower` and `@LeaderOnly` store on a method. */
export interface ElectionMethodMetadata {
  /** The election name; undefined = the default election. */
  election?: string;
}

/** @internal Reads the metadata of the election decorators off a method. */
@Injectable()
export class ElectionMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** One entry per `@OnLeader` on the method. */
  getOnLeader(method: unknown): ElectionMethodMetadata[] {
    return this.get<ElectionMethodMetadata[]>(ON_LEADER_METADATA, method) ?? [];
  }

  /** One entry per `@OnFollower` on the method. */
  getOnFollower(method: unknown): ElectionMethodMetadata[] {
    return this.get<ElectionMethodMetadata[]>(ON_FOLLOWER_METADATA, method) ?? [];
  }

  /** The `@LeaderOnly` of the method, if any. */
  getLeaderOnly(method: unknown): ElectionMethodMetadata | undefined {
    return this.get<ElectionMethodMetadata>(LEADER_ONLY_METADATA, method);
  }

  /** The `@LeaderRoute` of a route handler or controller class, if any. */
  getLeaderRoute(target: unknown): ElectionMethodMetadata | undefined {
    return this.get<ElectionMethodMetadata>(LEADER_ROUTE_METADATA, target);
  }

  private get<T>(key: string, method: unknown): T | undefined {
    return typeof method === 'function' ? this.reflector.get<T>(key, method) : undefined;
  }
}
