/**
 * Bench process: loads, one stage at a time, what the sample app has on top of the same app
 * without `ElectionModule`, and prints the resident set size after each stage (after forced
 * garbage collections; run with `--expose-gc`):
 *
 *   STAGE <name> <rss bytes> <heap used bytes>
 *
 * Env: ETCD_HOSTS (comma-separated): the last stage connects and leads an election there.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc;

async function stage(name: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise(resolve => setTimeout(resolve, 30));
  }
  const { rss, heapUsed } = process.memoryUsage();
  process.stdout.write(`STAGE ${name} ${rss} ${heapUsed}\n`);
}

// What the app without ElectionModule loads too: Nest, its HTTP platform, schedule, terminus.
require('reflect-metadata');
for (const m of [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/schedule',
  '@nestjs/terminus',
  'rxjs',
]) {
  require(m);
}
await stage('base');
require('@grpc/grpc-js');
await stage('grpc-js');
require('protobufjs');
require('@grpc/proto-loader');
await stage('protobufjs');
require('etcd3');
await stage('etcd3');
await import('../../../lib/index.js');
await import('../../../lib/health/index.js');
const core = await import('../../../lib/core/index.js');
await stage('library');
require('prom-client');
require('@willsoto/nestjs-prometheus');
await import('../../../lib/metrics/index.js');
await stage('metrics');
const client = core.createEtcdClient({ hosts: (process.env.ETCD_HOSTS ?? '').split(',') });
const candidate = new core.Candidate(client, {
  election: `memory-stages-${process.pid}`,
  value: 'x',
  settings: core.resolveEngineOptions({}),
});
candidate.start();
await candidate.waitForLeadership({ timeout: 20_000 });
await new Promise(resolve => setTimeout(resolve, 300));
await stage('connected');
await candidate.stop();
client.close();
process.exit(0);
