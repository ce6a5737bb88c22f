import { readFile } from 'node:fs/promises';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EtcdView } from './etcd-view.js';
import type { ReplicaMetrics } from './replica-metrics.js';
import { DemoControlError, type DemoSupervisor } from './supervisor.js';

/** The page lives in the sources (no build step), next to this file's TypeScript original. */
const PUBLIC = fileURLToPath(
  new URL('../../../../sample/01-scheduler/demo/public/', import.meta.url),
);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** What the page is fed from: the processes, etcd itself, and each replica's `/metrics`. */
export interface DemoSources {
  supervisor: DemoSupervisor;
  view: EtcdView;
  metrics: ReplicaMetrics;
}

/**
 * The demo's HTTP server: the static page, a reverse proxy `/nodes/<id>/…` to each instance
 * (so the page stays same-origin), the demo-mode controls `/control/…`, and `/control/events`:
 * one server-sent event per change of the processes, of the election as etcd holds it, or of the
 * replicas' metrics. `info` is read at every frame, so the launcher may update it.
 */
export async function startDemoServer(
  sources: DemoSources,
  port: number,
  info: Record<string, unknown>,
): Promise<Server> {
  const { supervisor } = sources;
  const events = new Set<ServerResponse>();
  const broadcast = () => {
    const frame = `data: ${JSON.stringify(state(sources, info))}\n\n`;
    for (const res of events) res.write(frame);
  };
  supervisor.on('change', broadcast);
  sources.view.on('change', broadcast);
  sources.metrics.on('change', broadcast);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const nodeRoute = /^\/nodes\/([^/]+)(\/.*)$/.exec(url.pathname);
    const controlRoute = /^\/control\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
    if (nodeRoute)
      return proxy(req, res, supervisor.portOf(nodeRoute[1]), nodeRoute[2] + url.search);
    if (url.pathname === '/control/state') return json(res, 200, state(sources, info));
    if (url.pathname === '/control/events') {
      res.writeHead(200, sseHeaders());
      res.write(`data: ${JSON.stringify(state(sources, info))}\n\n`);
      events.add(res);
      req.on('close', () => events.delete(res));
      return;
    }
    if (controlRoute && req.method === 'POST') {
      return void control(supervisor, controlRoute[1], controlRoute[2]).then(
        () => json(res, 200, state(sources, info)),
        (err: unknown) =>
          json(res, err instanceof DemoControlError ? err.status : 500, {
            error: err instanceof Error ? err.message : String(err),
          }),
      );
    }
    if (req.method === 'GET') return void serveStatic(url.pathname, res);
    json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  });
  server.on('close', () => {
    supervisor.off('change', broadcast);
    sources.view.off('change', broadcast);
    sources.metrics.off('change', broadcast);
    for (const res of events) res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

/** The URL a started server answers on. */
export function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function state(sources: DemoSources, info: Record<string, unknown>) {
  return {
    ...info,
    nodes: sources.supervisor.nodes(),
    observed: sources.view.snapshot,
    metrics: sources.metrics.views(),
  };
}

async function control(supervisor: DemoSupervisor, id: string, action: string): Promise<void> {
  switch (action) {
    case 'kill':
      return supervisor.kill(id);
    case 'pause':
      return supervisor.pause(id);
    case 'resume':
      return supervisor.resume(id);
    case 'restart':
      return supervisor.restart(id);
    case 'resign':
      if (id !== 'go') throw new DemoControlError('use POST /nodes/<id>/resign for our instances');
      return supervisor.resignGo();
    default:
      throw new DemoControlError(`unknown action "${action}"`, 404);
  }
}

/** Pipes the request to the instance and its answer back, unbuffered (SSE included). */
function proxy(req: IncomingMessage, res: ServerResponse, port: number | undefined, path: string) {
  if (port === undefined) return json(res, 404, { error: 'no such instance' });
  const upstream = request(
    { host: '127.0.0.1', port, path, method: req.method, headers: req.headers },
    answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
    },
  );
  upstream.on('error', err => {
    if (!res.headersSent) json(res, 502, { error: err.message });
    else res.destroy();
  });
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

async function serveStatic(pathname: string, res: ServerResponse): Promise<void> {
  const file = normalize(join(PUBLIC, pathname === '/' ? 'index.html' : pathname));
  if (!file.startsWith(PUBLIC)) return json(res, 403, { error: 'forbidden' });
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    res.end(body);
  } catch {
    json(res, 404, { error: `not found: ${pathname}` });
  }
}

function sseHeaders() {
  return {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
