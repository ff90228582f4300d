// lbrp: reverse-proxy load balancer. The cube sits in L2 between its FRONTEND ports (clients) and
// its BACKEND port (servers): one FRONTEND port in SINGLE port_mode, several in MULTI, each with
// the `ip` of the client behind it. Connections to a service (vip, vport, proto) are DNATed in the
// datapath to one of the service's backends, picked by a hash of the flow over a table of slots
// where each backend has as many slots as its weight; the backends' replies get the vip back and
// leave through the frontend port they belong to. Everything that is not for a service (ARP
// included) crosses unchanged.
//
// The control plane keeps the datapath's tables (lbrp.bpf.c) equal to the configuration: it
// computes them whole from the configuration (tables.ts, with the port rules of ports.ts), checks
// them before anything changes, then writes what differs. A service of proto ALL is kept as its
// TCP, UDP and ICMP (port 0) entries, as the original does: the service owns its configuration
// (ownsConfig) and reports the expanded list in state(). In MULTI mode, frames from the backend
// that are neither IPv4 nor ARP come up to the slow path, which floods them to the frontends.
import { deleteAll, setAll, type Change, type CubeContext, type CubeControl, type JsonObject, type MapAccess, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./lbrp.yang" with { type: "text" };
import { checkUpdate } from "./ports.ts";
import { CONFIG_SIZE, expandServices, hex, tables, u32le, type Tables } from "./tables.ts";

/** pcn_pkt_controller reason of lbrp.bpf.c: a frame from the backend to flood to the frontends. */
export const REASON_FLOODING = 1;

/** Makes a map hold `want`: deletes what is gone, writes what is new or different. */
async function sync(map: MapAccess, have: Map<string, [Uint8Array, Uint8Array]>, want: Map<string, [Uint8Array, Uint8Array]>): Promise<void> {
  const writes = [...want.entries()].filter(([id, [, v]]) => have.get(id)?.[1] === undefined || hex(have.get(id)![1]) !== hex(v)).map(([, kv]) => kv);
  await setAll(map, writes);
  await deleteAll(map, [...have.entries()].filter(([id]) => !want.has(id)).map(([, [k]]) => k));
}

class LbrpCube implements CubeControl {
  private current: Tables = { config: new Uint8Array(CONFIG_SIZE), services: new Map(), backends: new Map(), frontends: new Map() };
  /** The services as configured, ALL expanded: what the daemon keeps (ownsConfig). */
  private services: JsonObject[] = [];

  constructor(
    private readonly ctx: CubeContext,
    private applied: JsonObject,
  ) {}

  async apply(_changes: Change[], config: JsonObject): Promise<void> {
    checkUpdate(this.applied, config);
    const next = tables(config, this.ctx.ports());
    const prev = this.current;
    // Backends first (new slots exist before a service counts them), services, the frontends,
    // then the ports; stale slots go last.
    const added = new Map([...next.backends].filter(([id]) => !prev.backends.has(id) || hex(prev.backends.get(id)![1]) !== hex(next.backends.get(id)![1])));
    await setAll(this.ctx.map("backends"), [...added.values()]);
    await sync(this.ctx.map("services"), prev.services, next.services);
    await sync(this.ctx.map("frontend_ports"), prev.frontends, next.frontends);
    await this.ctx.map("lb_config").set(u32le(0), next.config);
    await deleteAll(this.ctx.map("backends"), [...prev.backends.entries()].filter(([id]) => !next.backends.has(id)).map(([, [k]]) => k));
    this.current = next;
    this.applied = config;
    this.services = expandServices((config.service ?? []) as JsonObject[]);
  }

  /** MULTI: a frame from the backend that the datapath cannot place goes out of every frontend. */
  async packetIn(pkt: PacketIn): Promise<void> {
    if (pkt.reason !== REASON_FLOODING) return;
    for (const p of this.ctx.ports()) if (p.id !== pkt.portId) await this.ctx.packetOut(p.id, pkt.data);
  }

  state(): JsonObject {
    return this.services.length ? { service: this.services } : {};
  }
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  tables(config, ctx.ports());
  await ctx.loadDatapath("lbrp");
  const cube = new LbrpCube(ctx, config);
  await cube.apply([], config);
  return cube;
}

export const lbrp: ServiceModule = { name: "lbrp", kind: "standard", yang, createCube, ownsConfig: true };
export default lbrp;
