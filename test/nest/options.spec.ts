import { hostname } from 'node:os';
import { Test } from '@nestjs/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionOptionsError,
  ElectionService,
  ValueTooLargeError,
  type ElectionModuleAsyncOptions,
  type ElectionModuleOptions,
} from '../../lib/index.js';
import { CaptureLogger } from './nest-apps.js';

// Nothing listens here; no test below lets the election start.
const etcd = { hosts: 'http://127.0.0.1:9' };
const base: ElectionModuleOptions = { etcd, election: 'options', autoStart: false };
const logs = new CaptureLogger();

async function bootstrap(imports: ReturnType<typeof ElectionModule.forRoot>[]) {
  const moduleRef = await Test.createTestingModule({ imports }).setLogger(logs).compile();
  await moduleRef.close();
}

async function failure(imports: ReturnType<typeof ElectionModule.forRoot>[]): Promise<unknown> {
  try {
    await bootstrap(imports);
  } catch (error) {
    return error;
  }
  throw new Error('the bootstrap did not fail');
}

const client = new Etcd3({ hosts: etcd.hosts });
afterAll(() => client.close());

const invalid: Array<[field: string, value: unknown, patch: Record<string, unknown>]> = [
  ['election', undefined, { election: undefined }],
  ['election', '', { election: '' }],
  ['election', 42, { election: 42 }],
  ['value', 42, { value: 42 }],
  ['ttl', 0, { ttl: 0 }],
  ['ttl', 1.5, { ttl: 1.5 }],
  ['ttl', '1.5', { ttl: '1.5' }],
  ['ttl', 'ten', { ttl: 'ten' }],
  ['margin', -1, { margin: -1 }],
  ['margin', 5000, { ttl: 2, margin: 5000 }],
  ['requestTimeout', 0, { requestTimeout: 0 }],
  ['requestTimeout', Infinity, { requestTimeout: Infinity }],
  ['backoff', 'fast', { backoff: 'fast' }],
  ['backoff.initial', 0, { backoff: { initial: 0 } }],
  ['backoff.max', 50, { backoff: { initial: 100, max: 50 } }],
  ['observe', 'yes', { observe: 'yes' }],
  ['maxRequestBytes', 100, { maxRequestBytes: 100 }],
  ['autoStart', 'no', { autoStart: 'no' }],
  ['shutdownTimeout', -1, { shutdownTimeout: -1 }],
  ['shutdownTimeout', NaN, { shutdownTimeout: NaN }],
  ['default', 'yes', { default: 'yes' }],
  ['etcd', undefined, { etcd: undefined }],
  ['etcd', 'http://127.0.0.1:2379', { etcd: 'http://127.0.0.1:2379' }],
  ['etcd.hosts', undefined, { etcd: {} }],
  ['etcd.hosts', [], { etcd: { hosts: [] } }],
  ['client', 'an object', { etcd: undefined, client: {} }],
  ['client', 'an etcd3 client, given together with "etcd"', { client }],
  ['tll', 2, { tll: 2 }],
];

describe('ElectionModule options', () => {
  it.each(invalid)('rejects %s = %o at bootstrap, naming it', async (field, value, patch) => {
    const error = await failure([ElectionModule.forRoot({ ...base, ...patch } as never)]);
    expect(error).toBeInstanceOf(ElectionOptionsError);
    const optionsError = error as ElectionOptionsError;
    expect(optionsError.field).toBe(field);
    expect(optionsError.value).toEqual(value);
    expect(optionsError.message).toContain(`"${field}"`);
    expect(optionsError.message).toMatch(/Expected .+\.$/);
  });

  it('names every allowed option when one is unknown', async () => {
    const error = (await failure([
      ElectionModule.forRoot({ ...base, tll: 2 } as never),
    ])) as ElectionOptionsError;
    expect(error.message).toContain('Invalid election option "tll": 2');
    expect(error.message).toContain('"ttl"');
  });

  it('rejects a value over the request limit before anything is written', async () => {
    const error = await failure([
      ElectionModule.forRoot({ ...base, maxRequestBytes: 1024, value: 'x'.repeat(2000) }),
    ]);
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect((error as Error).message).toContain('1024-byte request limit');
  });

  const async: Array<[field: string, options: ElectionModuleAsyncOptions]> = [
    ['forRootAsync', {}],
    ['election', { election: 'static', useFactory: () => ({ ...base, election: 'from-factory' }) }],
    ['ttl', { useFactory: async () => ({ ...base, ttl: -5 }) }],
  ];

  it.each(async)('rejects forRootAsync options: %s', async (field, options) => {
    const error = await failure([ElectionModule.forRootAsync(options)]);
    expect(error).toBeInstanceOf(ElectionOptionsError);
    expect((error as ElectionOptionsError).field).toBe(field);
  });

  it('applies the defaults', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ElectionModule.forRoot(base)],
    })
      .setLogger(logs)
      .compile();
    const service = moduleRef.get(ElectionService);
    expect(service.name).toBe('options');
    expect(service.leadership).toMatchObject({
      election: 'options',
      role: 'disconnected',
      reason: 'starting',
      value: `${hostname()}-${process.pid}`,
    });
    await moduleRef.close();
  });
});
