/**
 * Helpers for the Nest-layer specs: real Nest applications on a real etcd, a logger that
 * records what the library logs, and monotonic timestamps comparable across the apps of a file.
 */
import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds, comparable between every app of the process. */
export const now = (): number => performance.now();

/** One line logged through Nest's Logger. */
export interface LogLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  context?: string;
  message: string;
}

/** Records every line; prints nothing (set NEST_TEST_LOGS=1 to echo). */
export class CaptureLogger implements LoggerService {
  readonly lines: LogLine[] = [];
  private readonly echo = process.env.NEST_TEST_LOGS === '1';

  log(message: unknown, context?: string) {
    this.add('log', message, context);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.add('error', message, rest.at(-1) as string | undefined);
  }
  warn(message: unknown, context?: string) {
    this.add('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.add('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.add('verbose', message, context);
  }
  fatal(message: unknown, context?: string) {
    this.add('fatal', message, context);
  }

  /** Lines of context 'Election' whose message contains `text`. */
  election(text = ''): LogLine[] {
    return this.lines.filter(line => line.context === 'Election' && line.message.includes(text));
  }

  private add(level: LogLine['level'], message: unknown, context?: string) {
    const line = { level, context, message: String(message) };
    this.lines.push(line);
    if (this.echo) console.log(`[${level}] ${context ?? ''} ${line.message}`);
  }
}

/** Creates, initialises and (on `closeAll`) closes Nest applications; survives failures. */
export class Apps {
  private readonly apps = new Set<INestApplication>();

  constructor(private readonly logger: LoggerService) {}

  /** Compiles `metadata` into an application and runs `init()` (and `listen(0)` when asked). */
  async create(metadata: ModuleMetadata, options: { listen?: boolean } = {}) {
    const moduleRef = await Test.createTestingModule(metadata).setLogger(this.logger).compile();
    const app = moduleRef.createNestApplication({ logger: this.logger });
    this.apps.add(app);
    if (options.listen) await app.listen(0, '127.0.0.1');
    else await app.init();
    return app;
  }

  /** Closes `app` (and forgets it). */
  async close(app: INestApplication): Promise<void> {
    this.apps.delete(app);
    await app.close();
  }

  /** Closes every app still open, even if some fail to close. */
  async closeAll(): Promise<void> {
    const apps = [...this.apps];
    this.apps.clear();
    const results = await Promise.allSettled(apps.map(app => app.close()));
    const failed = results.find(r => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/** The base URL of an app started with `listen`. */
export async function baseUrl(app: INestApplication): Promise<string> {
  const url = await app.getUrl();
  return url.replace('[::1]', '127.0.0.1');
}
