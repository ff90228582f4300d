// A firewall rule as the model has it: validation and normal form of its fields, the JSON the
// model shows, and the equality the `delete` action uses. Pure: no maps, no I/O.
import { numberToIpv4, parseIpv4Prefix, prefixMask } from "../../lib/sdk/ipv4.ts";
import { ServiceError, type Json, type JsonObject } from "../../lib/sdk/types.ts";

export type Action = "DROP" | "LOG" | "ACCEPT";
/** The datapath's action codes (FW_DROP, FW_LOG, FW_ACCEPT in firewall.bpf.c), in the model's order. */
export const ACTION_CODE: Record<Action, number> = { DROP: 0, LOG: 2, ACCEPT: 1 };
export const ACTIONS = Object.keys(ACTION_CODE) as Action[];
/** The model's typedef default. */
export const DEFAULT_ACTION: Action = "ACCEPT";

export const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1 };
export const PROTO_NAME: Record<number, string> = { 6: "TCP", 17: "UDP", 1: "ICMP" };
export const TCP_FLAGS: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 };
/** Connection labels as the datapath numbers them (CT_NEW... in firewall.bpf.c); 0 is "not tracked". */
export const CT_LABEL: Record<string, number> = { NEW: 1, ESTABLISHED: 2, RELATED: 3, INVALID: 4 };

const FIELDS = ["src", "dst", "l4proto", "sport", "dport", "tcpflags", "conntrack", "action", "description"] as const;

/** A validated rule: the fields as given (normalised) and what the datapath matches on. */
export interface Rule {
  src?: string;
  dst?: string;
  l4proto?: string;
  sport?: number;
  dport?: number;
  tcpflags?: string;
  conntrack?: string;
  action: Action;
  description?: string;
  /** [network (host order, masked), prefix length] */
  srcNet?: [number, number];
  dstNet?: [number, number];
  proto?: number;
  /** [mask, value] over the TCP flags byte */
  flags?: [number, number];
  ct?: number;
}

/** Prefix length -> mask (host order). */
export const mask = prefixMask;

/** "a.b.c.d" or "a.b.c.d/n" -> [network (host order, masked), n]; undefined when malformed. */
export function parsePrefix(text: string): [number, number] | undefined {
  const p = parseIpv4Prefix(text, { bare: true });
  return p && [p.network, p.len];
}

export const formatIp = numberToIpv4;

export function invalid(field: string, message: string): ServiceError {
  return new ServiceError(`${field}: ${message}`, 400, "invalid-value", field);
}

/** "SYN,!ACK" (commas or spaces) -> [mask, value]; throws on an unknown or repeated flag. */
export function parseTcpFlags(text: string, field: string): [number, number] {
  let m = 0, v = 0;
  const words = text.split(/[\s,|]+/).filter(Boolean);
  if (!words.length) throw invalid(field, `'${text}' names no TCP flag`);
  for (const w of words) {
    const neg = w.startsWith("!");
    const name = (neg ? w.slice(1) : w).toUpperCase();
    const bit = TCP_FLAGS[name];
    if (bit === undefined) throw invalid(field, `'${w}' is not a TCP flag (${Object.keys(TCP_FLAGS).join(", ")}, each optionally preceded by '!')`);
    if (m & bit) throw invalid(field, `TCP flag ${name} given twice`);
    m |= bit;
    if (!neg) v |= bit;
  }
  return [m, v];
}

const given = (v: Json | undefined): boolean => v !== undefined && v !== null && v !== "";

