// lbdsr configuration, checked whole before anything is written: the ports' roles, the
// frontend's VIP and MAC, the backend pool. Pure: a refused configuration leaves no trace.
import { notUnicastIpv4, parseIpv4 } from "../../lib/sdk/ipv4.ts";
import { formatMac, notUnicastMac, parseMac } from "../../lib/sdk/mac.ts";
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";

/** Entries of the datapath's pool array (lbdsr.bpf.c MAX_BACKENDS). */
export const MAX_BACKENDS = 256;

export interface PoolEntry {
  id: number;
  /** Lower case. */
  mac: string;
}

export interface DsrModel {
  /** Names of the FRONTEND and the BACKEND port, when there is one. */
  frontend?: string;
  backend?: string;
  vip?: string;
  /** Lower case. */
  mac?: string;
  /** The backends in the order of their ids: the datapath's backend numbers. */
  pool: PoolEntry[];
}

function refuse(message: string, field: string): never {
  throw new ServiceError(message, 400, "invalid-value", field);
}

const typeOf = (p: JsonObject) => String(p.type ?? "").toUpperCase();

/** A MAC of the configuration, parsed and checked for a station's address; lower case. */
function unicastMac(value: unknown, what: string, field: string): string {
  const b = parseMac(String(value));
  if (!b) refuse(`${what} '${String(value)}' is not a MAC address`, field);
  const why = notUnicastMac(b);
  if (why) refuse(`${what} ${String(value)} ${why}: it must be one station's address`, field);
  return formatMac(b);
}

/**
 * The model of a whole configuration, or a ServiceError (400) naming the field at fault: one
 * FRONTEND and one BACKEND port at most (the original's "Frontend port already set"), a type on
 * every port, a unicast VIP and unicast MACs, at most MAX_BACKENDS backends.
 */
export function dsrModel(config: JsonObject): DsrModel {
  const m: DsrModel = { pool: [] };
  for (const p of (config.ports ?? []) as JsonObject[]) {
    const t = typeOf(p);
    if (t === "FRONTEND") {
      if (m.frontend !== undefined) refuse(`Frontend port already set (${m.frontend}): an lbdsr has one FRONTEND port`, "type");
      m.frontend = String(p.name);
    } else if (t === "BACKEND") {
      if (m.backend !== undefined) refuse(`Backend port already set (${m.backend}): an lbdsr has one BACKEND port`, "type");
      m.backend = String(p.name);
    } else {
      refuse(`port ${String(p.name)}: type is FRONTEND or BACKEND, not '${String(p.type ?? "")}'`, "type");
    }
  }

  const fe = (config.frontend ?? {}) as JsonObject;
  if (fe.vip !== undefined && fe.vip !== null && fe.vip !== "") {
    const text = String(fe.vip);
    const n = parseIpv4(text);
    if (n === undefined) refuse(`frontend vip '${text}' is not an IPv4 address`, "vip");
    const why = notUnicastIpv4(n);
    if (why) refuse(`frontend vip ${text} ${why}: the VIP must be a unicast address`, "vip");
    m.vip = text;
  }
  if (fe.mac !== undefined && fe.mac !== null && fe.mac !== "") m.mac = unicastMac(fe.mac, "frontend mac", "mac");

  const pool = (((config.backend ?? {}) as JsonObject).pool ?? []) as JsonObject[];
  if (pool.length > MAX_BACKENDS) refuse(`backend pool: ${pool.length} backends, at most ${MAX_BACKENDS}`, "pool");
  for (const b of pool) {
    if (b.mac === undefined || b.mac === null) refuse(`backend pool ${String(b.id)}: mac is mandatory`, "mac");
    m.pool.push({ id: Number(b.id), mac: unicastMac(b.mac, `backend pool ${String(b.id)}: mac`, "mac") });
  }
  m.pool.sort((a, b) => a.id - b.id);
  return m;
}

/** What a running cube may not change, as the original: a port's type. ServiceError (400) naming it. */
export function checkUpdate(before: JsonObject, after: JsonObject): void {
  const was = new Map(((before.ports ?? []) as JsonObject[]).map((p) => [String(p.name), typeOf(p)]));
  for (const p of (after.ports ?? []) as JsonObject[]) {
    const t = was.get(String(p.name));
    if (t !== undefined && t !== typeOf(p)) refuse(`[Ports]: Type can be set only during port creation (port ${String(p.name)} is ${t})`, "type");
  }
}

