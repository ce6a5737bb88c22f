import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/index.js';
import { TcpProxy } from './proxy.js';

/** An echo server on loopback, and the client sockets tests open through the proxy. */
let echo: Server;
let echoPort: number;
const sockets: Socket[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  echo = createServer(socket => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(proxies.splice(0).map(p => p.close()));
});
afterAll(() => new Promise<void>(resolve => echo.close(() => resolve())));

async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
  proxies.push(p);
  return p;
}

/** A client through the proxy that collects what it receives and how it ended. */
function client(p: TcpProxy) {
  const socket = connect(p.port, '127.0.0.1');
  sockets.push(socket);
  const state = { received: '', error: undefined as undefined | string, closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('error', (e: NodeJS.ErrnoException) => (state.error = e.code));
  socket.on('close', () => (state.closed = true));
  return { socket, state };
}

describe('TcpProxy', () => {
  it('forwards both ways while open', async () => {
    const p = await proxy();
    const c = client(p);
    c.socket.write('hello');
    await waitFor(() => c.state.received === 'hello', { timeout: 2000, message: 'echo' });
    expect(p.connections).toBe(1);
  });

  it('stall holds bytes both ways with the socket open; heal delivers them', async () => {
    const p = await proxy();
    const c = client(p);
    c.socket.write('a');
    await waitFor(() => c.state.received === 'a', { timeout: 2000, message: 'first echo' });
    p.stall();
    c.socket.write('b');
    // Nothing to wait for: the point is that nothing arrives. A bounded observation window.
    await new Promise(resolve => setTimeout(resolve, 200));
    expect(c.state.received).toBe('a');
    expect(c.state.closed).toBe(false);
    p.heal();
    await waitFor(() => c.state.received === 'ab', { timeout: 2000, message: 'held byte echoed' });
  });

  it('a connection opened during a stall goes through on heal', async () => {
    const p = await proxy();
    p.stall();
    const c = client(p);
    c.socket.write('late');
    await new Promise(resolve => setTimeout(resolve, 100));
    expect(c.state.received).toBe('');
    p.heal();
    await waitFor(() => c.state.received === 'late', { timeout: 2000, message: 'echo after heal' });
  });

  it('drop resets every connection and refuses new ones until heal', async () => {
    const p = await proxy();
    const c = client(p);
    c.socket.write('x');
    await waitFor(() => c.state.received === 'x', { timeout: 2000, message: 'echo' });
    p.drop();
    await waitFor(() => c.state.closed, { timeout: 2000, message: 'connection reset' });
    expect(c.state.error).toBe('ECONNRESET');
    const refused = client(p);
    await waitFor(() => refused.state.closed, { timeout: 2000, message: 'new connection reset' });
    expect(refused.state.received).toBe('');
    p.heal();
    const again = client(p);
    again.socket.write('y');
    await waitFor(() => again.state.received === 'y', {
      timeout: 2000,
      message: 'echo after heal',
    });
  });
});
