// nat's sessions as the control plane sees them: the datapath's configuration (masquerade
// address, rule counts, the timeouts it applies, with the POLYCUBE_NAT_TIMEOUTS knob), and the
// natting-table read back from the session map. Layouts in nat.bpf.c. Pure, for tests.
import { numberToIpv4 } from "../../lib/sdk/ipv4.ts";
import { keyHex } from "../../lib/sdk/mirror.ts";
import { parseTimeouts as parseKnob, timeoutsNs } from "../../lib/sdk/timeouts.ts";
import { configValue, sessionKey, sessionValue } from "./layout.ts";
import { KINDS, PROTO_NAME } from "./rules.ts";

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

export const configCodec = configValue(TIMEOUTS.length);

/** struct nat_cfg */
export function encodeConfig(c: NatConfig): Uint8Array {
  return configCodec.encode({ masqIp: c.masqIp, masqOn: c.masquerade ? 1 : 0, snatRules: c.snatRules, dnatRules: c.dnatRules, timeout: timeoutsNs(c.timeouts) });
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

/** A session map entry leaving (EGRESS) as a natting-table row; the reverse entries are not listed. */
export function sessionRow(k: Uint8Array, v: Uint8Array): Session | undefined {
  const key = sessionKey.decode(k), val = sessionValue.decode(v);
  if (key.dir !== EGRESS) return undefined;
  return {
    "internal-src": numberToIpv4(key.src),
    "internal-dst": numberToIpv4(key.dst),
    "internal-sport": key.sport,
    "internal-dport": key.dport,
    proto: PROTO_NAME[key.proto] ?? String(key.proto),
    "originating-rule": KINDS[val.kind] ?? "snat",
    "external-ip": numberToIpv4(val.ip),
    "external-port": val.port,
  };
}

/** The key of a session entry's other entry: the packet as the entry translates it, turned round (partner_key in nat.bpf.c). */
export function partnerKey(k: Uint8Array, v: Uint8Array): Uint8Array {
  const key = sessionKey.decode(k), val = sessionValue.decode(v);
  let { src, dst, sport, dport } = key;
  if (val.rewriteSrc) [src, sport] = [val.ip, val.port];
  else [dst, dport] = [val.ip, val.port];
  if (key.proto === ICMP) sport = dport = val.port;
  return sessionKey.encode({ src: dst, dst: src, sport: dport, dport: sport, proto: key.proto, dir: key.dir ^ 1, pad: 0 });
}

/** An entry's deadline (CLOCK_BOOTTIME ns). */
export function expiresOf(v: Uint8Array): bigint {
  return sessionValue.decode(v).expires;
}

/**
 * The sessions alive at `now` (CLOCK_BOOTTIME ns, the datapath's clock), as the datapath judges
 * them: a session lives while either of its entries' deadlines is ahead. Each with the entries
 * that make it (the listed one first), for deleting.
 */
export function liveSessions(entries: Array<[Uint8Array, Uint8Array]>, now: bigint): Array<{ row: Session; keys: Uint8Array[] }> {
  const byKey = new Map(entries.map(([k, v]) => [keyHex(k), v]));
  const out: Array<{ row: Session; keys: Uint8Array[] }> = [];
  for (const [k, v] of entries) {
    const row = sessionRow(k, v);
    if (!row) continue;
    const pk = partnerKey(k, v);
    const pv = byKey.get(keyHex(pk));
    const mine = pv !== undefined && keyHex(partnerKey(pk, pv)) === keyHex(k); /* the datapath's check too */
    if (expiresOf(v) > now || (mine && expiresOf(pv) > now)) out.push({ row, keys: mine ? [k, pk] : [k] });
  }
  return out;
}
