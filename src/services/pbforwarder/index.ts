// pbforwarder: policy-based forwarding. Rules (by id, the lowest matching id decides) test any
// of in_port, src/dst MAC, VLAN, src/dst IPv4, L4 protocol and ports, with the others wildcards,
// and DROP, send to the slow path (which logs the packet, as the original) or FORWARD to a port.
// rules.ts reads and checks the configured rules, classify.ts is the tuple-space classifier
// (shared with the firewall through src/lib/classifier), table.ts writes it into the datapath.
import { u32 } from "../../lib/bpf/codec.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import type { CubeContext, CubeControl, JsonObject, PacketIn, ServiceModule } from "../../lib/sdk/types.ts";
import { entryKey, entryValue, tupleSet } from "./classify.ts";
import { checksFor, readRules, type Rule, type Strictness } from "./rules.ts";
import { RuleTable } from "./table.ts";
import yang from "./pbforwarder.yang" with { type: "text" };

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("pbforwarder");
  const table = new RuleTable({
    rules: typedMap(ctx, "pbf_rules", entryKey, entryValue),
    tuples: typedMap(ctx, "pbf_tuples", u32, tupleSet),
    active: typedMap(ctx, "pbf_active", u32, u32),
  });

  const sync = async (cfg: JsonObject, strict?: Strictness) => {
    const ports = new Map(ctx.ports().map((p) => [p.name, p.id]));
    const rules = readRules(cfg, ports, strict).filter((r): r is Rule => r !== null);
    await table.sync(rules);
  };
  await sync(config);

  return {
    apply: (changes, cfg) => sync(cfg, checksFor(changes)),
    packetIn(pkt: PacketIn) {
      ctx.log.info(`Packet received from port ${pkt.portName ?? pkt.portId}`);
    },
  };
}

export const pbforwarder: ServiceModule = { name: "pbforwarder", kind: "standard", yang, createCube };
export default pbforwarder;
