// lbrp tables: the datapath's maps (lbrp.bpf.c) computed whole from a configuration and the
// cube's port ids. Pure: tables() checks everything the datapath cannot carry before anything is
// written.
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
export const CONFIG_SIZE = 24;

export interface Tables {
  config: Uint8Array;
  services: Map<string, [Uint8Array, Uint8Array]>;
  backends: Map<string, [Uint8Array, Uint8Array]>;
  /** MULTI: a FRONTEND port's ip -> its port id. */
  frontends: Map<string, [Uint8Array, Uint8Array]>;
}

function ipBytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

function ipNum(ip: string): number {
  return ipBytes(ip).reduce((a, b) => a * 256 + b, 0) >>> 0;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** struct svc_key: vip (wire order), vport (wire order), proto, pad. */
function svcKey(vip: string, vport: number, proto: number): Uint8Array {
  const b = new Uint8Array(8);
  b.set(ipBytes(vip), 0);
  new DataView(b.buffer).setUint16(4, vport, false);
  b[6] = proto;
  return b;
}

export function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

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

/** Parses "a.b.c.d/n" into network (number) and mask. */
function prefix(p: string): { net: number; mask: number; len: number } {
  const [ip, l] = p.split("/");
  const len = Number(l);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { net: (ipNum(ip!) & mask) >>> 0, mask, len };
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
      const k = new Uint8Array(ipBytes(p.ip!));
      frontends.set(hex(k), [k, u32le(id)]);
    }
  }

  const cfg = new Uint8Array(CONFIG_SIZE);
  const dv = new DataView(cfg.buffer);
  dv.setUint32(0, frontend, true);
  dv.setUint32(4, backend, true);
  dv.setUint32(20, multi ? 1 : 0, true);
  const rw = (config["src-ip-rewrite"] ?? {}) as JsonObject;
  if (rw["ip-range"] !== undefined || rw.new_ip_range !== undefined) {
    if (rw["ip-range"] === undefined || rw.new_ip_range === undefined)
      throw new ServiceError("src-ip-rewrite needs both ip-range and new_ip_range", 400, "invalid-value", rw["ip-range"] === undefined ? "ip-range" : "new_ip_range");
    const from = prefix(String(rw["ip-range"]));
    const to = prefix(String(rw.new_ip_range));
    if (from.len !== to.len) throw new ServiceError("src-ip-rewrite: ip-range and new_ip_range must have the same prefix length", 400, "invalid-value", "new_ip_range");
    // Wire-order values: the bytes of the big-endian numbers.
    dv.setUint32(8, from.net, false);
    dv.setUint32(12, from.mask, false);
    dv.setUint32(16, to.net, false);
  }

  const services = new Map<string, [Uint8Array, Uint8Array]>();
  const backends = new Map<string, [Uint8Array, Uint8Array]>();
  for (const s of expandServices((config.service ?? []) as JsonObject[])) {
    const where = `service ${s.vip} ${s.vport} ${s.proto}`;
    const proto = protoOf(s.proto);
    const vport = Number(s.vport);
    if (proto === PROTO.ICMP && vport !== 0) throw new ServiceError(`${where}: an ICMP service has vport 0`, 400, "invalid-value", "vport");
    const key = svcKey(String(s.vip), vport, proto);
    const bes = ((s.backend ?? []) as JsonObject[]).slice().sort((a, b) => ipNum(String(a.ip)) - ipNum(String(b.ip)));
    const counts = slotCounts(bes.map((b) => (b.weight === undefined ? 1 : Number(b.weight))));
    let slot = 0;
    bes.forEach((b, i) => {
      for (let n = 0; n < counts[i]!; n++, slot++) {
        const k = new Uint8Array(12);
        k.set(key, 0);
        k.set(u32le(slot), 8);
        const v = new Uint8Array(8);
        v.set(ipBytes(String(b.ip)), 0);
        new DataView(v.buffer).setUint16(4, proto === PROTO.ICMP ? 0 : Number(b.port), false);
        backends.set(hex(k), [k, v]);
      }
    });
    services.set(hex(key), [key, u32le(slot)]);
  }
  if (services.size > MAX_SERVICES) throw new ServiceError(`an lbrp has at most ${MAX_SERVICES} services`, 400, "invalid-value", "service");
  if (backends.size > BACKENDS_SIZE) throw new ServiceError(`too many backend slots (at most ${BACKENDS_SIZE} in all)`, 400, "invalid-value", "weight");
  return { config: cfg, services, backends, frontends };
}
