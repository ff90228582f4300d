// simpleforwarder: a table of actions by input port (DROP, SLOWPATH, FORWARD to a port).
// The control plane keeps the datapath's `actions` map equal to the configured list.
//
// As in the original: a new entry must name ports of this cube, and FORWARD needs its outport;
// an existing entry may be switched to FORWARD before its outport is set (it drops until then;
// upstream's test3 does exactly that). Entries left naming a port that was deleted afterwards
// stay in the configuration but have no effect (packets from that inport drop), and they do
// not block changes to other entries.
import { struct, u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type Change, type CubeContext, type CubeControl, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./simpleforwarder.yang" with { type: "text" };

const ACTIONS: Record<string, number> = { DROP: 0, SLOWPATH: 1, FORWARD: 2 };
/** struct action in simpleforwarder.bpf.c */
const actionValue = struct<{ action: number; outport: number }>(8, { action: { offset: 0, codec: u32 }, outport: { offset: 4, codec: u32 } });

export interface ActionConfig {
  inport: string;
  action: string;
  outport?: string;
}

/** How strictly an entry is checked: `refs` its ports must exist, `outport` FORWARD must have one. */
export interface EntryCheck {
  refs: boolean;
  outport: boolean;
}

const STRICT: EntryCheck = { refs: true, outport: true };

/**
 * The map contents the configuration asks for, port id -> encoded action. An entry that fails
 * a check it is subject to throws ServiceError; one that fails a check it is spared is left out
 * of the map (its packets drop).
 */
export function desiredActions(actions: ActionConfig[], portIds: Map<string, number>, check: (a: ActionConfig) => EntryCheck = () => STRICT): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const a of actions) {
    const c = check(a);
    const action = ACTIONS[a.action.toUpperCase()];
    if (action === undefined) throw new ServiceError(`actions: unknown action '${a.action}'`, 400, "invalid-value", "action");
    const inId = portIds.get(a.inport);
    const outId = a.outport === undefined ? undefined : portIds.get(a.outport);
    if (c.refs) {
      if (inId === undefined) throw new ServiceError(`actions: inport '${a.inport}' is not a port of this cube`, 400, "invalid-value", "inport");
      if (a.outport !== undefined && outId === undefined) throw new ServiceError(`actions: outport '${a.outport}' is not a port of this cube`, 400, "invalid-value", "outport");
    }
    if (c.outport && action === ACTIONS.FORWARD && a.outport === undefined)
      throw new ServiceError(`actions: action FORWARD on inport '${a.inport}' needs an outport`, 400, "missing-element", "outport");
    if (inId === undefined) continue;
    if (action === ACTIONS.FORWARD && outId === undefined) continue;
    out.set(inId, actionValue.encode({ action, outport: action === ACTIONS.FORWARD ? outId! : 0 }));
  }
  return out;
}

/** The checks a change calls for: entries it creates are checked in full, entries it modifies for their ports. */
export function checksFor(changes: Change[]): (a: ActionConfig) => EntryCheck {
  const created = new Set<string>();
  const modified = new Set<string>();
  for (const c of changes) {
    const inport = c.path[0]?.node === "actions" ? c.path[0].keys?.inport : undefined;
    if (inport === undefined || (c.op === "delete" && c.path.length === 1)) continue;
    (c.path.length === 1 && c.op === "create" ? created : modified).add(inport);
  }
  return (a) => ({ refs: created.has(a.inport) || modified.has(a.inport), outport: created.has(a.inport) });
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("simpleforwarder");
  const map = ctx.map("actions");
  let written = new Set<number>();

  const sync = async (cfg: JsonObject, check?: (a: ActionConfig) => EntryCheck) => {
    const ids = new Map(ctx.ports().map((p) => [p.name, p.id]));
    const want = desiredActions((cfg.actions ?? []) as unknown as ActionConfig[], ids, check);
    for (const [id, v] of want) await map.set(u32.encode(id), v);
    for (const id of written) if (!want.has(id)) await map.delete(u32.encode(id));
    written = new Set(want.keys());
  };
  await sync(config);

  return {
    apply: (changes, cfg) => sync(cfg, checksFor(changes)),
    packetIn(pkt: PacketIn) {
      ctx.log.info(`Packet received from port ${pkt.portName ?? pkt.portId}`);
    },
    async destroy() {
      await map.clear();
    },
  };
}

export const simpleforwarder: ServiceModule = { name: "simpleforwarder", kind: "standard", yang, createCube };
export default simpleforwarder;
