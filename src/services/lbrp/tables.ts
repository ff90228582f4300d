// lbrp tables: the datapath's maps (lbrp.bpf.c) computed whole from a configuration and the
// cube's port ids. Pure: tables() checks everything the datapath cannot carry before anything is
// written.
import { be16, be32, ipv4, struct, u16, u32, u8 } from "../../lib/bpf/codec.ts";
import { ipv4PrefixOf, ipv4ToNumber, prefixMask } from "../../lib/sdk/ipv4.ts";
import { keyHex } from "../../lib/sdk/mirror.ts";
import { ServiceError, type JsonObject, type PortInfo } from "../../lib/sdk/types.ts";
import { checkPorts, portMode } from "./ports.ts";

const NO_PORT = 0xffffffff;
const PROTO: Record<string, number> = { ICMP: 1, TCP: 6, UDP: 17 };
/** Slots of one service at most: weights are scaled down to fit. */
export const MAX_SLOTS = 1024;
/** Entries of the services map (lbrp.bpf.c). */
const MAX_SERVICES = 1024;
const BACKENDS_SIZE = 65536;

/** Size of struct lb_conf. */
const CONFIG_SIZE = 24;

export interface Tables {
  config: Uint8Array;
  services: Map<string, [Uint8Array, Uint8Array]>;
  backends: Map<string, [Uint8Array, Uint8Array]>;
  /** MULTI: a FRONTEND port's ip -> its port id. */
  frontends: Map<string, [Uint8Array, Uint8Array]>;
}

/** struct lb_conf (lbrp.bpf.c); the rewrite values in wire order. */
export const lbConf = struct<{ frontend: number; backend: number; rwFrom: number; rwMask: number; rwTo: number; multi: number }>(CONFIG_SIZE, {
  frontend: { offset: 0, codec: u32 }, backend: { offset: 4, codec: u32 }, rwFrom: { offset: 8, codec: be32 },
  rwMask: { offset: 12, codec: be32 }, rwTo: { offset: 16, codec: be32 }, multi: { offset: 20, codec: u32 },
});
type SvcKey = { vip: string; vport: number; proto: number; pad: number };
/** struct svc_key: vip and vport in wire order. */
export const svcKey = struct<SvcKey>(8, { vip: { offset: 0, codec: ipv4 }, vport: { offset: 4, codec: be16 }, proto: { offset: 6, codec: u8 }, pad: { offset: 7, codec: u8 } });
/** struct svc_value */
export const svcValue = struct<{ slots: number }>(4, { slots: { offset: 0, codec: u32 } });
/** struct slot_key */
export const slotKey = struct<{ svc: SvcKey; slot: number }>(12, { svc: { offset: 0, codec: svcKey }, slot: { offset: 8, codec: u32 } });
/** struct backend: ip and port in wire order. */
export const backendValue = struct<{ ip: string; port: number; pad: number }>(8, { ip: { offset: 0, codec: ipv4 }, port: { offset: 4, codec: be16 }, pad: { offset: 6, codec: u16 } });

/** How many slots each backend gets: its weight (1 when unset), scaled down to MAX_SLOTS in all. */
export function slotCounts(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= MAX_SLOTS) return weights;
  return weights.map((w) => (w === 0 ? 0 : Math.max(1, Math.floor((w * MAX_SLOTS) / total))));
}

/** A service's proto as a protocol number; ALL is expanded by the caller. */
function protoOf(p: unknown): number {
  const n = PROTO[String(p).toUpperCase()];
  if (n === undefined) throw new ServiceError(`proto ${String(p)} is not supported`, 400, "invalid-value", "proto");
  return n;
}

/** "a.b.c.d/n" -> network and mask (host order), and length. */
function prefix(p: string): { net: number; mask: number; len: number } {
  const { network, len } = ipv4PrefixOf(p);
  return { net: network, mask: prefixMask(len), len };
}

/**
 * The services as they are kept: an entry of proto ALL becomes a TCP and a UDP entry on its vport
 * and an ICMP entry on port 0, each with its name and backends. Throws when one of them exists.
 */
