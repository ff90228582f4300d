// router: a static IPv4 router. The datapath forwards (LPM route, ARP lookup, TTL decrement,
// MAC rewrite); this control plane keeps its maps equal to the configuration and handles what
// the datapath sends up: ARP (answers for its addresses, learns neighbours), packets for the
// router itself (ICMP echo), expired TTLs and missing routes (ICMP errors), and next hops not
// yet resolved: those packets wait in a queue while an ARP request goes out, and are
// re-injected on their input port once the neighbour answers.
import { be32, bytes, ipv4, mac, struct, u32 } from "../../lib/bpf/codec.ts";
import { ipv4PrefixOf, ipv4ToNumber, numberToIpv4, prefixAddress } from "../../lib/sdk/ipv4.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { applyInOrder } from "../../lib/sdk/mirror.ts";
import { ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import { ArpTable } from "./arp.ts";
import { addressFacing, buildModel, portOfAddress, pruneLearned, type RouterModel, type RouterPort } from "./model.ts";
import { ARP_REPLY, ARP_REQUEST, buildArpReply, buildArpRequest, buildEchoReply, buildIcmpError, ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST, ICMP_HOST_UNREACH, ICMP_NET_UNREACH, ICMP_TIME_EXCEEDED, parseArp, parseEthernet, parseIcmp, parseIpv4Header } from "../../lib/sdk/frames.ts";
import { DIRECT, LOCAL, RouteError, type Route } from "./routes.ts";
import { ShadowFollower } from "./shadow.ts";
import yang from "./router.yang" with { type: "text" };

export const REASON_ARP = 1;
export const REASON_ARP_LOOKUP_MISS = 2;
export const REASON_TTL_EXCEEDED = 3;
export const REASON_PKT_FOR_ROUTER = 4;
export const REASON_NO_ROUTE = 5;

/** How long packets wait for an ARP reply before they are dropped (and the sender told so). */
const ARP_WAIT_MS = 3000;

const portValue = struct<{ mac: string; pad: Uint8Array }>(8, { mac: { offset: 0, codec: mac }, pad: { offset: 6, codec: bytes(2) } });
const rtKey = struct<{ prefixlen: number; ip: string }>(8, { prefixlen: { offset: 0, codec: u32 }, ip: { offset: 4, codec: ipv4 } });
const rtValue = struct<{ nexthop: number; port: number }>(8, { nexthop: { offset: 0, codec: be32 }, port: { offset: 4, codec: u32 } });
const arpValue = struct<{ mac: string; pad: Uint8Array; port: number }>(12, {
  mac: { offset: 0, codec: mac },
  pad: { offset: 6, codec: bytes(2) },
  port: { offset: 8, codec: u32 },
});
const pad2 = new Uint8Array(2);

/** Entries of the datapath's tables (router.bpf.c). */
export const ROUTES_SIZE = 65536;

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("router");
  // Every table is kept equal to the model; a write the kernel refuses puts them all back.
  const tables = { what: "routing tables" };
  const portsMap = typedMap(ctx, "router_port", u32, portValue).mirror(tables);
  const ipsMap = typedMap(ctx, "router_ips", ipv4, u32).mirror(tables);
  const routesMap = typedMap(ctx, "routing_table", rtKey, rtValue).mirror(tables);
  const arpMap = typedMap(ctx, "arp_table", ipv4, arpValue).mirror(tables);
  const macs = new Map<string, string>();
  const arp = new ArpTable();
  let model: RouterModel;
  let lastConfig = config;
  // Shadow mode: Linux in the namespace answers ARP and the packets for the router's addresses
  // (the datapath hands them there); its routes join the table.
  const follower =
    ctx.shadow &&
    new ShadowFollower(
      ctx.shadow,
      ctx.log,
      () => sync(lastConfig),
      async (port, cidr) => {
        await ctx.reconfigure?.((cfg) => {
          const p = ((cfg.ports ?? []) as JsonObject[]).find((x) => x.name === port);
          if (p) p.ip = cidr;
        });
      },
    );

  const portIds = () => new Map(ctx.ports().map((p) => [p.name, p.id]));
  const portById = (id: number): RouterPort | undefined => [...model.ports.values()].find((p) => p.id === id);

  const arpEntries = () =>
    arp.all().flatMap((e) => {
      const port = model.ports.get(e.interface);
      return port ? [[e.ip, { mac: e.mac, pad: pad2, port: port.id }] as const] : [];
    });

  /** Makes the datapath's tables those of a model. */
  const writeModel = async (m: RouterModel) => {
    const ports = [...m.ports.values()].map((p) => [p.id, { mac: p.mac, pad: pad2 }] as const);
    const ips = [...m.ports.values()].flatMap((p) => p.addresses.map((a) => [prefixAddress(a), p.id] as const));
    const routes = m.routes.bestRoutes().map((r) => {
      const nexthop = r.nexthop === LOCAL ? 0 : ipv4ToNumber(r.nexthop);
      return [{ prefixlen: ipv4PrefixOf(r.network).len, ip: prefixAddress(r.network) }, { nexthop, port: m.ports.get(r.interface)!.id }] as const;
    });
    if (routes.length > ROUTES_SIZE) throw new ServiceError(`${routes.length} routes: the routing table holds ${ROUTES_SIZE}`, 400, "invalid-value", "route");
    await applyInOrder(
      [() => portsMap.replace(ports), () => ipsMap.replace(ips), () => routesMap.replace(routes), () => arpMap.replace(arpEntries())],
      (e) => ctx.log.error(`cannot restore the tables: ${e.message}`),
    );
  };

  // A change the kernel refuses (a full table) leaves both the model and the tables as they were.
  const sync = async (cfg: JsonObject) => {
    const next = buildModel(cfg, portIds(), macs, model as RouterModel | undefined);
    for (const r of follower?.linuxRoutes() ?? []) if (next.ports.has(r.port)) next.routes.addLinux(r.network, r.nexthop, r.port);
    const previous = model as RouterModel | undefined;
    model = next;
    pruneLearned(arp, model);
    try {
      await writeModel(next);
    } catch (e) {
      if (!previous) throw e;
      model = previous;
      await writeModel(previous).catch((again) => ctx.log.error(`cannot restore the tables: ${(again as Error).message}`));
      throw e instanceof ServiceError ? e : new ServiceError(`routing tables: ${(e as Error).message}`, 507);
    }
    lastConfig = cfg;
    await follower?.reflect(next);
  };

  /**
   * Changes of static routes only (a routing daemon's writes, one route at a time): the model
   * and the routing table change by those routes, checked as buildModel() checks them; false
   * when the changes are of another kind (then sync() takes the whole configuration). A change
   * the kernel refuses leaves the model and the table as they were.
   */
  const patchRoutes = async (changes: Change[], cfg: JsonObject): Promise<boolean> => {
    if (follower || !model) return false;
    const routes = model.routes;
    for (const c of changes) {
      const [step, leaf, ...rest] = c.path;
      const k = step?.keys;
      if (step?.node !== "route" || k?.network === undefined || k.nexthop === undefined || k.nexthop === LOCAL || rest.length) return false;
      if (leaf && (leaf.node !== "pathcost" || !routes.get(k.network, k.nexthop) || routes.get(k.network, k.nexthop)!.stale)) return false;
    }
    const prior = new Map<string, { network: string; nexthop: string; r?: Route }>();
    const touched = new Set<string>();
    try {
      for (const c of changes) {
        const { network, nexthop } = c.path[0]!.keys! as { network: string; nexthop: string };
        const where = `route ${network} via ${nexthop}`;
        let net: ReturnType<typeof ipv4PrefixOf>;
        try {
          net = ipv4PrefixOf(network);
        } catch {
          throw new ServiceError(`${where}: '${network}' is not an IPv4 network`, 400, "invalid-value", "network");
        }
        const id = `${net.network}/${net.len} ${nexthop}`;
        if (!prior.has(id)) prior.set(id, { network, nexthop, r: routes.get(network, nexthop) });
        touched.add(`${numberToIpv4(net.network)}/${net.len}`);
        if (c.path.length === 2) {
          routes.setPathcost(network, nexthop, c.after === undefined ? 1 : Number(c.after));
          continue;
        }
        if (c.op === "delete") {
          routes.removeStatic(network, nexthop);
          continue;
        }
        const r = (c.after ?? {}) as { interface?: string; pathcost?: number };
        if (net.addr !== net.network) throw new ServiceError(`${where}: ${network} has host bits set (the network is ${numberToIpv4(net.network)}/${net.len})`, 400, "invalid-value", "network");
        if (r.interface !== undefined && r.interface !== "" && !model.ports.has(r.interface))
          throw new ServiceError(`${where}: interface '${r.interface}' is not a port of this router`, 400, "invalid-value", "interface");
        try {
          routes.addStatic(network, nexthop, r.pathcost ?? 1, r.interface);
        } catch (e) {
          throw new ServiceError(`${where}: ${(e as Error).message}`, 400, "invalid-value", e instanceof RouteError ? "nexthop" : "network");
        }
      }
      const set: Array<readonly [{ prefixlen: number; ip: string }, { nexthop: number; port: number }]> = [];
      const del: Array<{ prefixlen: number; ip: string }> = [];
      let size = routesMap.raw.size;
      for (const network of touched) {
        const k = { prefixlen: Number(network.split("/")[1]), ip: prefixAddress(network) };
        const best = routes.bestFor(network);
        const had = routesMap.raw.has(rtKey.encode(k));
        size += (best ? 1 : 0) - (had ? 1 : 0);
        if (best) set.push([k, { nexthop: best.nexthop === LOCAL ? 0 : ipv4ToNumber(best.nexthop), port: model.ports.get(best.interface)!.id }]);
        else del.push(k);
      }
      if (size > ROUTES_SIZE) throw new ServiceError(`${size} routes: the routing table holds ${ROUTES_SIZE}`, 400, "invalid-value", "route");
      await routesMap.patch(set, del);
    } catch (e) {
      for (const p of [...prior.values()].reverse()) routes.restore(p.network, p.nexthop, p.r);
      throw e;
    }
    lastConfig = cfg;
    return true;
  };

  const send = (port: RouterPort, frame: Uint8Array | undefined) => (frame ? ctx.packetOut(port.id, frame) : Promise.resolve());

  /** Sends an ARP request for ip out of the port its route goes through. */
  const resolve = async (ip: string, port: RouterPort) => {
    const from = addressFacing(port, ip) ?? (port.addresses[0] && prefixAddress(port.addresses[0]));
    if (!from) return;
    ctx.log.debug(`ARP request for ${ip} on port ${port.name}`);
    await send(port, buildArpRequest(port.mac, from, ip));
  };

  const onArp = async (inPort: RouterPort, data: Uint8Array) => {
    const a = parseArp(data);
    if (!a) return;
    // Learn neighbours that are on this port's networks, from their requests and replies.
    if (a.senderIp !== "0.0.0.0" && addressFacing(inPort, a.senderIp)) {
      const learned = arp.learn(a.senderIp, a.senderMac, inPort.name);
      if (learned) await arpMap.set(a.senderIp, { mac: a.senderMac, pad: pad2, port: inPort.id });
      const waiting = arp.takePending(a.senderIp);
      for (const p of waiting) await ctx.packetOut(p.inPort, p.frame, { recirculate: true });
      if (waiting.length) ctx.log.debug(`${a.senderIp} resolved: ${waiting.length} queued packet(s) re-injected`);
    }
    // A shadow router's namespace answers for its addresses.
    if (ctx.shadow) return;
    if (a.op === ARP_REQUEST && inPort.addresses.some((x) => prefixAddress(x) === a.targetIp)) await send(inPort, buildArpReply(a, inPort.mac));
    else if (a.op !== ARP_REPLY && a.op !== ARP_REQUEST) ctx.log.debug(`ARP op ${a.op} ignored`);
  };

  /** An ICMP error back to the sender of `frame`, from the input port's address. */
  const icmpError = async (inPort: RouterPort, frame: Uint8Array, type: number, code: number) => {
    const ip = parseIpv4Header(frame);
    if (!ip) return;
    const from = addressFacing(inPort, ip.src) ?? (inPort.addresses[0] && prefixAddress(inPort.addresses[0]));
    if (!from) return;
    await send(inPort, buildIcmpError(frame, type, code, from, inPort.mac));
  };

  const onLookupMiss = async (inPort: RouterPort, frame: Uint8Array) => {
    const ip = parseIpv4Header(frame);
    if (!ip) return;
    // The slow path gets at most PCN_MAX_PKT bytes: a truncated packet still triggers the ARP
    // request, but is not queued (re-injecting it would send a damaged packet on).
    const whole = frame.length >= ip.offset + ip.totalLength;
    const route = model.routes.lookup(ip.dst);
    if (!route) return icmpError(inPort, frame, ICMP_DEST_UNREACH, ICMP_NET_UNREACH);
    const nexthop = route.nexthop === LOCAL || route.nexthop === DIRECT ? ip.dst : route.nexthop;
    const out = model.ports.get(route.interface);
    if (!out) return;
    if (!whole) {
      if (!arp.pendingCount(nexthop)) await resolve(nexthop, out);
      return;
    }
    if (arp.enqueue(nexthop, out.name, { frame: frame.slice(), inPort: inPort.id })) await resolve(nexthop, out);
  };

  const expire = async () => {
    for (const [ip, packets] of arp.expirePending(ARP_WAIT_MS)) {
      ctx.log.debug(`no ARP reply from ${ip}: ${packets.length} packet(s) dropped`);
      const first = packets[0];
      const inPort = first && portById(first.inPort);
      if (first && inPort) await icmpError(inPort, first.frame, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH);
    }
  };

  // Maps a restarted daemon adopted (docs/datapath.md, "Restarts"): the ports keep their MACs
  // (the hosts' ARP caches name them) and the learned ARP entries carry over.
  const names = new Map(ctx.ports().map((p) => [p.id, p.name]));
  for (const [id, v] of await typedMap(ctx, "router_port", u32, portValue).entries()) {
    const n = names.get(id);
    if (n) macs.set(n, v.mac);
  }
  for (const [ip, v] of await typedMap(ctx, "arp_table", ipv4, arpValue).entries()) {
    const n = names.get(v.port);
    if (n) arp.learn(ip, v.mac, n);
  }
  await sync(config);
  follower?.start();
  const timer = setInterval(() => expire().catch((e) => ctx.log.warn(`ARP queue: ${e}`)), 1000);
  timer.unref?.();

  return {
    async apply(changes, cfg) {
      if (changes.length && (await patchRoutes(changes, cfg))) return;
      await sync(cfg);
    },
    state() {
      const ports: Json[] = [...model.ports.values()].map((p) => ({ name: p.name, mac: p.mac }));
      const route: Json[] = model.routes.all().map((r) => ({ network: r.network, nexthop: r.nexthop, interface: r.interface, pathcost: r.pathcost }));
      // Static entries keep the key they were configured with ("10.0.0.7" or "10.0.0.7/32").
      const arpTable: Json[] = arp.all().map((e) => ({ address: (e.static && model.staticArp.get(e.ip)?.address) || e.ip, mac: e.mac, interface: e.interface }));
      return { ports, route, "arp-table": arpTable };
    },
    stateAt(path) {
      // One route, as state() shows it (connected routes are keyed by their port: state()).
      const [step, ...rest] = path;
      const k = step?.keys;
      if (step?.node !== "route" || rest.length || !k?.network || !k.nexthop || k.nexthop === LOCAL) return undefined;
      let r: Route | undefined;
      try {
        r = model.routes.get(k.network, k.nexthop);
      } catch {
        return undefined;
      }
      if (!r || r.network !== k.network) return {};
      return { value: { network: r.network, nexthop: r.nexthop, interface: r.interface, pathcost: r.pathcost } };
    },
    async packetIn(pkt: PacketIn) {
      const inPort = portById(pkt.portId);
      if (!inPort) return;
      const eth = parseEthernet(pkt.data);
      if (!eth) return;
      switch (pkt.reason) {
        case REASON_ARP:
          return onArp(inPort, pkt.data);
        case REASON_PKT_FOR_ROUTER: {
          const icmp = parseIcmp(pkt.data);
          const ip = parseIpv4Header(pkt.data)!;
          if (icmp?.type === ICMP_ECHO_REQUEST && portOfAddress(model, ip.dst)) return send(inPort, buildEchoReply(pkt.data, inPort.mac));
          return;
        }
        case REASON_TTL_EXCEEDED:
          return icmpError(inPort, pkt.data, ICMP_TIME_EXCEEDED, 0);
        case REASON_NO_ROUTE:
          return icmpError(inPort, pkt.data, ICMP_DEST_UNREACH, ICMP_NET_UNREACH);
        case REASON_ARP_LOOKUP_MISS:
          return onLookupMiss(inPort, pkt.data);
      }
    },
    destroy() {
      clearInterval(timer);
      follower?.stop();
    },
  };
}

export const router: ServiceModule = { name: "router", kind: "standard", yang, createCube };
export default router;
