/** Warms the gRPC paths a handover takes, without writing, so the first one is not slow. */
import type { Etcd3 } from 'etcd3';
import { Transport } from './transport.js';
import { type DuplexStream, closeStream, openStream, unary } from './rpc.js';

/** A gRPC method as `@grpc/proto-loader` defines it: the codecs grpc-js calls on every message. */
interface MethodCodecs {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

type ServiceCodecs = Record<string, MethodCodecs | undefined>;

/** One message pair a handover sends and receives, on one method. */
interface Exchange {
  service: 'KV' | 'Watch' | 'Lease';
  method: string;
  request: unknown;
  response: unknown;
}

/** Environment variable that turns the start-up warm-up off (`0`), e.g. to measure what it buys. */
export const WARMUP_ENV = 'NESTJS_ETCD_ELECTION_WARMUP';

/**
 * How many times each exchange is encoded and decoded. The first round generates the codecs;
 * 200 rounds cost about 8 MiB of resident memory (the garbage grows V8's young generation).
 */
export const WARMUP_ROUNDS = 20;

const key = Buffer.from('warm-up/694d8b5a1c2e3f40');
const rangeEnd = Buffer.from('warm-up0');
const header = { cluster_id: '1', member_id: '2', revision: '1001', raft_term: '3' };
const kv = {
  key,
  create_revision: '1000',
  mod_revision: '1000',
  version: '1',
  value: Buffer.from('warm-up-value'),
  lease: '7587869013371234624',
};

/**
 * The messages of a handover, shaped as the engine builds them and etcd answers them: the
 * resign (a guarded delete), the successor's post-wait read (two ranges in one read-only txn),
 * the watch on the predecessor (create, then a DELETE event) and the lease revoke.
 */
const EXCHANGES: readonly Exchange[] = [
  {
    service: 'KV',
    method: 'Txn',
    request: {
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: '1000' }],
      success: [{ request_delete_range: { key } }],
    },
    response: {
      header,
      succeeded: true,
      responses: [{ response_delete_range: { header, deleted: '1', prev_kvs: [] } }],
    },
  },
  {
    service: 'KV',
    method: 'Txn',
    request: {
      success: [
        {
          request_range: {
            key,
            range_end: rangeEnd,
            sort_target: 'Create',
            sort_order: 'Descend',
            limit: 1,
            max_create_revision: '999',
          },
        },
        { request_range: { key } },
      ],
    },
    response: {
      header,
      succeeded: true,
      responses: [
        { response_range: { header, kvs: [], count: '0', more: false } },
        { response_range: { header, kvs: [kv], count: '1', more: false } },
      ],
    },
  },
  {
    service: 'Watch',
    method: 'Watch',
    request: { create_request: { key, start_revision: '1001' } },
    response: {
      header,
      watch_id: '0',
      events: [{ type: 'Delete', kv: { key, mod_revision: '1002' } }],
    },
  },
  {
    service: 'Watch',
    method: 'Watch',
    request: { create_request: { key, start_revision: '1001' } },
    response: { header, watch_id: '0', created: true },
  },
  {
    service: 'Lease',
    method: 'LeaseRevoke',
    request: { ID: '7587869013371234624' },
    response: { header },
  },
];

/** The codecs of `service` on `client`, or undefined for a client that is not a plain etcd3 one. */
function codecsOf(client: Etcd3, service: Exchange['service']): ServiceCodecs | undefined {
  const member = Transport.of(client)?.member;
  if (!member) return undefined;
  const stub = member.getServiceClient(service);
  return (stub.constructor as { service?: ServiceCodecs }).service;
}

/**
 * Encodes and decodes the messages of a handover in process, through the very codecs grpc-js
 * uses for `client` (etcd3's protos), so that a handover does not pay for code that runs for
 * the first time: protobufjs generates each message's encoder and decoder on first use, and V8
 * optimises them only after many calls. Sends nothing to etcd. Returns the number of
 * exchanges run (0 when `client` is not a plain etcd3 client, or its codecs are not found).
 */
export function warmUpCodecs(client: Etcd3, rounds = WARMUP_ROUNDS): number {
  const prepared: Array<{ codecs: MethodCodecs; request: unknown; response: Buffer }> = [];
  try {
    for (const exchange of EXCHANGES) {
      const codecs = codecsOf(client, exchange.service)?.[exchange.method];
      if (!codecs) continue;
      prepared.push({ codecs, ...exchange, response: codecs.responseSerialize(exchange.response) });
    }
    for (let i = 0; i < rounds; i++) {
      for (const { codecs, request, response } of prepared) {
        codecs.requestSerialize(request);
        codecs.responseDeserialize(response);
      }
    }
  } catch {
    // A client whose codecs differ from etcd3's (another version): nothing to warm.
    return 0;
  }
  return prepared.length;
}

/** Round trips of the warm-up: serializable reads (answered by the member, no raft). */
export const WARMUP_READS = 20;
/** Watch streams the warm-up opens and closes (one watch each, never an event). */
export const WARMUP_WATCHES = 5;

/**
 * Runs the request paths of a handover for real, without writing anything: unary calls
 * (serializable, count-only reads of `prefix`, answered by the member alone) and watch streams
 * opened, created and closed on `prefix`. The first calls through grpc-js and Node.js's HTTP/2
 * stack in a process are several times slower than later ones; a handover should not be one
 * of them. Failures are ignored: this is an optimisation only.
 */
export async function warmUpCalls(
  client: Etcd3,
  prefix: string,
  reads = WARMUP_READS,
  watches = WARMUP_WATCHES,
): Promise<void> {
  const key = Buffer.from(prefix);
  const context = { timeout: 2_000 };
  for (let i = 0; i < reads; i++) {
    const req = { key, serializable: true, count_only: true };
    if (!(await unary(client, 'KV', 'range', req, context).then(ok, no))) return;
  }
  for (let i = 0; i < watches; i++) {
    if (!(await watchOnce(client, key).then(ok, no))) return;
  }
}

const ok = () => true;
const no = () => false;

/** Opens a watch stream, creates one watch on `key`, and closes the stream once etcd confirms. */
async function watchOnce(client: Etcd3, key: Buffer): Promise<void> {
  const { stream } = await openStream<DuplexStream>(client, 'Watch', { timeout: 2_000 });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('warm-up watch: no answer')), 2_000);
      stream.on('data', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.on('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.write({ create_request: { key, start_revision: '0' } });
    });
  } finally {
    closeStream(stream);
  }
}

/** The codec sets warmed already: etcd3 loads its protos once per process, for every client. */
const warmed = new WeakSet<object>();

/**
 * Warms a handover's paths once per process (per etcd3 copy), on the next turn of the event loop
 * after this node's first campaign: {@link warmUpCodecs}, then {@link warmUpCalls} on `prefix`.
 * Off when `NESTJS_ETCD_ELECTION_WARMUP=0`.
 */
export function scheduleWarmUp(client: Etcd3, prefix: string): void {
  if (process.env[WARMUP_ENV] === '0') return;
  const codecs = codecsOf(client, 'KV');
  if (!codecs || warmed.has(codecs)) return;
  warmed.add(codecs);
  setImmediate(() => {
    warmUpCodecs(client);
    void warmUpCalls(client, prefix);
  }).unref();
}
