// The benchmark's network namespaces and veths. Every name starts with PREFIX and a per-run id;
// cleanup() removes all of them (callers run it in finally), and sweep() removes what a killed
// run may have left behind.
import { onInterrupt } from "./cleanup.ts";
import { inNs, ipNs, sh } from "./sh.ts";

export const PREFIX = "pcnb";

export interface Endpoint {
  ns: string | null;
  dev: string;
}

export class Lab {
  readonly id = Math.random().toString(36).slice(2, 6);
  private readonly namespaces: string[] = [];
  private readonly links: Endpoint[] = [];
  private readonly forget = onInterrupt(() => this.cleanup());

  /** A name unique to this run: `pcnb<id><tag>` (at most 15 characters for interfaces). */
  name(tag: string): string {
    const n = `${PREFIX}${this.id}${tag}`;
    if (n.length > 15) throw new Error(`name ${n} is longer than an interface name may be`);
    return n;
  }

  /** A new namespace with lo up and IPv6 off (no stray router solicitations in the counters). */
  netns(tag: string): string {
    const ns = this.name(tag);
    sh(`ip netns add ${ns}`);
    this.namespaces.push(ns);
    sh(`ip -n ${ns} link set lo up`);
    sh(`${inNs(ns)}sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`, { allowFail: true });
    return ns;
  }

  /** A veth pair with each end created directly in its namespace (null: the root one), both up. */
  veth(a: Endpoint, b: Endpoint): void {
    const where = (e: Endpoint) => (e.ns ? ` netns ${e.ns}` : "");
    sh(`ip link add ${a.dev}${where(a)} type veth peer name ${b.dev}${where(b)}`);
    this.links.push(a);
    for (const e of [a, b]) {
      if (!e.ns) sh(`sysctl -qw net.ipv6.conf.${e.dev}.disable_ipv6=1`, { allowFail: true });
      sh(`ip ${ipNs(e.ns)}link set ${e.dev} up`);
    }
  }

  mac(e: Endpoint): string {
    return JSON.parse(sh(`ip ${ipNs(e.ns)}-j link show dev ${e.dev}`))[0].address;
  }

  cleanup(): void {
    this.forget();
    for (const l of this.links.splice(0)) sh(`ip ${ipNs(l.ns)}link del ${l.dev}`, { allowFail: true });
    for (const ns of this.namespaces.splice(0)) sh(`ip netns del ${ns}`, { allowFail: true });
  }

  /** Removes namespaces and root-namespace links named with PREFIX (left by an earlier, killed run). */
  static sweep(): void {
    for (const line of sh("ip netns list", { allowFail: true }).split("\n")) {
      const ns = line.split(" ")[0];
      if (ns?.startsWith(PREFIX)) sh(`ip netns del ${ns}`, { allowFail: true });
    }
    for (const l of JSON.parse(sh("ip -j link show") || "[]") as Array<{ ifname: string }>) {
      if (l.ifname.startsWith(PREFIX)) sh(`ip link del ${l.ifname}`, { allowFail: true });
    }
  }
}
