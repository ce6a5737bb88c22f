/** Module options of one registration resolved once: defaults applied, every field validated. */
import { hostname } from 'node:os';
import type { Etcd3, IOptions } from 'etcd3';
import {
  ElectionOptionsError,
  type ResolvedCandidateOptions,
  checkIdentity,
  resolveEngineOptions,
} from './core/index.js';
import type { ElectionEngineFactory } from './election.engines.js';
import type { ElectionModuleFactoryOptions } from './interfaces/index.js';

/**
 * @internal The key under which module options may carry the engine factory of a test double
 * (a symbol, so it is no option name and survives any copy of the library).
 */
export const ENGINE_FACTORY = Symbol.for('nestjs-etcd-election.engine-factory');

/**
 * @internal One `forRoot` / `forRootAsync` registration after defaults and validation, made once
 * (the registration's `ELECTION_RESOLVED` provider) and injected by everything that needs it.
 */
export interface ResolvedRegistration {
  /** The election name; undefined for a connection-only registration. */
  election: string | undefined;
  /** This replica's value: the one given, else `<hostname>-<pid>`. */
  value: string;
  /** Whether `value` was given (a connection-only registration's value names its jobs). */
  valueGiven: boolean;
  /** The engine settings with their defaults applied, clock included. */
  settings: ResolvedCandidateOptions;
  /** Connection options, when the module creates (and closes) the client. */
  etcd?: IOptions;
  /** The caller's client, which the module never closes. */
  client?: Etcd3;
  autoStart: boolean;
  /** How long shutdown waits for leader work, or work under locks and jobs, in milliseconds. */
  shutdownTimeout: number;
  /** Explicit `default` flag, if any. */
  default?: boolean;
  /** Spread leadership with the application's other balanced elections. */
  balance: boolean;
  /** Makes the engine instead of the core's `Candidate` (the testing module's double). */
  createEngine?: ElectionEngineFactory;
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
  'balance',
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
): ResolvedRegistration & { election: string } {
  return resolveOptions(options, fixed, true) as ResolvedRegistration & { election: string };
}

function resolveOptions(
  options: ElectionModuleFactoryOptions,
  fixed: { election?: string; default?: boolean },
  named: boolean,
): ResolvedRegistration {
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
  if (options.backoff !== undefined && (typeof options.backoff !== 'object' || !options.backoff)) {
    throw new ElectionOptionsError('backoff', options.backoff, 'an object { initial?, max? }');
  }
  // Numbers may come as the strings a ConfigService returns ('10'); the core validates them as
  // numbers, and an error names the value as it was given.
  const given = new Map<string, string>();
  const number = (field: string, value: unknown) => {
    const parsed = numericString(value);
    if (parsed === undefined) return value as number | undefined;
    given.set(field, value as string);
    return parsed;
  };
  const backoff = options.backoff && {
    ...options.backoff,
    ...('initial' in options.backoff && {
      initial: number('backoff.initial', options.backoff.initial),
    }),
    ...('max' in options.backoff && { max: number('backoff.max', options.backoff.max) }),
  };
  const engineOptions = {
    ttl: number('ttl', options.ttl),
    margin: number('margin', options.margin),
    requestTimeout: number('requestTimeout', options.requestTimeout),
    backoff: backoff as Parameters<typeof resolveEngineOptions>[0]['backoff'],
    observe: options.observe,
    maxRequestBytes: number('maxRequestBytes', options.maxRequestBytes),
  };
  const value = options.value === undefined ? defaultElectionValue() : options.value;
  // A connection-only registration has no election name: only its value is checked.
  checkIdentity(named ? election : '(connection)', value);
  let settings: ResolvedCandidateOptions;
  try {
    settings = resolveEngineOptions(engineOptions);
  } catch (error) {
    if (error instanceof ElectionOptionsError && given.has(error.field)) {
      throw new ElectionOptionsError(error.field, given.get(error.field), error.allowed);
    }
    throw error;
  }

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
  const shutdownTimeout = numericString(options.shutdownTimeout) ?? options.shutdownTimeout ?? 5000;
  if (
    typeof shutdownTimeout !== 'number' ||
    !(shutdownTimeout >= 0) ||
    !Number.isFinite(shutdownTimeout)
  ) {
    throw new ElectionOptionsError(
      'shutdownTimeout',
      options.shutdownTimeout,
      'a number of milliseconds, 0 or more',
    );
  }
  const isDefault = options.default ?? fixed.default;
  if (isDefault !== undefined && typeof isDefault !== 'boolean') {
    throw new ElectionOptionsError('default', isDefault, 'true or false');
  }

  const balance = options.balance ?? false;
  if (typeof balance !== 'boolean') {
    throw new ElectionOptionsError('balance', balance, 'true or false');
  }

  return {
    election,
    value,
    valueGiven: options.value !== undefined,
    settings,
    etcd,
    client,
    autoStart,
    shutdownTimeout,
    default: isDefault,
    balance,
    createEngine: (options as { [ENGINE_FACTORY]?: ElectionEngineFactory })[ENGINE_FACTORY],
  };
}

/**
 * The number a numeric string stands for (`'10'`, `' 2.5 '`, `'-1'`), else undefined: a string
 * that is not a plain decimal number (`''`, `'10s'`, `'0x10'`) stays a string, and is refused.
 */
function numericString(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/.test(value)) return undefined;
  return Number(value);
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

/** Options that only make sense with an election. */
const ELECTION_ONLY = ['observe', 'autoStart', 'default', 'balance'] as const;

/**
 * @internal Validates the options of a registration without an election: the connection (`etcd`
 * or `client`), the settings of the session that locks and jobs share, and `value`, this
 * replica's identity in the elections of its `@OnOneInstance` jobs.
 */
export function resolveConnectionOptions(
  options: ElectionModuleFactoryOptions,
): ResolvedRegistration & { election: undefined } {
  if (typeof options === 'object' && options !== null) {
    for (const key of ELECTION_ONLY) {
      if (options[key] !== undefined) {
        throw new ElectionOptionsError(
          'election',
          undefined,
          `an election name, since "${key}" applies to an election (or leave "${key}" out to register the connection alone)`,
        );
      }
    }
  }
  const { election: _election, ...rest } = options ?? {};
  const resolved = resolveOptions(options && { ...rest }, {}, false);
  return { ...resolved, election: undefined };
}