export function expandServices(list: JsonObject[]): JsonObject[] {
  const out: JsonObject[] = [];
  const seen = new Set<string>();
  const id = (s: JsonObject) => `${s.vip} ${s.vport} ${String(s.proto).toUpperCase()}`;
  for (const s of list) if (String(s.proto).toUpperCase() !== "ALL") seen.add(id(s));
  for (const s of list) {
    if (String(s.proto).toUpperCase() !== "ALL") {
      out.push(s);
      continue;
    }
    for (const [proto, vport] of [["TCP", s.vport], ["UDP", s.vport], ["ICMP", 0]] as const) {
      const e: JsonObject = { ...structuredClone(s), proto, vport: vport ?? 0 };
      if (seen.has(id(e))) throw new ServiceError(`service ${s.vip} ${s.vport} ALL: service ${id(e)} exists`, 409, "data-exists", "proto");
      seen.add(id(e));
      out.push(e);
    }
  }
  return out;
}

/**
 * The datapath's tables for a configuration and the cube's ports. Throws a ServiceError (4xx) for
 * a configuration the datapath cannot carry; nothing has changed then.
 */
export function tables(config: JsonObject, ports: Pick<PortInfo, "id" | "name">[]): Tables {
  const ids = new Map(ports.map((p) => [p.name, p.id]));
  const multi = portMode(config) === "MULTI";
  let frontend = NO_PORT;
  let backend = NO_PORT;
  const frontends = new Map<string, [Uint8Array, Uint8Array]>();
  for (const p of checkPorts(config)) {
    const id = ids.get(p.name) ?? NO_PORT;
    if (p.type === "BACKEND") backend = id;
    else if (!multi) frontend = id;
    else if (id !== NO_PORT) {
      const k = ipv4.encode(p.ip!);
      frontends.set(keyHex(k), [k, u32.encode(id)]);
    }
  }

  const conf = { frontend, backend, rwFrom: 0, rwMask: 0, rwTo: 0, multi: multi ? 1 : 0 };
  const rw = (config["src-ip-rewrite"] ?? {}) as JsonObject;
  if (rw["ip-range"] !== undefined || rw.new_ip_range !== undefined) {
    if (rw["ip-range"] === undefined || rw.new_ip_range === undefined)
      throw new ServiceError("src-ip-rewrite needs both ip-range and new_ip_range", 400, "invalid-value", rw["ip-range"] === undefined ? "ip-range" : "new_ip_range");
    const from = prefix(String(rw["ip-range"]));
    const to = prefix(String(rw.new_ip_range));
    if (from.len !== to.len) throw new ServiceError("src-ip-rewrite: ip-range and new_ip_range must have the same prefix length", 400, "invalid-value", "new_ip_range");
    Object.assign(conf, { rwFrom: from.net, rwMask: from.mask, rwTo: to.net });
  }
  const cfg = lbConf.encode(conf);

  const services = new Map<string, [Uint8Array, Uint8Array]>();
  const backends = new Map<string, [Uint8Array, Uint8Array]>();
  for (const s of expandServices((config.service ?? []) as JsonObject[])) {
    const where = `service ${s.vip} ${s.vport} ${s.proto}`;
    const proto = protoOf(s.proto);
    const vport = Number(s.vport);
    if (proto === PROTO.ICMP && vport !== 0) throw new ServiceError(`${where}: an ICMP service has vport 0`, 400, "invalid-value", "vport");
    const svc = { vip: String(s.vip), vport, proto, pad: 0 };
    const bes = ((s.backend ?? []) as JsonObject[]).slice().sort((a, b) => ipv4ToNumber(String(a.ip)) - ipv4ToNumber(String(b.ip)));
    const counts = slotCounts(bes.map((b) => (b.weight === undefined ? 1 : Number(b.weight))));
    let slot = 0;
    bes.forEach((b, i) => {
      for (let n = 0; n < counts[i]!; n++, slot++) {
        const k = slotKey.encode({ svc, slot });
        backends.set(keyHex(k), [k, backendValue.encode({ ip: String(b.ip), port: proto === PROTO.ICMP ? 0 : Number(b.port), pad: 0 })]);
      }
    });
    const key = svcKey.encode(svc);
    services.set(keyHex(key), [key, svcValue.encode({ slots: slot })]);
  }
  if (services.size > MAX_SERVICES) throw new ServiceError(`an lbrp has at most ${MAX_SERVICES} services`, 400, "invalid-value", "service");
  if (backends.size > BACKENDS_SIZE) throw new ServiceError(`too many backend slots (at most ${BACKENDS_SIZE} in all)`, 400, "invalid-value", "weight");
  return { config: cfg, services, backends, frontends };
}
