// pbforwarder's rules: the configured list read into what the classifier needs, checked as the
// original checks them (FORWARD needs out_port; L4 ports need l4_proto) and, beyond it, ports
// that exist and VLAN ids that fit in 12 bits. Pure.
//
// How strictly a rule is checked depends on the change (checksFor): a rule created or modified
// by the change is checked in full and refused with a 4xx naming the field; a rule the change
// does not touch, left naming a port deleted since, stays in the configuration but is inert (an
// in_port that is gone never matches; a FORWARD to an out_port that is gone drops).
import { parseIpv4 } from "../../lib/sdk/ipv4.ts";
import { ServiceError, type Change, type JsonObject } from "../../lib/sdk/types.ts";

export const ACTION_DROP = 0, ACTION_SLOWPATH = 1, ACTION_FORWARD = 2;
const ACTIONS: Record<string, number> = { DROP: ACTION_DROP, SLOWPATH: ACTION_SLOWPATH, FORWARD: ACTION_FORWARD };
const PROTOS: Record<string, number> = { TCP: 6, UDP: 17 };
/** An out port that leads nowhere: pcn_pkt_redirect drops (no such entry in pcn_peers). */
export const NO_PORT = 0xffff;

/** A rule as the datapath sees it: every field optional (a wildcard) but the action. */
export interface Rule {
  id: number;
  inPort?: number;
  vlan?: number;
  srcMac?: string;
  dstMac?: string;
  /** IPv4 addresses, host order */
  srcIp?: number;
  dstIp?: number;
  proto?: number;
  sport?: number;
  dport?: number;
  action: number;
  outPort: number;
}

/** Is a rule checked in full (created or modified by the change), or spared (untouched)? */
export type Strictness = (id: number) => boolean;

const STRICT: Strictness = () => true;

function refuse(id: number, field: string, why: string, tag = "invalid-value"): never {
  throw new ServiceError(`rules ${id}: ${field} ${why}`, 400, tag, field);
}

function normMac(s: string): string {
  return s.toLowerCase();
}

/**
 * The rules of a configuration, in id order; null for a rule that is inert (names a port that
 * is gone and was spared its check).
 */
export function readRules(cfg: JsonObject, ports: Map<string, number>, strict: Strictness = STRICT): Array<Rule | null> {
  const list = ((cfg.rules ?? []) as JsonObject[]).slice().sort((a, b) => (a.id as number) - (b.id as number));
  return list.map((r) => readRule(r, ports, strict(r.id as number)));
}

export function readRule(r: JsonObject, ports: Map<string, number>, strict: boolean): Rule | null {
  const id = r.id as number;
  const actionName = String(r.action ?? "DROP").toUpperCase();
  const action = ACTIONS[actionName];
  if (action === undefined) refuse(id, "action", `'${r.action}' is not DROP, SLOWPATH or FORWARD`);
  const out: Rule = { id, action, outPort: NO_PORT };
  if (r.vlan !== undefined) {
    const v = r.vlan as number;
    if (!Number.isInteger(v) || v < 0 || v > 4095) refuse(id, "vlan", `${v} is not a VLAN id (0 to 4095)`);
    out.vlan = v;
  }
  for (const [field, key] of [["src_mac", "srcMac"], ["dst_mac", "dstMac"]] as const) {
    if (r[field] === undefined) continue;
    const m = String(r[field]);
    if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(m)) refuse(id, field, `'${m}' is not a MAC address`);
    out[key] = normMac(m);
  }
  for (const [field, key] of [["src_ip", "srcIp"], ["dst_ip", "dstIp"]] as const) {
    if (r[field] === undefined) continue;
    const n = parseIpv4(String(r[field]));
    if (n === undefined) refuse(id, field, `'${r[field]}' is not an IPv4 address`);
    out[key] = n;
  }
  if (r.l4_proto !== undefined) {
    const p = PROTOS[String(r.l4_proto).toUpperCase()];
    if (p === undefined) refuse(id, "l4_proto", `'${r.l4_proto}' is not UDP or TCP`);
    out.proto = p;
  }
  for (const [field, key] of [["src_port", "sport"], ["dst_port", "dport"]] as const) {
    if (r[field] === undefined) continue;
    if (out.proto === undefined) refuse(id, field, "needs l4_proto: Level 4 protocol is needed when level 4 ports are specified", "missing-element");
    out[key] = r[field] as number;
  }
  if (action === ACTION_FORWARD && r.out_port === undefined) refuse(id, "out_port", "is mandatory to FORWARD", "missing-element");
  let inert = false;
  if (r.in_port !== undefined) {
    const p = ports.get(String(r.in_port));
    if (p === undefined) {
      if (strict) refuse(id, "in_port", `'${r.in_port}' is not a port of this cube`);
      inert = true;
    } else out.inPort = p;
  }
  if (r.out_port !== undefined) {
    const p = ports.get(String(r.out_port));
    if (p === undefined && strict) refuse(id, "out_port", `'${r.out_port}' is not a port of this cube`);
    if (action === ACTION_FORWARD && p !== undefined) out.outPort = p;
  }
  return inert ? null : out;
}

/** The ids of the rules a change creates or modifies: those are checked in full. */
export function checksFor(changes: Change[]): Strictness {
  const touched = new Set<number>();
  let all = false;
  for (const c of changes) {
    if (c.path[0]?.node !== "rules") continue;
    const id = c.path[0].keys?.id;
    if (id === undefined) {
      all = true;
      continue;
    }
    if (c.op === "delete" && c.path.length === 1) continue;
    touched.add(Number(id));
  }
  return (id) => all || touched.has(id);
}

/** A rule's identity for change detection: same text, same entry. */
export function fingerprint(r: Rule): string {
  return JSON.stringify(r);
}
