// The router's configuration turned into the tables the control plane and the datapath use:
// ports (addresses, MAC), routes (connected + static) and static ARP entries. Built whole
// from each validated configuration, so that a refused change leaves nothing half-applied.
import { type Ipv4Prefix, ipv4PrefixOf, ipv4ToNumber, numberToIpv4, prefixAddress, prefixMask } from "../../lib/sdk/ipv4.ts";
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";
import { ArpTable } from "./arp.ts";
import { normalizeMac, randomMac } from "../../lib/sdk/mac.ts";
import { RouteError, RouteTable } from "./routes.ts";

export interface RouterPort {
  name: string;
  id: number;
  mac: string;
  /** Primary address first, then the secondary ones, as written ("10.0.0.1/24"). */
  addresses: string[];
}

export interface RouterModel {
  ports: Map<string, RouterPort>;
  routes: RouteTable;
  /** IPv4 address -> { mac, interface, the key as configured ("10.0.0.7" or "10.0.0.7/32") } */
  staticArp: Map<string, { mac: string; interface: string; address: string }>;
}

interface PortConfig {
  name: string;
  ip?: string;
  secondaryip?: { ip: string }[];
  mac?: string;
}

interface RouteConfig {
  network: string;
  nexthop: string;
  interface?: string;
  pathcost?: number;
}

interface ArpConfig {
  address: string;
  mac: string;
  interface: string;
}

function bad(msg: string, field?: string): ServiceError {
  return new ServiceError(msg, 400, "invalid-value", field);
}

/**
 * Builds the router's tables from its configuration. `portIds` are the cube's port ids by name;
 * `macs` remembers the random MACs given to ports without one, so they stay stable; it is
 * updated only when the configuration is accepted (a refused change must not renew them).
 */
export function buildModel(cfg: JsonObject, portIds: Map<string, number>, macs: Map<string, string>, previous?: RouterModel): RouterModel {
  const ports = new Map<string, RouterPort>();
  const routes = new RouteTable();
  const owners = new Map<number, string>();
  const portMacs = new Map<string, string>();
  for (const p of (cfg.ports ?? []) as unknown as PortConfig[]) {
    const id = portIds.get(p.name);
    if (id === undefined) continue;
    let mac = p.mac?.toLowerCase();
    if (mac) {
      try {
        mac = normalizeMac(mac);
      } catch {
        throw bad(`port ${p.name}: invalid mac '${p.mac}'`, "mac");
      }
    } else {
      mac = macs.get(p.name) ?? randomMac();
    }
    portMacs.set(p.name, mac);
    const addresses = [p.ip, ...(p.secondaryip ?? []).map((s) => s.ip)].filter((a): a is string => !!a);
    for (const a of addresses) {
      let pre: Ipv4Prefix;
      try {
        pre = ipv4PrefixOf(a);
      } catch {
        throw bad(`port ${p.name}: invalid address '${a}'`, "ip");
      }
      if (pre.len < 32 && pre.addr === pre.network) throw bad(`port ${p.name}: ${a} is a network address, not a host address`, "ip");
      const other = owners.get(pre.addr);
      if (other !== undefined) throw bad(`port ${p.name}: address ${prefixAddress(a)} is already used by port ${other}`, "ip");
      owners.set(pre.addr, p.name);
      routes.addConnected(a, p.name);
    }
    ports.set(p.name, { name: p.name, id, mac, addresses });
  }

  for (const r of (cfg.route ?? []) as unknown as RouteConfig[]) {
    const where = `route ${r.network} via ${r.nexthop}`;
    let net: Ipv4Prefix;
    try {
      net = ipv4PrefixOf(r.network);
    } catch {
      throw bad(`${where}: '${r.network}' is not an IPv4 network`, "network");
    }
    // A network written with host bits would name the same route as its canonical form.
    if (net.addr !== net.network) throw bad(`${where}: ${r.network} has host bits set (the network is ${numberToIpv4(net.network)}/${net.len})`, "network");
    if (r.interface !== undefined && r.interface !== "" && !ports.has(r.interface))
      throw bad(`${where}: interface '${r.interface}' is not a port of this router`, "interface");
    try {
      routes.addStatic(r.network, r.nexthop, r.pathcost ?? 1, r.interface);
    } catch (e) {
      // A route the router already had stays when the port address that reached its next hop
      // goes (the original lets a secondary address be deleted); a new or changed route must be
      // reachable.
      const had = e instanceof RouteError && previous?.routes.all().find((o) => !o.connected && o.network === `${numberToIpv4(net.network)}/${net.len}` && o.nexthop === r.nexthop && o.pathcost === (r.pathcost ?? 1));
      // A port that goes takes no route with it: its deletion is refused while a route needs it.
      if (had && ports.has(had.interface)) {
        routes.keepStale(r.network, r.nexthop, had.pathcost, had.interface);
        continue;
      }
      if (e instanceof RouteError) throw bad(`route ${r.network} via ${r.nexthop}: ${e.message}`, "nexthop");
      throw bad(`route ${r.network} via ${r.nexthop}: ${(e as Error).message}`, "network");
    }
  }

  const staticArp = new Map<string, { mac: string; interface: string; address: string }>();
  for (const a of (cfg["arp-table"] ?? []) as unknown as ArpConfig[]) {
    let ip: string;
    try {
      ip = numberToIpv4(ipv4ToNumber(a.address.replace(/\/32$/, "")));
    } catch {
      throw bad(`arp-table: '${a.address}' is not an IPv4 host address`, "address");
    }
    if (!ports.has(a.interface)) throw bad(`arp-table ${a.address}: interface '${a.interface}' is not a port of this router`, "interface");
    if (staticArp.has(ip)) throw new ServiceError(`arp-table: ${ip} has two entries (${staticArp.get(ip)!.address} and ${a.address})`, 409, "data-exists", "address");
    let mac: string;
    try {
      mac = normalizeMac(a.mac);
    } catch {
      throw bad(`arp-table ${a.address}: invalid mac '${a.mac}'`, "mac");
    }
    staticArp.set(ip, { mac, interface: a.interface, address: a.address });
  }
  macs.clear();
  for (const [name, mac] of portMacs) macs.set(name, mac);
  return { ports, routes, staticArp };
}

/** The port address (primary or secondary) in the same network as ip, to speak ARP/ICMP from. */
export function addressFacing(port: RouterPort, ip: string): string | undefined {
  const a = ipv4ToNumber(ip);
  for (const text of port.addresses) {
    const p = ipv4PrefixOf(text);
    if (((a & prefixMask(p.len)) >>> 0) === p.network) return prefixAddress(text);
  }
  return undefined;
}

/** The port owning address ip, if any. */
export function portOfAddress(model: RouterModel, ip: string): RouterPort | undefined {
  for (const p of model.ports.values()) if (p.addresses.some((a) => prefixAddress(a) === ip)) return p;
  return undefined;
}

/** Keeps the learned entries that still make sense with the new model (their port still has that network). */
export function pruneLearned(arp: ArpTable, model: RouterModel): void {
  for (const e of arp.all()) {
    if (e.static) {
      if (!model.staticArp.has(e.ip)) arp.removeStatic(e.ip);
      continue;
    }
    const port = model.ports.get(e.interface);
    if (!port || !addressFacing(port, e.ip)) arp.forgetPort(e.interface);
  }
  for (const [ip, s] of model.staticArp) arp.setStatic(ip, s.mac, s.interface);
}
