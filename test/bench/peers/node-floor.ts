/**
 * Bench reference, not an election: the least a Node.js process can do for a handover over the
 * same transport (etcd3 / grpc-js). It puts `<name>/<value>`; if an older key exists it watches
 * that one key and, on its DELETE, prints `LEAD <value>` at once — no re-read, no lease, no
 * safety check, correct only for a queue of two. SIGTERM deletes its key (one Txn) and exits.
 *
 * Timed like the others, it shows what any Node process pays for one signal, one write, one
 * watch event and one line, i.e. how much of a handover sits in the runtime and transport.
 *
 * Env: ETCD_HOSTS (comma-separated), ELECTION_NAME, ELECTION_VALUE.
 */
import { Etcd3 } from 'etcd3';

const hosts = (process.env.ETCD_HOSTS ?? '127.0.0.1:2379').split(',');
const name = process.env.ELECTION_NAME ?? 'bench';
const value = process.env.ELECTION_VALUE ?? `floor-${process.pid}`;
const prefix = Buffer.from(`${name}/`);
const prefixEnd = Buffer.from(`${name}0`); // '/' + 1
const key = Buffer.from(`${name}/${value}`);

const client = new Etcd3({ hosts });
const lead = () => process.stdout.write(`LEAD ${value}\n`);
// Nothing else holds the event loop open: grpc-js does not, for an idle channel.
const alive = setInterval(() => undefined, 1 << 30);

process.on('SIGTERM', () => {
  void client.kv
    .txn({ success: [{ request_delete_range: { key } }] })
    .catch(error => process.stderr.write(`delete failed: ${String(error)}\n`))
    .finally(() => {
      clearInterval(alive);
      client.close();
      process.exit(0);
    });
});

const put = await client.kv.put({ key, value: Buffer.from(value) });
const mine = BigInt(put.header.revision);
const res = await client.kv.range({
  key: prefix,
  range_end: prefixEnd,
  sort_target: 'Create',
  sort_order: 'Descend',
  limit: 1,
  max_create_revision: String(mine - 1n),
});
const predecessor = res.kvs[0];
if (!predecessor) {
  lead();
} else {
  const stream = await client.watchClient.watch();
  stream.on('error', () => undefined);
  stream.on('data', watched => {
    if (watched.events.some(event => event.type === 'Delete')) lead();
  });
  stream.write({
    create_request: { key: predecessor.key, start_revision: res.header.revision },
  });
}
