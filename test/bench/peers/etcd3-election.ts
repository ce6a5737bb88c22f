/**
 * Bench peer: the npm `etcd3` package's own `client.election(name).campaign(value)`, used as its
 * README shows (default client, default options). Prints `LEAD <value>` when elected; SIGTERM
 * resigns (etcd3 revokes the campaign's lease) and exits.
 *
 * Note that etcd3 keys its candidates `election/<name>/<decimal lease id>`, so it never shares a
 * queue with Go or with this library (DESIGN §1); the bench only times it against itself.
 *
 * Env: ETCD_HOSTS (comma-separated), ELECTION_NAME, ELECTION_VALUE, ELECTION_TTL (default 60,
 * etcd3's own default).
 */
import { Etcd3 } from 'etcd3';

const hosts = (process.env.ETCD_HOSTS ?? '127.0.0.1:2379').split(',');
const name = process.env.ELECTION_NAME ?? 'bench';
const value = process.env.ELECTION_VALUE ?? `etcd3-${process.pid}`;
const ttl = Number(process.env.ELECTION_TTL ?? 60);

const client = new Etcd3({ hosts });
const campaign = client.election(name, ttl).campaign(value);
campaign.on('elected', () => process.stdout.write(`LEAD ${value}\n`));
campaign.on('error', error => {
  process.stderr.write(`campaign error: ${String(error)}\n`);
  client.close();
  process.exit(1);
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void campaign
    .resign()
    .catch(error => process.stderr.write(`resign failed: ${String(error)}\n`))
    .finally(() => {
      client.close();
      process.exit(0);
    });
});
