/**
 * Free TCP port discovery on the loopback interface.
 *
 * A port is found by listening on port 0 (the kernel picks one), reading it back and closing the
 * listener. There is an unavoidable window between closing and the real server binding the port,
 * so callers that spawn servers (see `etcd.ts`) retry on `address already in use`.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Host every harness server binds to. */
export const LOOPBACK = '127.0.0.1';

/**
 * Ports handed out by this process, so that two calls never return the same port even if the
 * kernel recycles it between calls. Shared across module instances in the same process.
 */
const handedOut: Set<number> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.test.ports')
] ??= new Set<number>()) as Set<number>;

/** How many handed-out ports are remembered (oldest forgotten first). */
const MAX_REMEMBERED = 2048;

function listenOnZero(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: LOOPBACK, exclusive: true }, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise(resolve => server.close(() => resolve()));
}

/** Returns a currently free TCP port on 127.0.0.1 (never one already returned by this process). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/**
 * Returns `n` distinct, currently free TCP ports on 127.0.0.1. All listeners are held open at the
 * same time before closing, so the ports are guaranteed distinct from each other.
 */
export async function freePorts(n: number): Promise<number[]> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`freePorts: invalid count ${n}`);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    let attempts = 0;
    while (ports.length < n) {
      if (++attempts > n * 20 + 20) throw new Error(`freePorts: could not find ${n} free ports`);
      const server = await listenOnZero();
      held.push(server);
      const { port } = server.address() as AddressInfo;
      if (handedOut.has(port)) continue; // keep it held so the kernel gives us another one
      handedOut.add(port);
      ports.push(port);
      if (handedOut.size > MAX_REMEMBERED) {
        // forget the oldest port (Sets iterate in insertion order) so long soaks never run dry
        handedOut.delete(handedOut.values().next().value as number);
      }
    }
    return ports;
  } finally {
    await Promise.all(held.map(closeServer));
  }
}
