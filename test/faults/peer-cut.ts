/**
 * Cuts one etcd member off from its peers while its clients still reach it: every member
 * advertises its peer URL through a proxy of its own, and a cut black-holes the connections the
 * peers opened to the member (at its proxy) and those the member opened to its peers (at theirs,
 * told apart by the kernel's socket table: the connecting socket belongs to the member's pid).
 * Loopback only.
 */
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import type { EtcdCluster, EtcdMember } from '../support/index.js';
import { TcpProxy } from './proxy.js';

/** The pid owning the local end `127.0.0.1:<port>` of an established TCP connection. */
function ownerOf(port: number): number | undefined {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established'], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const [, , local] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${port}`)) {
      const pid = /pid=(\d+),/.exec(line)?.[1];
      if (pid) return Number(pid);
    }
  }
  return undefined;
}

/** The proxies between the members of one cluster. */
export class PeerProxies {
  private readonly proxies = new Map<string, TcpProxy>();

  /** For `startEtcd({ advertisePeerUrl })`: a proxy per member, to its listen URL. */
  readonly advertise = async (member: { name: string; peerUrl: string }): Promise<string> => {
    const proxy = await TcpProxy.start(member.peerUrl, `peer/${member.name}`);
    this.proxies.set(member.name, proxy);
    return proxy.url;
  };

  /** Cuts `member` off from every peer (both directions), until {@link heal}. */
  cut(member: EtcdMember, cluster: EtcdCluster): void {
    const pid = member.pid;
    if (pid === undefined) throw new Error(`${member.name} is not running`);
    const fromMember = (socket: Socket) =>
      socket.remotePort !== undefined && ownerOf(socket.remotePort) === pid;
    for (const other of cluster.members) {
      const proxy = this.proxies.get(other.name)!;
      if (other === member) proxy.stall();
      else proxy.stallWhere(fromMember);
    }
  }

  /** Ends the cut: held bytes flow, new connections go through. */
  heal(): void {
    for (const proxy of this.proxies.values()) proxy.heal();
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map(p => p.close()));
  }
}
