// helloworld: the smallest standard service. At most two ports; `action` says what happens to
// every packet: DROP, FORWARD (out of the other port, in the kernel) or SLOWPATH (to this
// control plane, which logs it and goes no further, as the original's).
import { struct, u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./helloworld.yang" with { type: "text" };

export const MAX_PORTS = 2;
export const ACTIONS: Record<string, number> = { DROP: 0, SLOWPATH: 1, FORWARD: 2 };
const NO_PORT = 0xffffffff;

/** struct hw_config in helloworld.bpf.c */
export const hwConfig = struct<{ action: number; port0: number; port1: number }>(12, {
  action: { offset: 0, codec: u32 },
  port0: { offset: 4, codec: u32 },
  port1: { offset: 8, codec: u32 },
});

/** The datapath's configuration for an action and a port set; refuses more than two ports. */
export function datapathConfig(action: string, ports: Array<{ id: number }>): Uint8Array {
  if (ports.length > MAX_PORTS) throw new ServiceError(`helloworld supports at most ${MAX_PORTS} ports`, 400, "invalid-value", "ports");
  const value = ACTIONS[action.toUpperCase()];
  if (value === undefined) throw new ServiceError(`action: unknown value '${action}'`, 400, "invalid-value", "action");
  const ids = ports.map((p) => p.id).sort((a, b) => a - b);
  return hwConfig.encode({ action: value, port0: ids[0] ?? NO_PORT, port1: ids[1] ?? NO_PORT });
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  // Refuse before loading anything: the daemon removes the ports it added for this request.
  datapathConfig(String(config.action ?? "DROP"), ctx.ports());
  await ctx.loadDatapath("helloworld");
  const map = ctx.map("config");
  const sync = (cfg: JsonObject) => map.set(u32.encode(0), datapathConfig(String(cfg.action ?? "DROP"), ctx.ports()));
  await sync(config);

  return {
    // Ports are already in place when this runs; throwing puts the previous set back.
    apply: (_changes, cfg) => sync(cfg),
    packetIn(pkt: PacketIn) {
      ctx.log.info(`packet arrived to the slowpath from port ${pkt.portName ?? pkt.portId}`);
    },
  };
}

export const helloworld: ServiceModule = { name: "helloworld", kind: "standard", yang, createCube };
export default helloworld;
