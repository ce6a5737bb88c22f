import { hostname } from 'node:os';
import type { Etcd3, IOptions } from 'etcd3';
import {
  type CandidateOptions,
  ElectionOptionsError,
  type ResolvedCandidateOptions,
  resolveCandidateOptions,
} from './core/index.js';
import type { ElectionModuleFactoryOptions } from './interfaces/index.js';

/** @internal One registration's options after defaults and validation. */
export interface ResolvedElectionOptions {
  /** The election name. */
  election: string;
  /** What the engine's `Candidate` is built with (validated). */
  candidate: CandidateOptions;
  /** The engine settings with their defaults applied. */
  engine: ResolvedCandidateOptions;
  /** Connection options, when the module creates (and owns) the client. */
  etcd?: IOptions;
  /** The caller's client, which the module never closes. */
  client?: Etcd3;
  autoStart: boolean;
  shutdownTimeout: number;
  /** Explicit `default` flag, if any. */
  default?: boolean;
}

const OPTION_NAMES = [
  'etcd',
  'client',
  'election',
  'value',
  'ttl',
  'margin',
  'requestTimeout',
  'backoff',
  'observe',
  'maxRequestBytes',
  'autoStart',
  'shutdownTimeout',
  'default',
] as const;

/** This node's value when none is given: `<hostname>-<pid>`. */
export function defaultElectionValue(): string {
  return `${hostname()}-${process.pid}`;
}

/**
 * @internal Applies defaults to the options of one registration and validates every field, so
 * that a bad option fails the bootstrap with an {@link ElectionOptionsError} naming the field,
 * the value and what is allowed. `fixed` holds what `forRootAsync()` was given statically.
 */
export function resolveElectionOptions(
  options: ElectionModuleFactoryOptions,
  fixed: { election?: string; default?: boolean } = {},
): ResolvedElectionOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ElectionOptionsError(
      'options',
      options,
      'an object with "election" and one of "etcd" or "client"',
    );
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new ElectionOptionsError(key, options[key as keyof typeof options], unknownOption());
    }
  }

  let election = options.election ?? fixed.election;
  if (fixed.election !== undefined && options.election !== undefined) {
    if (options.election !== fixed.election) {
      throw new ElectionOptionsError(
        'election',
        options.election,
        `"${fixed.election}", the name given to forRootAsync({ election }), or no name at all`,
      );
    }
    election = fixed.election;
  }
  const candidate: CandidateOptions = {
    election: election as string,
    value: options.value === undefined ? defaultElectionValue() : options.value,
    ttl: options.ttl,
    margin: options.margin,
    requestTimeout: options.requestTimeout,
    backoff: options.backoff,
    observe: options.observe,
    maxRequestBytes: options.maxRequestBytes,
  };
  if (options.backoff !== undefined && (typeof options.backoff !== 'object' || !options.backoff)) {
    throw new ElectionOptionsError('backoff', options.backoff, 'an object { initial?, max? }');
  }
  const engine = resolveCandidateOptions(candidate);

  const { etcd, client } = options;
  if (etcd !== undefined && client !== undefined) {
    throw new ElectionOptionsError(
      'client',
      'an etcd3 client, given together with "etcd"',
      'either "etcd" (the module creates and closes the client) or "client" (yours), not both',
    );
  }
  if (client !== undefined) checkClient(client);
  else if (etcd !== undefined) checkEtcd(etcd);
  else {
    throw new ElectionOptionsError(
      'etcd',
      undefined,
      'etcd3 connection options such as { hosts: "http://127.0.0.1:2379" }, or an existing Etcd3 as "client"',
    );
  }

  const autoStart = options.autoStart ?? true;
  if (typeof autoStart !== 'boolean') {
    throw new ElectionOptionsError('autoStart', autoStart, 'true or false');
  }
  const shutdownTimeout = options.shutdownTimeout ?? 5000;
  if (
    typeof shutdownTimeout !== 'number' ||
    !(shutdownTimeout >= 0) ||
    !Number.isFinite(shutdownTimeout)
  ) {
    throw new ElectionOptionsError(
      'shutdownTimeout',
      shutdownTimeout,
      'a number of milliseconds, 0 or more',
    );
  }
  const isDefault = options.default ?? fixed.default;
  if (isDefault !== undefined && typeof isDefault !== 'boolean') {
    throw new ElectionOptionsError('default', isDefault, 'true or false');
  }

  return {
    election: candidate.election,
    candidate,
    engine,
    etcd,
    client,
    autoStart,
    shutdownTimeout,
    default: isDefault,
  };
}

function unknownOption(): string {
  return `an option name instead, one of ${OPTION_NAMES.map(name => `"${name}"`).join(', ')}`;
}

function checkEtcd(etcd: unknown): asserts etcd is IOptions {
  if (typeof etcd !== 'object' || etcd === null || Array.isArray(etcd)) {
    throw new ElectionOptionsError('etcd', etcd, 'an object of etcd3 options such as { hosts }');
  }
  const { hosts } = etcd as { hosts?: unknown };
  const valid =
    (typeof hosts === 'string' && hosts.length > 0) ||
    (Array.isArray(hosts) &&
      hosts.length > 0 &&
      hosts.every(host => typeof host === 'string' && host.length > 0));
  if (!valid) {
    throw new ElectionOptionsError(
      'etcd.hosts',
      hosts,
      'an etcd URL such as "http://127.0.0.1:2379", or a non-empty array of them',
    );
  }
}

function checkClient(client: unknown): void {
  const c = client as Partial<
    Record<'kv' | 'leaseClient' | 'watchClient' | 'if' | 'close', unknown>
  >;
  const valid =
    typeof client === 'object' &&
    client !== null &&
    typeof c.kv === 'object' &&
    typeof c.leaseClient === 'object' &&
    typeof c.watchClient === 'object' &&
    typeof c.if === 'function' &&
    typeof c.close === 'function';
  if (!valid) {
    const shown = typeof client === 'object' && client !== null ? 'an object' : client;
    throw new ElectionOptionsError('client', shown, 'an Etcd3 instance of the etcd3 package');
  }
}

/** @internal What a connection-only registration (`forRoot({ etcd })`, no election) resolves to. */
export interface ResolvedConnectionOptions {
  /** Session settings with their defaults applied (ttl, margin, requestTimeout, backoff). */
  engine: ResolvedCandidateOptions;
  etcd?: IOptions;
  client?: Etcd3;
  /** How long shutdown waits for work under locks before deleting their keys. */
  shutdownTimeout: number;
}

/** Options that only make sense with an election. */
const ELECTION_ONLY = ['value', 'observe', 'autoStart', 'default'] as const;

/**
 * @internal Validates the options of a registration without an election: the connection (`etcd`
 * or `client`) and the settings of the session that locks share.
 */
export function resolveConnectionOptions(
  options: ElectionModuleFactoryOptions,
): ResolvedConnectionOptions {
  for (const key of ELECTION_ONLY) {
    if (options[key] !== undefined) {
      throw new ElectionOptionsError(
        'election',
        undefined,
        `an election name, since "${key}" applies to an election (or leave "${key}" out to register the connection alone)`,
      );
    }
  }
  const { election: _election, ...rest } = options;
  const resolved = resolveElectionOptions({ ...rest }, { election: '(connection)' });
  return {
    engine: resolved.engine,
    etcd: resolved.etcd,
    client: resolved.client,
    shutdownTimeout: resolved.shutdownTimeout,
  };
}
