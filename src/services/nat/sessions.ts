// nat's sessions as the control plane sees them: the datapath's configuration (masquerade
// address, rule counts, the timeouts it applies, with the POLYCUBE_NAT_TIMEOUTS knob), and the
// natting-table read back from the session map. Layouts in nat.bpf.c. Pure, for tests.
import { parseTimeouts as parseKnob, writeTimeoutsNs } from "../../lib/sdk/timeouts.ts";
import { be32, ipText, KINDS, PROTO_NAME } from "./rules.ts";

export const INGRESS = 0, EGRESS = 1;
const ICMP = 1;

/**
 * Timeout names (the knob's words), in the order of T_* in nat.bpf.c, in seconds. The original
 * nat has none (sessions live until its LRU maps drop them); these are its firewall's and Linux
 * conntrack's: TCP before a reply 120, established 5 days, after a FIN 120, after a RST 10; UDP
 * before a reply 30, after one 180; ICMP echo 30. Every packet of a session pushes its deadline on.
 */
export const TIMEOUTS: ReadonlyArray<readonly [string, number]> = [
  ["tcp-new", 120], ["tcp-established", 432000], ["tcp-closing", 120], ["tcp-closed", 10],
  ["udp-new", 30], ["udp-established", 180], ["icmp", 30],
];
export const TIMEOUTS_ENV = "POLYCUBE_NAT_TIMEOUTS";

export function parseTimeouts(text: string | undefined): number[] {
  return parseKnob(TIMEOUTS_ENV, TIMEOUTS, text);
}

export interface NatConfig {
  /** host order; 0: masquerade has no address */
  masqIp: number;
  masquerade: boolean;
  snatRules: number;
  /** DNAT and port-forwarding rules */
  dnatRules: number;
  timeouts: number[];
}

/** struct nat_cfg */
export function encodeConfig(c: NatConfig): Uint8Array {
  const b = new Uint8Array(16 + 8 * TIMEOUTS.length);
  const v = new DataView(b.buffer);
  be32(c.masqIp, v, 0);
  v.setUint32(4, c.masquerade ? 1 : 0, true);
  v.setUint32(8, c.snatRules, true);
  v.setUint32(12, c.dnatRules, true);
  writeTimeoutsNs(v, 16, c.timeouts);
  return b;
}

export interface Session {
  "internal-src": string;
  "internal-dst": string;
  "internal-sport": number;
  "internal-dport": number;
  proto: string;
  "originating-rule": string;
  "external-ip": string;
  "external-port": number;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** A session map entry leaving (EGRESS) as a natting-table row; the reverse entries are not listed. */
export function sessionRow(k: Uint8Array, v: Uint8Array): Session | undefined {
  const kv = view(k), vv = view(v);
  if (kv.getUint8(13) !== EGRESS) return undefined;
  const proto = kv.getUint8(12);
  return {
    "internal-src": ipText(kv.getUint32(0, false)),
    "internal-dst": ipText(kv.getUint32(4, false)),
    "internal-sport": kv.getUint16(8, false),
    "internal-dport": kv.getUint16(10, false),
    proto: PROTO_NAME[proto] ?? String(proto),
    "originating-rule": KINDS[vv.getUint8(7)] ?? "snat",
    "external-ip": ipText(vv.getUint32(0, false)),
    "external-port": vv.getUint16(4, false),
  };
}

/** The key of a session entry's other entry: the packet as the entry translates it, turned round (partner_key in nat.bpf.c). */
export function partnerKey(k: Uint8Array, v: Uint8Array): Uint8Array {
  const kv = view(k), vv = view(v);
  let src = kv.getUint32(0, false), dst = kv.getUint32(4, false), sport = kv.getUint16(8, false), dport = kv.getUint16(10, false);
  const ip = vv.getUint32(0, false), port = vv.getUint16(4, false);
  if (vv.getUint8(6)) [src, sport] = [ip, port];
  else [dst, dport] = [ip, port];
  if (kv.getUint8(12) === ICMP) sport = dport = port;
  const out = new Uint8Array(16);
  const o = new DataView(out.buffer);
  o.setUint32(0, dst, false);
  o.setUint32(4, src, false);
  o.setUint16(8, dport, false);
  o.setUint16(10, sport, false);
  o.setUint8(12, kv.getUint8(12));
  o.setUint8(13, kv.getUint8(13) ^ 1);
  return out;
}

/** An entry's deadline (CLOCK_BOOTTIME ns). */
export function expiresOf(v: Uint8Array): bigint {
  return view(v).getBigUint64(8, true);
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * The sessions alive at `now` (CLOCK_BOOTTIME ns, the datapath's clock), as the datapath judges
 * them: a session lives while either of its entries' deadlines is ahead. Each with the entries
 * that make it (the listed one first), for deleting.
 */
export function liveSessions(entries: Array<[Uint8Array, Uint8Array]>, now: bigint): Array<{ row: Session; keys: Uint8Array[] }> {
  const byKey = new Map(entries.map(([k, v]) => [hex(k), v]));
  const out: Array<{ row: Session; keys: Uint8Array[] }> = [];
  for (const [k, v] of entries) {
    const row = sessionRow(k, v);
    if (!row) continue;
    const pk = partnerKey(k, v);
    const pv = byKey.get(hex(pk));
    const mine = pv !== undefined && hex(partnerKey(pk, pv)) === hex(k); /* the datapath's check too */
    if (expiresOf(v) > now || (mine && expiresOf(pv) > now)) out.push({ row, keys: mine ? [k, pk] : [k] });
  }
  return out;
}
