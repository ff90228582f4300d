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
import { ipv4, u32 } from "../../lib/bpf/codec.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { applyInOrder, type MapMirror } from "../../lib/sdk/mirror.ts";
import type { Change, CubeContext, CubeControl, JsonObject, PacketIn, ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./lbrp.yang" with { type: "text" };
import { checkUpdate } from "./ports.ts";
import { backendValue, expandServices, lbConf, slotKey, svcKey, svcValue, tables } from "./tables.ts";

/** pcn_pkt_controller reason of lbrp.bpf.c: a frame from the backend to flood to the frontends. */
export const REASON_FLOODING = 1;

class LbrpCube implements CubeControl {
  /** The datapath's tables, each kept equal to the configuration (codecs checked against lbrp.bpf.c). */
  private readonly maps: Record<"config" | "services" | "backends" | "frontends", MapMirror>;
  /** The services as configured, ALL expanded: what the daemon keeps (ownsConfig). */
  private services: JsonObject[] = [];

  constructor(
    private readonly ctx: CubeContext,
    private applied: JsonObject,
  ) {
    this.maps = {
      config: typedMap(ctx, "lb_config", u32, lbConf).rawMirror(),
      services: typedMap(ctx, "services", svcKey, svcValue).rawMirror(),
      backends: typedMap(ctx, "backends", slotKey, backendValue).rawMirror(),
      frontends: typedMap(ctx, "frontend_ports", ipv4, u32).rawMirror(),
    };
  }

  async apply(_changes: Change[], config: JsonObject): Promise<void> {
    checkUpdate(this.applied, config);
    const next = tables(config, this.ctx.ports());
    const m = this.maps;
    // Backends first (new slots exist before a service counts them), services, the frontends,
    // then the ports; stale slots go last. A refused write puts every table back.
    await applyInOrder(
      [
        () => m.backends.replace(next.backends.values(), { keep: true }),
        () => m.services.replace(next.services.values()),
        () => m.frontends.replace(next.frontends.values()),
        () => m.config.replace([[u32.encode(0), next.config]]),
        () => m.backends.replace(next.backends.values()),
      ],
      (e) => this.ctx.log.error(`cannot restore the tables: ${e.message}`),
    );
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
