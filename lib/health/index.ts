/** `nestjs-etcd-election/health`: the terminus indicator, apart so terminus stays optional. */
export * from './election.health.js';
