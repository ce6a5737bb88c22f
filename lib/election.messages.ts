/** Every line and error text of the Nest layer, as functions: the field, the value, the fix. */
import {
  type LeaderInfo,
  type Leadership,
  type RebalanceStep,
  classifyEtcdError,
  etcdFailureCause,
} from './core/index.js';

/** Every user-facing message of the Nest layer, as functions. */

/** What `@OnLeader`, `@OnFollower` and `@LeaderOnly` are called in messages. */
export type ElectionDecoratorName = '@OnLeader' | '@OnFollower' | '@LeaderOnly';

function describeLeader(leader: LeaderInfo | undefined): string {
  return leader ? `${JSON.stringify(leader.value)} (${leader.key})` : 'unknown';
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where and how the library reaches etcd, for messages that tell what to check. */
export interface EtcdTarget {
  /** The hosts tried, as configured. */
  hosts: string[];
  /** The election's key prefix (`<name>/`). */
  prefix: string;
  /** The request timeout in milliseconds. */
  requestTimeout: number;
}

/**
 * One line that names the hosts tried, the cause in plain words, and what to check, for an
 * error from etcd.
 */
export function etcdFailureMessage(error: unknown, target?: EtcdTarget): string {
  const at = target ? `etcd at ${target.hosts.join(', ')}` : 'etcd';
  switch (classifyEtcdError(error)) {
    case 'unreachable':
      return (
        `${at} does not answer (${etcdFailureCause(error)}). ` +
        `Check the "etcd.hosts" option and that etcd is running there.`
      );
    case 'timeout':
      return (
        `${at} did not answer within ${target?.requestTimeout ?? 'the request timeout'} ms. ` +
        `Check that etcd is running and reachable there, and that the URL scheme matches ` +
        `(https:// for an etcd serving TLS).`
      );
    case 'auth-failed':
      return (
        `${at} rejected the user name or password (${etcdFailureCause(error)}). ` +
        `Check "etcd.auth" (username, password).`
      );
    case 'permission-denied':
      return (
        `${at} denies this user the election's keys (${etcdFailureCause(error)}). ` +
        `Grant its role readwrite on the prefix: ` +
        `etcdctl role grant-permission <role> --prefix=true readwrite '${target?.prefix ?? '<election>/'}'.`
      );
    case 'tls-rejected':
      return (
        `the TLS handshake with ${at} failed (${etcdFailureCause(error)}). ` +
        `Check "etcd.credentials" (rootCertificate, client certificate and key) and the https:// URLs.`
      );
    case 'no-leader':
      return (
        `${at}: the member has no raft leader (cut off from its peers, or the cluster lost ` +
        `quorum). Check the etcd cluster's health (etcdctl endpoint status --cluster).`
      );
    default:
      return `${at}: ${describeError(error)}`;
  }
}

/** The one line logged when the role, its reason, or (as follower) the known leader changes. */
export function stateChangedMessage(
  leadership: Leadership,
  lastError?: unknown,
  target?: EtcdTarget,
): string {
  const { election, role, reason } = leadership;
  const head = `[${election}] ${role} (${reason})`;
  if (role === 'leader') return `${head} key=${leadership.key} token=${leadership.revision}`;
  if (role === 'follower') {
    const lease = leadership.lease ? ` lease=${leadership.lease}` : '';
    return `${head}${lease} leader=${describeLeader(leadership.leader)}`;
  }
  if (reason === 'stopped') return `${head} left the election`;
  if (reason === 'stopping' || reason === 'starting') return head;
  return lastError === undefined ? head : `${head}: ${etcdFailureMessage(lastError, target)}`;
}

/** The first etcd error of a streak; the ones after it stay silent until the state changes. */
export function etcdErrorMessage(election: string, error: unknown, target?: EtcdTarget): string {
  return (
    `[${election}] etcd error, retrying: ${etcdFailureMessage(error, target)} ` +
    `(further errors are not logged until the state changes)`
  );
}

/** A handler threw or rejected. */
export function handlerFailedMessage(
  election: string,
  decorator: ElectionDecoratorName,
  handler: string,
  error: unknown,
): string {
  return `[${election}] ${decorator} handler ${handler} failed: ${describeError(error)}`;
}

/** Shutdown stopped waiting for leader work. */
export function drainTimedOutMessage(election: string, timeoutMs: number, pending: string[]) {
  return (
    `[${election}] leader work still running after shutdownTimeout (${timeoutMs} ms): ` +
    `${pending.join(', ')}; resigning anyway (its AbortSignal was aborted at the start of shutdown)`
  );
}

/** A handler sits on a request-scoped or transient provider, which has no instance to call. */
export function nonStaticHandlerMessage(decorator: ElectionDecoratorName, handler: string): string {
  return (
    `Cannot register ${decorator} handler ${handler}: it is defined in a non-static ` +
    `(request-scoped or transient) provider. Move it to a singleton provider.`
  );
}

/** A decorator names an election that no `ElectionModule.forRoot*` registered. */
export function unknownElectionMessage(
  decorator: string,
  where: string,
  election: string | undefined,
  known: string[],
): string {
  const which = election === undefined ? 'the default election' : `election "${election}"`;
  const list = known.length ? known.map(name => `"${name}"`).join(', ') : 'none';
  return (
    `${decorator} on ${where} refers to ${which}, which is not registered ` +
    `(registered: ${list}). Register it with ElectionModule.forRoot({ election: ... }).`
  );
}

/** `@LeaderOnly` could not tell which application's election to ask; the call is skipped. */
export function leaderOnlyUnresolvedMessage(
  method: string,
  election: string | undefined,
  candidates: number,
): string {
  const which = election === undefined ? 'the default election' : `election "${election}"`;
  const why =
    candidates === 0
      ? 'no running application registers it'
      : `${candidates} running applications in this process register it and the instance is not a provider of any`;
  return `@LeaderOnly ${method} skipped: cannot resolve ${which} (${why}).`;
}

/** The body message of the 503 a follower answers on a leader-only route. */
export function notLeaderMessage(election: string, leader: LeaderInfo | undefined): string {
  return leader
    ? `This node does not lead election "${election}"; the leader is ${JSON.stringify(leader.value)}.`
    : `This node does not lead election "${election}"; no leader is known right now.`;
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A held lock was lost (not released): its signal has aborted. */
export function lockLostMessage(name: string, key: string, token: string, reason: string) {
  return `Lock "${name}" lost (${reason}): key=${key} token=${token}; its signal was aborted`;
}

/** The first etcd error of a streak while locking; the ones after it stay silent. */
export function lockEtcdErrorMessage(error: unknown): string {
  return (
    `etcd error while locking, retrying with backoff: ${describeFailure(error)} ` +
    `(further errors are not logged until a lock is acquired)`
  );
}

/** A `@WithoutOverlapping` run could not ask etcd whether its lock is free; it is skipped. */
export function jobLockFailedMessage(label: string, name: string, error: unknown): string {
  return `@WithoutOverlapping ${label} skipped: could not lock "${name}": ${describeFailure(error)}`;
}

/**
 * A job decorator's method was called on an instance no explorer bound (not a Nest provider):
 * `missing` is what it has none of to ask (`lock service`, `election`).
 */
export function jobUnboundMessage(decorator: string, label: string, missing: string): string {
  return (
    `${decorator} ${label} skipped: the instance is not a provider of an application ` +
    `that imports ElectionModule.forRoot(), so it has no ${missing} to ask.`
  );
}

/** A method decorator was put on something that is not a method. */
export function notMethodMessage(decorator: string, where: string): string {
  return `${decorator} can only decorate methods; ${where} is not a function.`;
}

/** A job method sits on a request-scoped or transient provider, which has no instance to bind. */
export function nonStaticJobMessage(decorator: string, label: string): string {
  return (
    `Cannot bind ${decorator} ${label}: it is defined in a non-static ` +
    `(request-scoped or transient) provider. Move it to a singleton provider.`
  );
}

/** Shutdown stopped waiting for work under locks. */
export function lockDrainTimedOutMessage(timeoutMs: number, pending: string[]): string {
  return (
    `work under locks still running after shutdownTimeout (${timeoutMs} ms): ` +
    `${pending.join(', ')}; releasing anyway (their signals were aborted at the start of shutdown)`
  );
}

/** The line a balancer step writes (see `ElectionBalancer`). */
export function rebalancedMessage(step: RebalanceStep): string {
  const shares =
    `led ${step.leading} of ${step.elections} balanced elections, fair share ${step.fairShare} ` +
    `= ceil(${step.elections} / ${step.replicas} replicas)`;
  if (step.kind === 'resign') {
    return `[${step.election}] resigned to rebalance (${shares}); next in line: ${JSON.stringify(step.successor)}`;
  }
  return `[${step.election}] stepped back in the queue to rebalance (${shares})`;
}

/** The first failure of a streak of the balancer's reads of the queues. */
export function balancerErrorMessage(error: unknown): string {
  return `balancer: could not read the queues, retrying: ${describeError(error)}`;
}

/** Two `@OnOneInstance` methods of one application name the same election. */
export function duplicateOneInstanceMessage(name: string, first: string, second: string): string {
  return (
    `@OnOneInstance ${second} names election "${name}", which ${first} already uses: ` +
    `give one of them another name ({ name }), one election per job.`
  );
}

/** A job election changed state (one line per change of role). */
export function oneInstanceStateMessage(label: string, name: string, role: string, reason: string) {
  return `@OnOneInstance ${label} [${name}]: ${role} (${reason})`;
}
