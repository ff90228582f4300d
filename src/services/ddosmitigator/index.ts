// ddosmitigator: a transparent cube that drops IPv4 packets by source (blacklist-src) or
// destination (blacklist-dst) address, on INGRESS only, as the original. The control plane
// keeps the datapath's per-CPU hash maps equal to the configured lists (an address that stays
// keeps its counter; one removed and added again starts from 0) and reads the counters back:
// drop-pkts per address, stats/pkts in total, stats/pps over the last second.
import { ipv4, struct, u32, u64 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type Json, type JsonObject, type MapAccess, type ServiceModule } from "../../lib/sdk/types.ts";
import { isIpv4 } from "../../lib/sdk/ipv4.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { applyInOrder, type TypedMirror } from "../../lib/sdk/mirror.ts";
import yang from "./ddosmitigator.yang" with { type: "text" };

/** max_entries of srcblacklist and dstblacklist in ddosmitigator.bpf.c */
export const BLACKLIST_MAX = 1024;
const PPS_INTERVAL_MS = 1000;

export const LISTS = ["blacklist-src", "blacklist-dst"] as const;
export type ListName = (typeof LISTS)[number];
const MAPS: Record<ListName, string> = { "blacklist-src": "srcblacklist", "blacklist-dst": "dstblacklist" };

/** struct ddos_config in ddosmitigator.bpf.c */
export const ddosConfig = struct<{ matchSrc: number; matchDst: number }>(8, {
  matchSrc: { offset: 0, codec: u32 },
  matchDst: { offset: 4, codec: u32 },
});

/** Addresses are a.b.c.d in decimal, without leading zeros (which inet_aton reads as octal). */
export { isIpv4 };

/** The addresses of each list, validated. Throws ServiceError naming the list on a bad one. */
export function blacklists(cfg: JsonObject): Record<ListName, string[]> {
  const out = {} as Record<ListName, string[]>;
  for (const list of LISTS) {
    const entries = (cfg[list] ?? []) as JsonObject[];
    const ips = entries.map((e) => String(e.ip ?? ""));
    for (const ip of ips) {
      if (!isIpv4(ip)) {
        const hint = ip.includes("/") ? " (prefixes are not accepted, only single addresses)" : "";
        throw new ServiceError(`${list}: '${ip}' is not an IPv4 address in the form a.b.c.d${hint}`, 400, "invalid-value", `${list}.ip`);
      }
    }
    if (ips.length > BLACKLIST_MAX) throw new ServiceError(`${list}: at most ${BLACKLIST_MAX} addresses (${ips.length} given)`, 400, "too-many-elements", list);
    out[list] = ips;
  }
  return out;
}

/** A per-CPU u64 counter summed over the CPUs; 0 when the key is absent. */
async function sumPerCpu(map: MapAccess, key: Uint8Array): Promise<bigint> {
  const values = await map.getPerCpu(key);
  let sum = 0n;
  for (const v of values ?? []) sum += u64.decode(v);
  return sum;
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  let lists = blacklists(config);
  await ctx.loadDatapath("ddosmitigator");
  const dropcnt = ctx.map("dropcnt");
  const maps: Record<ListName, MapAccess> = { "blacklist-src": ctx.map(MAPS["blacklist-src"]), "blacklist-dst": ctx.map(MAPS["blacklist-dst"]) };
  const zero = u32.encode(0);
  // Each list is kept equal to the configuration: an address that stays keeps its counter (its
  // entry is not written again), a new one starts at 0.
  const mirrors = Object.fromEntries(LISTS.map((l) => [l, typedMap(ctx, MAPS[l], ipv4, u64).mirror({ what: l })])) as Record<ListName, TypedMirror<string, bigint>>;
  const cfgMap = typedMap(ctx, "config", u32, ddosConfig);

  const sync = async (want: Record<ListName, string[]>) => {
    await applyInOrder(LISTS.map((l) => () => mirrors[l].replace(want[l].map((ip) => [ip, 0n]))));
    await cfgMap.set(0, { matchSrc: want["blacklist-src"].length ? 1 : 0, matchDst: want["blacklist-dst"].length ? 1 : 0 });
  };
  await sync(lists);

  const totalDrops = () => sumPerCpu(dropcnt, zero);
  let last = { at: Date.now(), pkts: await totalDrops() };
  let pps = 0n;
  const sample = async () => {
    const now = { at: Date.now(), pkts: await totalDrops() };
    const seconds = (now.at - last.at) / 1000;
    pps = seconds > 0 ? BigInt(Math.round(Number(now.pkts - last.pkts) / seconds)) : 0n;
    last = now;
  };
  const timer = setInterval(() => sample().catch((e) => ctx.log.warn(`stats: ${e}`)), PPS_INTERVAL_MS);
  timer.unref?.();

  return {
    async apply(_changes, cfg) {
      const want = blacklists(cfg); // refuses before anything is written
      await sync(want);
      lists = want;
    },
    async state() {
      const out: JsonObject = { stats: { pps: Number(pps), pkts: Number(await totalDrops()) } };
      for (const list of LISTS) {
        const entries: Json[] = [];
        for (const ip of lists[list]) entries.push({ ip, "drop-pkts": Number(await sumPerCpu(maps[list], ipv4.encode(ip))) });
        out[list] = entries;
      }
      return out;
    },
    destroy() {
      clearInterval(timer);
    },
  };
}

export const ddosmitigator: ServiceModule = { name: "ddosmitigator", kind: "transparent", yang, createCube, stackPlace: "wire" };
export default ddosmitigator;
