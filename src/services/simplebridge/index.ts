// simplebridge: a learning bridge. The datapath learns source MACs and forwards known
// destinations; unknown and broadcast destinations come to this slow path (reason FLOODING),
// which sends a copy out of every other UP port. Static entries (fdb/entry in the
// configuration) are written with the static flag and are never learned over or aged.
import { u32 } from "../../lib/bpf/codec.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { deleteAll, ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import { ageOf, bootSeconds, bridgeConfig, DEFAULT_AGING_TIME, ENTRY_STATIC, FDB_SIZE, fdbKey, fdbValue, isExpired } from "./fdb.ts";
import yang from "./simplebridge.yang" with { type: "text" };

export const REASON_FLOODING = 1;
/** How often expired learned entries are removed from the map (the datapath ignores them anyway). */
const SWEEP_INTERVAL_MS = 5000;

interface EntryConfig {
  address: string;
  port: string;
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("simplebridge");
  const table = typedMap(ctx, "fwdtable", fdbKey, fdbValue);
  const fdb = table.raw;
  const cfgMap = typedMap(ctx, "config", u32, bridgeConfig);
  let agingTime = -1;
  /** The static entries: configuration, beside what the datapath learns in the same map. */
  const statics = table.mirror({ what: "fdb" });
  const pad = new Uint8Array(2);
  let portSet = "";

  const portName = (id: number) => ctx.ports().find((p) => p.id === id)?.name;

  // Only what changed goes to the kernel: a cube with 10k static entries takes one entry's
  // change without rewriting the others. A change the table cannot take (learned entries fill
  // it) is refused whole (507).
  // Every static entry names a port of the cube: a port that entries name is not deleted
  // before them (else the entries would stay in the configuration with no map entry).
  const sync = async (cfg: JsonObject) => {
    const fdbCfg = (cfg.fdb ?? {}) as JsonObject;
    const aging = Number(fdbCfg["aging-time"] ?? DEFAULT_AGING_TIME);
    const ids = new Map(ctx.ports().map((p) => [p.name, p.id]));
    const want = new Map<string, number>();
    for (const e of (fdbCfg.entry ?? []) as unknown as EntryConfig[]) {
      const id = ids.get(e.port);
      if (id === undefined) throw new ServiceError(`fdb entry ${e.address}: port '${e.port}' is not a port of this cube (delete the entries that name a port before it)`, 400, "invalid-value", "port");
      want.set(e.address.toLowerCase(), id);
    }
    if (want.size > FDB_SIZE) throw new ServiceError(`fdb: ${want.size} static entries, the table holds ${FDB_SIZE}`, 400, "invalid-value", "entry");
    if (aging !== agingTime) await cfgMap.set(0, { agingTime: aging });
    agingTime = aging;
    await statics.replace([...want].map(([addr, port]) => [{ addr, pad }, { timestamp: 0n, port, flags: ENTRY_STATIC }]));
    // Learned entries towards ports that no longer exist must not keep attracting traffic.
    const ports = [...ids.values()].sort().join(",");
    if (ports !== portSet) {
      const gone = (await fdb.entries()).filter(([, v]) => !portName(fdbValue.decode(v).port)).map(([k]) => k);
      await deleteAll(fdb, gone);
      portSet = ports;
    }
  };

