/**
 * A TCP proxy on loopback between one candidate and one etcd member, to cut the candidate off
 * while etcd itself stays healthy. Controlled in-process:
 *
 * - {@link TcpProxy.stall}: a black hole. No byte is forwarded either way, sockets stay open,
 *   new connections are accepted but not connected through. Like a network partition, the bytes
 *   sent meanwhile are held (as TCP would keep retransmitting them) and delivered on heal.
 * - {@link TcpProxy.drop}: every connection is reset and new ones are reset on accept, until heal.
 * - {@link TcpProxy.heal}: forwarding resumes; held bytes flow.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { LOOPBACK } from '../support/index.js';

/** What the proxy does with traffic right now. */
export type ProxyMode = 'open' | 'stalled' | 'dropped';

/** Where a proxy forwards to. */
export interface ProxyTarget {
  host: string;
  port: number;
}

/** Parses `http://host:port` (an etcd client URL) or `host:port`. */
export function parseTarget(url: string): ProxyTarget {
  const { hostname, port } = new URL(url.includes('://') ? url : `tcp://${url}`);
  return { host: hostname, port: Number(port) };
}

/** One client connection and its upstream twin, forwarding both ways unless stalled. */
class Pipe {
  private upstream?: Socket;
  private readonly held: { toUpstream: Buffer[]; toClient: Buffer[] } = {
    toUpstream: [],
    toClient: [],
  };
  private stalled = false;
  private closed = false;

  constructor(
    private readonly client: Socket,
    private readonly target: ProxyTarget,
    private readonly onClose: (pipe: Pipe) => void,
    stalled: boolean,
  ) {
    client.setNoDelay(true);
    client.on('data', chunk => this.forward(chunk, 'toUpstream'));
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    client.on('end', () => this.upstream?.end());
    if (stalled) this.stall();
    else this.connectUpstream();
  }

  /** The accepted (client-side) socket. */
  get socket(): Socket {
    return this.client;
  }

  stall(): void {
    this.stalled = true;
    this.client.pause();
    this.upstream?.pause();
  }

  heal(): void {
    if (this.closed) return;
    this.stalled = false;
    if (!this.upstream) {
      this.connectUpstream();
    } else {
      this.flush();
      this.upstream.resume();
    }
    this.client.resume();
  }

  /** Resets both sides (RST where possible, as a dropped connection looks to its peers). */
  destroy(reset = false): void {
    if (this.closed) return;
    this.closed = true;
    for (const socket of [this.client, this.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.held.toClient.length = 0;
    this.held.toUpstream.length = 0;
    this.onClose(this);
  }

  private connectUpstream(): void {
    const upstream = connect({ host: this.target.host, port: this.target.port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('data', chunk => this.forward(chunk, 'toClient'));
    upstream.on('error', () => this.destroy(true));
    upstream.on('close', () => this.destroy());
    upstream.on('end', () => this.client.end());
    upstream.on('connect', () => {
      if (this.stalled) upstream.pause();
      else this.flush();
    });
  }

  private forward(chunk: Buffer, direction: 'toUpstream' | 'toClient'): void {
    const to = direction === 'toUpstream' ? this.upstream : this.client;
    if (this.stalled || !to || to.connecting) {
      this.held[direction].push(chunk);
      return;
    }
    to.write(chunk);
  }

  private flush(): void {
    const upstream = this.upstream;
    if (!upstream || upstream.connecting) return;
    for (const chunk of this.held.toUpstream.splice(0)) upstream.write(chunk);
    for (const chunk of this.held.toClient.splice(0)) this.client.write(chunk);
  }
}

/** A controllable TCP proxy on 127.0.0.1; see the module comment. */
export class TcpProxy {
  private readonly pipes = new Set<Pipe>();
  private current: ProxyMode = 'open';
  private matcher?: (socket: Socket) => boolean;
  private accepted = 0;

  private constructor(
    private readonly server: Server,
    /** Where traffic goes. */
    readonly target: ProxyTarget,
    /** A label for logs and fault tables. */
    readonly label: string,
  ) {}

  /** Listens on a free loopback port and forwards to `target` (`http://host:port` or parsed). */
  static async start(target: string | ProxyTarget, label = 'proxy'): Promise<TcpProxy> {
    const to = typeof target === 'string' ? parseTarget(target) : target;
    const server = createServer({ noDelay: true });
    const proxy = new TcpProxy(server, to, label);
    server.on('connection', socket => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: LOOPBACK }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>`: give this to the candidate instead of etcd's URL. */
  get url(): string {
    return `http://${LOOPBACK}:${this.port}`;
  }

  /** The current mode. */
  get mode(): ProxyMode {
    return this.current;
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.pipes.size;
  }

  /** Connections accepted since start (including refused ones). */
  get acceptedConnections(): number {
    return this.accepted;
  }

  /** Stops forwarding both ways; keeps every socket open (a black hole). */
  stall(): void {
    this.current = 'stalled';
    for (const pipe of this.pipes) pipe.stall();
  }

  /**
   * A black hole for the connections `match` picks, open or new, until {@link heal}; the others
   * flow on (a partition between some of the proxy's clients and its target).
   */
  stallWhere(match: (socket: Socket) => boolean): void {
    this.matcher = match;
    for (const pipe of this.pipes) if (match(pipe.socket)) pipe.stall();
  }

  /** Resets every connection and every new one, until {@link heal}. */
  drop(): void {
    this.current = 'dropped';
    for (const pipe of [...this.pipes]) pipe.destroy(true);
  }

  /** Back to normal: held bytes are delivered, new connections go through. */
  heal(): void {
    this.current = 'open';
    this.matcher = undefined;
    for (const pipe of this.pipes) pipe.heal();
  }

  /** Closes the listener and every connection. Idempotent. */
  async close(): Promise<void> {
    for (const pipe of [...this.pipes]) pipe.destroy();
    if (!this.server.listening) return;
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.accepted++;
    if (this.current === 'dropped') {
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    const pipe = new Pipe(
      socket,
      this.target,
      closed => this.pipes.delete(closed),
      this.current === 'stalled' || (this.matcher?.(socket) ?? false),
    );
    this.pipes.add(pipe);
  }
}

/**
 * One candidate's links to every member of a cluster (one proxy per member), faulted together:
 * the candidate is cut off from all of etcd while etcd stays healthy.
 */
export class ProxyLink {
  private constructor(
    /** One proxy per member, in the cluster's member order. */
    readonly proxies: readonly TcpProxy[],
  ) {}

  /** Starts one proxy per endpoint. */
  static async start(endpoints: readonly string[], label = 'link'): Promise<ProxyLink> {
    const proxies = await Promise.all(
      endpoints.map((endpoint, i) => TcpProxy.start(endpoint, `${label}/${i + 1}`)),
    );
    return new ProxyLink(proxies);
  }

  /** The proxies' URLs: the candidate's `ETCD_HOSTS`. */
  get urls(): string[] {
    return this.proxies.map(p => p.url);
  }

  /** The mode of the link (of its first proxy; all change together). */
  get mode(): ProxyMode {
    return this.proxies[0]?.mode ?? 'open';
  }

  stall(): void {
    for (const proxy of this.proxies) proxy.stall();
  }

  drop(): void {
    for (const proxy of this.proxies) proxy.drop();
  }

  heal(): void {
    for (const proxy of this.proxies) proxy.heal();
  }

  async close(): Promise<void> {
    await Promise.all(this.proxies.map(p => p.close()));
  }
}
