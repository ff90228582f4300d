// nat's rules: parsing and checking them (a refused change names the field), their JSON, and the
// entries of the datapath's rule maps they compile to (layouts in nat.bpf.c). Pure, for tests.
import { formatPrefix, parseIpv4, parseIpv4Prefix, prefixAddress } from "../../lib/sdk/ipv4.ts";
import { ServiceError, type Json, type JsonObject } from "../../lib/sdk/types.ts";
import { dnatKey, dnatValue, pfKey, pfValue, snatKey, snatValue } from "./layout.ts";

export const KINDS = ["snat", "dnat", "masquerade", "portforwarding"] as const;
/** Rule kinds: the originating-rule of a session, by K_* number (nat.bpf.c has the same numbers). */
export const K_SNAT = 0, K_DNAT = 1, K_MASQ = 2, K_PF = 3;
const PROTO: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1 };
export const PROTO_NAME: Record<number, string> = { 6: "TCP", 17: "UDP", 1: "ICMP" };
export interface SnatRule { id: number; net: number; len: number; internalNet: string; externalIp: string }
export interface DnatRule { id: number; externalIp: string; internalIp: string }
export interface PfRule { id: number; externalIp: string; externalPort: number; proto?: string; internalIp: string; internalPort: number }
export interface Rules { snat: SnatRule[]; dnat: DnatRule[]; pf: PfRule[] }

export function bad(field: string, message: string, status = 400): ServiceError {
  return new ServiceError(`${field}: ${message}`, status, status === 409 ? "data-exists" : "invalid-value", field);
}

function needIp(v: Json | undefined, field: string): string {
  const s = String(v ?? "");
  const n = parseIpv4(s);
  if (n === undefined) throw bad(field, `'${s}' is not an IPv4 address`);
  if (n === 0) throw bad(field, `0.0.0.0 cannot be translated to or from`);
  return s;
}

function needPort(v: Json | undefined, field: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw bad(field, `'${v}' is not a port (1-65535)`);
  return n;
}

export function parseSnat(e: JsonObject, id: number, where: string): SnatRule {
  const net = parseIpv4Prefix(String(e["internal-net"] ?? ""));
  if (!net) throw bad(`${where}.internal-net`, `'${e["internal-net"]}' is not an IPv4 prefix (a.b.c.d/n)`);
  return { id, net: net.network, len: net.len, internalNet: formatPrefix(net), externalIp: needIp(e["external-ip"], `${where}.external-ip`) };
}

export function parseDnat(e: JsonObject, id: number, where: string): DnatRule {
  return { id, externalIp: needIp(e["external-ip"], `${where}.external-ip`), internalIp: needIp(e["internal-ip"], `${where}.internal-ip`) };
}

export function parsePf(e: JsonObject, id: number, where: string): PfRule {
  const r: PfRule = {
    id,
    externalIp: needIp(e["external-ip"], `${where}.external-ip`),
    externalPort: needPort(e["external-port"], `${where}.external-port`),
    internalIp: needIp(e["internal-ip"], `${where}.internal-ip`),
    internalPort: needPort(e["internal-port"], `${where}.internal-port`),
  };
  if (e.proto !== undefined && e.proto !== null && e.proto !== "") {
    const p = String(e.proto).toUpperCase();
    if (p !== "TCP" && p !== "UDP") throw bad(`${where}.proto`, `'${e.proto}' is not TCP or UDP (leave it out for both)`);
    r.proto = p;
  }
  return r;
}

/** Two rules of a kind that would match the same packets are refused. */
export function checkRules(r: Rules): void {
  const seen = new Map<string, number>();
  const once = (key: string, id: number, where: string, what: string) => {
    const other = seen.get(key);
    if (other !== undefined) throw bad(where, `${what} is already translated by rule ${other}`, 409);
    seen.set(key, id);
  };
  for (const s of r.snat) once(`s ${s.internalNet}`, s.id, `rule.snat.entry[${s.id}].internal-net`, `internal-net ${s.internalNet}`);
  for (const d of r.dnat) once(`d ${d.externalIp}`, d.id, `rule.dnat.entry[${d.id}].external-ip`, `external-ip ${d.externalIp}`);
  for (const p of r.pf) {
    for (const proto of p.proto ? [p.proto] : ["TCP", "UDP"]) {
      once(`p ${p.externalIp}:${p.externalPort}/${proto}`, p.id, `rule.port-forwarding.entry[${p.id}].external-port`, `${p.externalIp}:${p.externalPort}/${proto}`);
    }
  }
}

/** Rules as the configuration holds them. */
export function rulesOf(cfg: JsonObject): Rules {
  const rule = (cfg.rule ?? {}) as JsonObject;
  const entries = (k: string) => (((rule[k] ?? {}) as JsonObject).entry ?? []) as JsonObject[];
  const out: Rules = {
    snat: entries("snat").map((e) => parseSnat(e, Number(e.id), `rule.snat.entry[${e.id}]`)),
    dnat: entries("dnat").map((e) => parseDnat(e, Number(e.id), `rule.dnat.entry[${e.id}]`)),
    pf: entries("port-forwarding").map((e) => parsePf(e, Number(e.id), `rule.port-forwarding.entry[${e.id}]`)),
  };
  checkRules(out);
  return out;
}

export function rulesJson(r: Rules, masquerade: boolean): JsonObject {
  return {
    snat: { entry: r.snat.map((s) => ({ id: s.id, "internal-net": s.internalNet, "external-ip": s.externalIp })) },
    masquerade: { enabled: masquerade },
    dnat: { entry: r.dnat.map((d) => ({ id: d.id, "external-ip": d.externalIp, "internal-ip": d.internalIp })) },
    "port-forwarding": {
      entry: r.pf.map((p) => ({ id: p.id, "external-ip": p.externalIp, "external-port": p.externalPort, ...(p.proto ? { proto: p.proto } : {}), "internal-ip": p.internalIp, "internal-port": p.internalPort })),
    },
  };
}

export type Entry = [Uint8Array, Uint8Array];

/** Every map entry the rules ask for, by map. Pure, for tests. */
export function compileRules(r: Rules): { snat: Entry[]; dnat: Entry[]; pf: Entry[] } {
  const snat = r.snat.map((s): Entry => [snatKey.encode({ prefixlen: s.len, addr: s.net }), snatValue.encode({ externalIp: s.externalIp, id: s.id })]);
  const dnat = r.dnat.map((d): Entry => [dnatKey.encode(d.externalIp), dnatValue.encode(d.internalIp)]);
  const pf: Entry[] = [];
  for (const p of r.pf) {
    for (const proto of p.proto ? [p.proto] : ["TCP", "UDP"]) {
      pf.push([pfKey.encode({ ip: p.externalIp, port: p.externalPort, proto: PROTO[proto]!, pad: 0 }), pfValue.encode({ ip: p.internalIp, port: p.internalPort, pad: 0 })]);
    }
  }
  return { snat, dnat, pf };
}

/** The address a parent port's configuration gives (a router port's ip is a prefix). */
export function parentAddress(cfg: JsonObject | undefined): string | undefined {
  const ip = cfg?.ip;
  if (typeof ip !== "string") return undefined;
  const a = prefixAddress(ip);
  return parseIpv4(a) !== undefined ? a : undefined;
}