  /**
   * Changes of static entries only (the common write: one entry added, changed or removed):
   * only those entries go to the kernel, checked as sync() checks them; not when the
   * changes are of another kind (false): then sync() takes the whole configuration.
   */
  const patchEntries = async (changes: Change[]): Promise<boolean> => {
    const ids = new Map(ctx.ports().map((p) => [p.name, p.id]));
    const set = new Map<string, number>();
    const del = new Set<string>();
    for (const c of changes) {
      const [fdbStep, entryStep, leaf, ...rest] = c.path;
      const address = entryStep?.keys?.address;
      if (fdbStep?.node !== "fdb" || entryStep?.node !== "entry" || address === undefined || rest.length) return false;
      const addr = address.toLowerCase();
      let port: Json | undefined;
      if (!leaf) {
        if (c.op === "delete") {
          del.add(addr);
          set.delete(addr);
          continue;
        }
        port = (c.after as JsonObject | undefined)?.port;
      } else if (leaf.node === "port" && c.op !== "delete") port = c.after;
      else return false;
      const id = ids.get(String(port));
      if (id === undefined) throw new ServiceError(`fdb entry ${address}: port '${port}' is not a port of this cube`, 400, "invalid-value", "port");
      set.set(addr, id);
      del.delete(addr);
    }
    const has = (addr: string) => statics.raw.has(fdbKey.encode({ addr, pad }));
    let size = statics.raw.size;
    for (const a of del) if (has(a)) size--;
    for (const a of set.keys()) if (!has(a)) size++;
    if (size > FDB_SIZE) throw new ServiceError(`fdb: ${size} static entries, the table holds ${FDB_SIZE}`, 400, "invalid-value", "entry");
    await statics.patch(
      [...set].map(([addr, port]) => [{ addr, pad }, { timestamp: 0n, port, flags: ENTRY_STATIC }] as const),
      [...del].map((addr) => ({ addr, pad })),
    );
    return true;
  };

  const sweep = async () => {
    const now = bootSeconds();
    await deleteAll(fdb, (await fdb.entries()).filter(([, v]) => isExpired(fdbValue.decode(v), now, agingTime)).map(([k]) => k));
  };

  await sync(config);
  const timer = setInterval(() => sweep().catch((e) => ctx.log.warn(`fdb aging: ${e}`)), SWEEP_INTERVAL_MS);
  timer.unref?.();

  return {
    async apply(changes, cfg) {
      if (changes.length && (await patchEntries(changes))) return;
      await sync(cfg);
    },
    async state() {
      const now = bootSeconds();
      const entry: Json[] = [];
      for (const [k, v] of await fdb.entries()) {
        const e = fdbValue.decode(v);
        const port = portName(e.port);
        if (!port || isExpired(e, now, agingTime)) continue;
        entry.push({ address: fdbKey.decode(k).addr, port, age: ageOf(e, now) });
      }
      return { fdb: { "aging-time": agingTime, entry } };
    },
    async stateAt(path) {
      // One FDB entry: one map lookup, not the whole table.
      const [f, e, ...rest] = path;
      const address = e?.keys?.address;
      if (f?.node !== "fdb" || e?.node !== "entry" || address === undefined || rest.length) return undefined;
      const key = fdbKey.encode({ addr: address, pad });
      const v = await fdb.get(key);
      if (!v) return {};
      const d = fdbValue.decode(v);
      const now = bootSeconds();
      const port = portName(d.port);
      if (!port || isExpired(d, now, agingTime)) return {};
      return { value: { address: fdbKey.decode(key).addr, port, age: ageOf(d, now) } };
    },
    async action(path) {
      const name = path[path.length - 1]?.node;
      if (name !== "flush") throw new ServiceError(`unknown action '${name}'`, 404);
      // Flush forgets what was learned; static entries are configuration and stay.
      await deleteAll(fdb, (await fdb.entries()).filter(([, v]) => !(fdbValue.decode(v).flags & ENTRY_STATIC)).map(([k]) => k));
      return { flushed: true };
    },
    async packetIn(pkt: PacketIn) {
      if (pkt.reason !== REASON_FLOODING) return;
      for (const p of ctx.ports()) {
        if (p.id === pkt.portId || p.status !== "UP") continue;
        await ctx.packetOut(p.id, pkt.data);
      }
    },
    async destroy() {
      clearInterval(timer);
    },
  };
}

export const simplebridge: ServiceModule = { name: "simplebridge", kind: "standard", yang, createCube };
export default simplebridge;
