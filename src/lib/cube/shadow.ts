// Shadow mode: a standard cube's Linux twin. A named network namespace `pcn-<cube>` holds one
// interface per port, named as the port; its veth peer `<cube>-<port>` stays in the root
// namespace and is the peer of the port's hidden twin (`ns_port_<port>`), so that what Linux
// sends there leaves by the port, and what the cube hands the namespace arrives there.
import { spawn, spawnSync } from "bun";
import { existsSync } from "node:fs";
import { ServiceError, type ShadowLinuxView } from "../sdk/types.ts";

export const SHADOW_NS_PREFIX = "pcn-";
export const TWIN_PREFIX = "ns_port_";
const IFNAMSIZ = 15;

function ip(args: string[]): void {
  const r = spawnSync(["ip", ...args], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

function ipQuiet(args: string[]): void {
  spawnSync(["ip", ...args], { stdout: "ignore", stderr: "ignore" });
}

async function ipJson<T>(args: string[]): Promise<T[]> {
  const p = spawn(["ip", "-j", ...args], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(p.stdout).text();
  await p.exited;
  try {
    return JSON.parse(text || "[]") as T[];
  } catch {
    return [];
  }
}

export function shadowNamespace(cube: string): string {
  return `${SHADOW_NS_PREFIX}${cube}`;
}

export function namespaceExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/** The root-namespace end of a port's veth pair. */
export function hostEnd(cube: string, port: string): string {
  return `${cube}-${port}`;
}

export class ShadowNamespace {
  private readonly ports = new Set<string>();

  private constructor(readonly cube: string, readonly name: string) {}

  /** Checks that a cube may be created with shadow=true: its namespace name is free. */
  static check(cube: string): void {
    const name = shadowNamespace(cube);
    if (namespaceExists(name)) throw new ServiceError(`Namespace ${name} already exists`, 409, "data-exists", "shadow");
  }

  static create(cube: string): ShadowNamespace {
    ShadowNamespace.check(cube);
    const ns = new ShadowNamespace(cube, shadowNamespace(cube));
    try {
      ip(["netns", "add", ns.name]);
      ip(["-n", ns.name, "link", "set", "lo", "up"]);
    } catch (e) {
      ns.destroy();
      // Linux refuses names it cannot use as a file name or device prefix.
      throw new ServiceError(`cannot create namespace ${ns.name}: ${(e as Error).message}`, 400, "invalid-value", "name");
    }
    return ns;
  }

  /** Checks a port name before anything is created for it. */
  checkPort(port: string): void {
    ShadowNamespace.checkPort(this.cube, port);
  }

  static checkPort(cube: string, port: string): void {
    if (port.includes(TWIN_PREFIX)) throw new ServiceError(`Port name cannot contain '${TWIN_PREFIX}'`, 400, "invalid-value", "name");
    const host = hostEnd(cube, port);
    if (port.length > IFNAMSIZ || host.length > IFNAMSIZ)
      throw new ServiceError(`Port ${port}: the shadow interface ${host} would be longer than ${IFNAMSIZ} characters`, 400, "invalid-value", "name");
  }

  /** Creates the port's interface in the namespace (up) and its root-namespace peer (up, IPv6 off). Returns the peer's name. */
  addPort(port: string): string {
    this.checkPort(port);
    const host = hostEnd(this.cube, port);
    try {
      ip(["link", "add", host, "type", "veth", "peer", "name", port, "netns", this.name]);
      this.ports.add(port);
      spawnSync(["sysctl", "-qw", `net.ipv6.conf.${host}.disable_ipv6=1`], { stdout: "ignore", stderr: "ignore" });
      ip(["link", "set", host, "up"]);
      ip(["-n", this.name, "link", "set", port, "up"]);
    } catch (e) {
      this.removePort(port);
      throw new ServiceError(`cannot create the shadow interface of port ${port}: ${(e as Error).message}`, 400, "invalid-value", "name");
    }
    return host;
  }

  removePort(port: string): void {
    this.ports.delete(port);
    ipQuiet(["link", "del", hostEnd(this.cube, port)]);
  }

  /** Gives a port's interface a MAC address. */
  setMac(port: string, mac: string): void {
    ip(["-n", this.name, "link", "set", port, "address", mac]);
  }

  /** Makes `want` the IPv4 addresses of a port's interface (CIDR), adding and removing the difference. */
  async setAddresses(port: string, want: string[]): Promise<void> {
    const have = (await this.linux()).addresses.get(port) ?? [];
    for (const a of have) if (!want.includes(a)) ipQuiet(["-n", this.name, "addr", "del", a, "dev", port]);
    for (const a of want) if (!have.includes(a)) ip(["-n", this.name, "addr", "add", a, "dev", port]);
  }

  /** Addresses and routes of the namespace's port interfaces. */
  async linux(): Promise<ShadowLinuxView> {
    type Addr = { ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> };
    type Route = { dst: string; gateway?: string; dev: string; protocol?: string };
    const [addrs, routes] = await Promise.all([
      ipJson<Addr>(["-n", this.name, "-4", "addr", "show"]),
      ipJson<Route>(["-n", this.name, "-4", "route", "show", "table", "main"]),
    ]);
    const addresses = new Map<string, string[]>();
    for (const a of addrs) {
      if (!this.ports.has(a.ifname)) continue;
      addresses.set(a.ifname, (a.addr_info ?? []).filter((i) => i.family === "inet").map((i) => `${i.local}/${i.prefixlen}`));
    }
    const out: ShadowLinuxView["routes"] = [];
    for (const r of routes) {
      if (!this.ports.has(r.dev)) continue;
      const network = r.dst === "default" ? "0.0.0.0/0" : r.dst.includes("/") ? r.dst : `${r.dst}/32`;
      out.push({ network, nexthop: r.gateway, dev: r.dev, proto: r.protocol ?? "" });
    }
    return { addresses, routes: out };
  }

  /** Removes the namespace; its interfaces and their veth peers go with it. */
  destroy(): void {
    for (const p of [...this.ports]) this.removePort(p);
    ipQuiet(["netns", "del", this.name]);
  }
}
