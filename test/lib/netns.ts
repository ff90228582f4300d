// Test hosts: network namespaces with a veth whose other end stays in the root namespace.
// Everything created here is named with the caller's prefix and removed by cleanup(), which
// tests call in afterAll/finally so that a failing test leaves nothing behind.
import { spawnSync } from "bun";

export function sh(cmd: string, opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0 && !opts.allowFail) throw new Error(`'${cmd}' failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return out;
}

/** Short random suffix: interface names are limited to 15 characters. */
export function suffix(): string {
  return Math.random().toString(36).slice(2, 6);
}

export interface Host {
  ns: string;
  /** The interface inside the namespace. */
  inner: string;
  /** The peer end in the root namespace (what a cube port connects to). */
  outer: string;
  ip: string;
  mac: string;
}

export class Topology {
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  readonly id = suffix();

  constructor(readonly prefix: string) {}

  /** A host namespace `<prefix><id>h<n>` with `eth0` at ip (CIDR), peered to root-side `<prefix><id><n>`. */
  host(n: number | string, cidr: string, opts: { mac?: string; gw?: string } = {}): Host {
    const ns = `${this.prefix}${this.id}h${n}`;
    const outer = `${this.prefix}${this.id}${n}`;
    sh(`ip netns add ${ns}`);
    this.namespaces.push(ns);
    sh(`ip link add ${outer} type veth peer name eth0 netns ${ns}`);
    this.links.push(outer);
    if (opts.mac) sh(`ip -n ${ns} link set eth0 address ${opts.mac}`);
    sh(`sysctl -qw net.ipv6.conf.${outer}.disable_ipv6=1`, { allowFail: true });
    sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1`, { allowFail: true });
    sh(`ip -n ${ns} addr add ${cidr} dev eth0 && ip -n ${ns} link set eth0 up && ip -n ${ns} link set lo up && ip link set ${outer} up`);
    if (opts.gw) sh(`ip -n ${ns} route add default via ${opts.gw}`);
    const mac = sh(`ip -n ${ns} -j link show eth0`);
    return { ns, inner: "eth0", outer, ip: cidr.split("/")[0]!, mac: JSON.parse(mac)[0].address };
  }

  /** A veth pair with both ends in the root namespace. */
  pair(a: string, b: string): [string, string] {
    const x = `${this.prefix}${this.id}${a}`;
    const y = `${this.prefix}${this.id}${b}`;
    sh(`ip link add ${x} type veth peer name ${y}`);
    this.links.push(x);
    for (const i of [x, y]) sh(`sysctl -qw net.ipv6.conf.${i}.disable_ipv6=1 && ip link set ${i} up`, { allowFail: true });
    return [x, y];
  }

  /** ping from a host; true if any probe was answered (ping exits 0 when a reply came back). */
  ping(from: Host, to: string, count = 2, wait = 1): boolean {
    const r = spawnSync(["ip", "netns", "exec", from.ns, "ping", "-c", String(count), "-W", String(wait), "-i", "0.2", to], { stdout: "pipe", stderr: "pipe" });
    return r.exitCode === 0;
  }

  cleanup(): void {
    for (const l of this.links) sh(`ip link del ${l}`, { allowFail: true });
    for (const ns of this.namespaces) sh(`ip netns del ${ns}`, { allowFail: true });
  }
}
