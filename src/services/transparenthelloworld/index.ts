// transparenthelloworld: the smallest transparent service. One action per direction,
// `ingress-action` and `egress-action`: PASS (on along the chain), DROP, or SLOWPATH (to this
// control plane, which logs the packet and sends it on along the chain in its direction).
import { struct, u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./transparenthelloworld.yang" with { type: "text" };

export const ACTIONS: Record<string, number> = { DROP: 0, PASS: 1, SLOWPATH: 2 };

/** struct thw_config in transparenthelloworld.bpf.c */
export const thwConfig = struct<{ ingress: number; egress: number }>(8, {
  ingress: { offset: 0, codec: u32 },
  egress: { offset: 4, codec: u32 },
});

function actionOf(cfg: JsonObject, leaf: "ingress-action" | "egress-action"): number {
  const text = String(cfg[leaf] ?? "PASS");
  const v = ACTIONS[text.toUpperCase()];
  if (v === undefined) throw new ServiceError(`${leaf}: unknown value '${text}'`, 400, "invalid-value", leaf);
  return v;
}

export function datapathConfig(cfg: JsonObject): Uint8Array {
  return thwConfig.encode({ ingress: actionOf(cfg, "ingress-action"), egress: actionOf(cfg, "egress-action") });
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  const initial = datapathConfig(config);
  await ctx.loadDatapath("transparenthelloworld");
  const map = ctx.map("config");
  await map.set(u32.encode(0), initial);

  return {
    apply: (_changes, cfg) => map.set(u32.encode(0), datapathConfig(cfg)),
    async packetIn(pkt: PacketIn) {
      const direction = pkt.direction ?? (pkt.portId === 1 ? "EGRESS" : "INGRESS");
      await ctx.packetOutDirection(direction, pkt.data);
      ctx.log.info(`packet in event from ${direction.toLowerCase()} program`);
    },
    parentChanged(parent: string) {
      ctx.log.info(parent ? `attached to ${parent}` : "detached");
    },
  };
}

export const transparenthelloworld: ServiceModule = { name: "transparenthelloworld", kind: "transparent", yang, createCube };
export default transparenthelloworld;