/** Validates and normalises a rule's fields (a rule entry or an action's input). */
export function parseRule(input: JsonObject, where = "rule"): Rule {
  const r: Rule = { action: DEFAULT_ACTION };
  for (const f of ["src", "dst"] as const) {
    const v = input[f];
    if (!given(v)) continue;
    const p = parsePrefix(String(v));
    if (!p) throw invalid(`${where}.${f}`, `'${v}' is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/n, n <= 32)`);
    r[f] = String(v);
    r[f === "src" ? "srcNet" : "dstNet"] = p;
  }
  if (given(input.l4proto)) {
    const name = String(input.l4proto).toUpperCase();
    const n = PROTOCOLS[name];
    if (n === undefined) throw invalid(`${where}.l4proto`, `'${input.l4proto}' is not one of TCP, UDP, ICMP`);
    r.l4proto = name;
    r.proto = n;
  }
  for (const f of ["sport", "dport"] as const) {
    const v = input[f];
    if (v === undefined || v === null) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw invalid(`${where}.${f}`, `'${v}' is not a port (0-65535)`);
    if (r.proto !== undefined && r.proto !== 6 && r.proto !== 17) throw invalid(`${where}.${f}`, `ports apply to TCP and UDP only, not ${r.l4proto}`);
    r[f] = n;
  }
  if (given(input.tcpflags)) {
    if (r.proto !== undefined && r.proto !== 6) throw invalid(`${where}.tcpflags`, `TCP flags apply to TCP only, not ${r.l4proto}`);
    r.flags = parseTcpFlags(String(input.tcpflags), `${where}.tcpflags`);
    r.tcpflags = String(input.tcpflags);
  }
  if (given(input.conntrack)) {
    const name = String(input.conntrack).toUpperCase();
    if (CT_LABEL[name] === undefined) throw invalid(`${where}.conntrack`, `'${input.conntrack}' is not one of ${Object.keys(CT_LABEL).join(", ")}`);
    r.conntrack = name;
    r.ct = CT_LABEL[name];
  }
  if (given(input.action)) {
    const a = String(input.action).toUpperCase() as Action;
    if (!ACTIONS.includes(a)) throw invalid(`${where}.action`, `'${input.action}' is not one of ${ACTIONS.join(", ")}`);
    r.action = a;
  }
  if (input.description !== undefined && input.description !== null) r.description = String(input.description);
  return r;
}

/** The rule's fields as the model shows them. */
export function ruleJson(r: Rule): JsonObject {
  const out: JsonObject = {};
  for (const f of FIELDS) if (r[f] !== undefined) out[f] = r[f] as Json;
  return out;
}

/** True when the rules match the same packets: the fields that decide matching are equal. */
export function sameMatch(a: Rule, b: Rule): boolean {
  const eqNet = (x?: [number, number], y?: [number, number]) => (x === undefined) === (y === undefined) && (!x || (x[0] === y![0] && x[1] === y![1]));
  if (!eqNet(a.srcNet, b.srcNet) || !eqNet(a.dstNet, b.dstNet)) return false;
  if (a.proto !== b.proto || a.sport !== b.sport || a.dport !== b.dport || a.ct !== b.ct) return false;
  return (a.flags === undefined) === (b.flags === undefined) && (!a.flags || (a.flags[0] === b.flags![0] && a.flags[1] === b.flags![1]));
}

/**
 * The `delete` action's test, as the original's: every field equal, the action included (it
 * defaults to ACCEPT in the input as in a rule); the description only when given.
 */
export function sameRule(r: Rule, q: Rule, input: JsonObject): boolean {
  if (!sameMatch(r, q) || r.action !== q.action) return false;
  return input.description === undefined || r.description === q.description;
}

/** Reference matcher: the first rule that admits a packet, checked one by one (tests compare the datapath's search with it). */
export interface PacketFields {
  src: number;
  dst: number;
  proto: number;
  sport?: number;
  dport?: number;
  flags?: number;
  ct?: number;
}

export function admits(r: Rule, p: PacketFields): boolean {
  const hasPorts = p.proto === 6 || p.proto === 17;
  if (r.srcNet && ((p.src & mask(r.srcNet[1])) >>> 0) !== r.srcNet[0]) return false;
  if (r.dstNet && ((p.dst & mask(r.dstNet[1])) >>> 0) !== r.dstNet[0]) return false;
  if (r.proto !== undefined && r.proto !== p.proto) return false;
  if ((r.sport !== undefined || r.dport !== undefined) && !hasPorts) return false;
  if (r.sport !== undefined && r.sport !== p.sport) return false;
  if (r.dport !== undefined && r.dport !== p.dport) return false;
  if (r.flags && (p.proto !== 6 || ((p.flags ?? 0) & r.flags[0]) !== r.flags[1])) return false;
  if (r.ct !== undefined && r.ct !== (p.ct ?? 0)) return false;
  return true;
}
