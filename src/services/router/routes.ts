// The router's routing table: connected routes (one per port address, nexthop "local") and
// static routes, longest-prefix match with path cost as the tie-breaker.
//
// This is the control plane's model; the datapath gets only the best route of each network
// (see bestRoutes), in an LPM trie.

import { ipv4PrefixOf, ipv4ToNumber, numberToIpv4, prefixMask } from "../../lib/sdk/ipv4.ts";

export const LOCAL = "local";
/** The next hop of a direct route Linux added in a shadow router's namespace (no gateway). */
export const DIRECT = "0.0.0.0";

export interface Route {
  /** Network in canonical text, host bits cleared: "10.0.0.0/24". */
  network: string;
  /** "local" for connected routes, else the next hop's address. */
  nexthop: string;
  interface: string;
  pathcost: number;
  connected: boolean;
  /**
   * A static route kept after its next hop stopped being reachable (the port address that
   * served it was deleted): still configured and shown, as in the original, but not used to
   * forward until an address reaches the next hop again.
   */
  stale?: boolean;
}

export class RouteError extends Error {}

function canonical(network: string): { text: string; net: number; len: number } {
  const p = ipv4PrefixOf(network);
  return { text: `${numberToIpv4(p.network)}/${p.len}`, net: p.network, len: p.len };
}

const key = (network: string, nexthop: string) => `${network} ${nexthop}`;

export class RouteTable {
  private readonly routes = new Map<string, Route>();
  /** The same routes by network, and the connected ones: a change of one route costs what it changes. */
  private readonly byNetwork = new Map<string, Map<string, Route>>();
  private readonly connected = new Map<string, Route>();

  private put(k: string, r: Route): void {
    this.drop(k);
    this.routes.set(k, r);
    let m = this.byNetwork.get(r.network);
    if (!m) this.byNetwork.set(r.network, (m = new Map()));
    m.set(k, r);
    if (r.connected) this.connected.set(k, r);
  }

  private drop(k: string): boolean {
    const r = this.routes.get(k);
    if (!r) return false;
    this.routes.delete(k);
    const m = this.byNetwork.get(r.network);
    m?.delete(k);
    if (m && !m.size) this.byNetwork.delete(r.network);
    this.connected.delete(k);
    return true;
  }

  /** The static route of a network (any form) and next hop, if any. */
  get(network: string, nexthop: string): Route | undefined {
    return this.routes.get(key(canonical(network).text, nexthop));
  }

  /** Puts back what get() returned before a change (undefined: the route did not exist). */
  restore(network: string, nexthop: string, r: Route | undefined): void {
    const k = key(canonical(network).text, nexthop);
    if (r) this.put(k, r);
    else this.drop(k);
  }

  /** The route the datapath uses for one network (canonical text), as bestRoutes() picks it. */
  bestFor(network: string): Route | undefined {
    let b: Route | undefined;
    for (const r of this.byNetwork.get(network)?.values() ?? []) if (!r.stale && (!b || r.pathcost < b.pathcost)) b = r;
    return b;
  }

  /** Adds the connected route of a port address ("10.0.0.1/24"). Returns it. */
  addConnected(address: string, port: string): Route {
    const c = canonical(address);
    const r: Route = { network: c.text, nexthop: LOCAL, interface: port, pathcost: 0, connected: true };
    this.put(key(r.network, LOCAL + " " + port), r);
    return r;
  }

  removeConnected(address: string, port: string): void {
    this.drop(key(canonical(address).text, LOCAL + " " + port));
  }

  /**
   * Adds a static route. The next hop must be reachable through a connected route; the
   * interface, when given, must be that route's port. Throws RouteError naming what is wrong.
   */
  addStatic(network: string, nexthop: string, pathcost = 1, iface?: string): Route {
    const c = canonical(network);
    ipv4ToNumber(nexthop);
    const via = this.connectedFor(nexthop);
    if (!via) throw new RouteError(`nexthop ${nexthop} is not reachable through any port's network`);
    if (iface && iface !== via.interface) throw new RouteError(`nexthop ${nexthop} is reachable through port ${via.interface}, not ${iface}`);
    const r: Route = { network: c.text, nexthop, interface: via.interface, pathcost, connected: false };
    this.put(key(r.network, nexthop), r);
    return r;
  }

  /**
   * Adds a route Linux has in a shadow router's namespace (path cost 1, as the original gives
   * them): through `nexthop`, or straight out of `port` ("0.0.0.0") when it has none. A route
   * already configured for the same network and next hop is kept as it is. Returns it, or
   * undefined when it was not added.
   */
  addLinux(network: string, nexthop: string | undefined, port: string): Route | undefined {
    const c = canonical(network);
    const via = nexthop ?? DIRECT;
    if (this.routes.has(key(c.text, via))) return undefined;
    const r: Route = { network: c.text, nexthop: via, interface: port, pathcost: 1, connected: false };
    this.put(key(r.network, via), r);
    return r;
  }

  /** Keeps a configured static route whose next hop no port reaches any more (see Route.stale). */
  keepStale(network: string, nexthop: string, pathcost: number, iface: string): Route {
    const r: Route = { network: canonical(network).text, nexthop, interface: iface, pathcost, connected: false, stale: true };
    this.put(key(r.network, nexthop), r);
    return r;
  }

  /** Removes a static route; connected routes cannot be removed this way. */
  removeStatic(network: string, nexthop: string): boolean {
    if (nexthop === LOCAL) throw new RouteError(`route ${network} via local is a connected route and cannot be deleted`);
    return this.drop(key(canonical(network).text, nexthop));
  }

  setPathcost(network: string, nexthop: string, pathcost: number): void {
    const r = this.routes.get(key(canonical(network).text, nexthop));
    if (!r || r.connected) throw new RouteError(`no static route ${network} via ${nexthop}`);
    this.put(key(r.network, nexthop), { ...r, pathcost });
  }

  all(): Route[] {
    return [...this.routes.values()];
  }

  /** Longest-prefix match; among equal prefixes the lowest path cost (connected routes win at 0). */
  lookup(ip: string): Route | undefined {
    const a = ipv4ToNumber(ip);
    let best: Route | undefined;
    let bestLen = -1;
    for (const r of this.routes.values()) {
      if (r.stale) continue;
      const c = canonical(r.network);
      if (((a & prefixMask(c.len)) >>> 0) !== c.net) continue;
      if (c.len > bestLen || (c.len === bestLen && r.pathcost < best!.pathcost)) {
        best = r;
        bestLen = c.len;
      }
    }
    return best;
  }

  /** The route the datapath uses for each network: the lowest path cost. */
  bestRoutes(): Route[] {
    const best = new Map<string, Route>();
    for (const r of this.routes.values()) {
      if (r.stale) continue;
      const b = best.get(r.network);
      if (!b || r.pathcost < b.pathcost) best.set(r.network, r);
    }
    return [...best.values()];
  }

  private connectedFor(ip: string): Route | undefined {
    const a = ipv4ToNumber(ip);
    let best: Route | undefined;
    let bestLen = -1;
    for (const r of this.connected.values()) {
      const c = canonical(r.network);
      if (((a & prefixMask(c.len)) >>> 0) === c.net && c.len > bestLen) {
        best = r;
        bestLen = c.len;
      }
    }
    return best;
  }
}
