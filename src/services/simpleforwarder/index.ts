// simpleforwarder: a table of actions by input port (DROP, SLOWPATH, FORWARD to a port).
// The control plane keeps the datapath's `actions` map equal to the configured list; entries
// whose ports do not exist (yet) are refused, and entries of a deleted port are dropped.
import { struct, u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./simpleforwarder.yang" with { type: "text" };

const ACTIONS: Record<string, number> = { DROP: 0, SLOWPATH: 1, FORWARD: 2 };
const actionValue = struct<{ action: number; outport: number }>(8, { action: { offset: 0, codec: u32 }, outport: { offset: 4, codec: u32 } });

interface ActionConfig {
  inport: string;
  action: string;
  outport?: string;
}

/** The map contents the configuration asks for, port id -> encoded action. Throws ServiceError on bad entries. */
export function desiredActions(actions: ActionConfig[], portIds: Map<string, number>): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const a of actions) {
    const inId = portIds.get(a.inport);
    if (inId === undefined) throw new ServiceError(`actions: inport '${a.inport}' is not a port of this cube`, 400, "invalid-value", "inport");
    const action = ACTIONS[a.action.toUpperCase()];
    if (action === undefined) throw new ServiceError(`actions: unknown action '${a.action}'`, 400, "invalid-value", "action");
    let outId = 0;
    if (action === ACTIONS.FORWARD) {
      if (!a.outport) throw new ServiceError(`actions: action FORWARD on inport '${a.inport}' needs an outport`, 400, "missing-element", "outport");
      const id = portIds.get(a.outport);
      if (id === undefined) throw new ServiceError(`actions: outport '${a.outport}' is not a port of this cube`, 400, "invalid-value", "outport");
      outId = id;
    }
    out.set(inId, actionValue.encode({ action, outport: outId }));
  }
  return out;
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("simpleforwarder");
  const map = ctx.map("actions");
  let written = new Set<number>();

  const sync = async (cfg: JsonObject, strict: boolean) => {
    const ids = new Map(ctx.ports().map((p) => [p.name, p.id]));
    let list = ((cfg.actions ?? []) as unknown as ActionConfig[]);
    // A port that was just deleted takes its actions with it instead of blocking the deletion.
    if (!strict) list = list.filter((a) => ids.has(a.inport) && (a.action.toUpperCase() !== "FORWARD" || (a.outport !== undefined && ids.has(a.outport))));
    const want = desiredActions(list, ids);
    for (const [id, v] of want) await map.set(u32.encode(id), v);
    for (const id of written) if (!want.has(id)) await map.delete(u32.encode(id));
    written = new Set(want.keys());
  };
  await sync(config, true);

  return {
    async apply(changes, cfg) {
      const actionsChanged = changes.some((c) => c.path[0]?.node === "actions");
      await sync(cfg, actionsChanged);
    },
    packetIn(pkt: PacketIn) {
      ctx.log.info(`packet received from port ${pkt.portName ?? pkt.portId}, ${pkt.data.length} bytes`);
    },
    async destroy() {
      await map.clear();
    },
  };
}

export const simpleforwarder: ServiceModule = { name: "simpleforwarder", kind: "standard", yang, createCube };
export default simpleforwarder;
