// IPv4 text for services: addresses and prefixes, parsed once and strictly, as the models'
// ietf-inet-types write them: a.b.c.d in decimal without leading zeros (inet_aton would read
// "010" as octal) and "/n" with n <= 32, also without leading zeros. Numbers are host order
// (10.0.0.1 is 0x0a000001); bytes are wire order.

const DOTTED = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const LENGTH = /^(0|[1-9]\d?)$/;

/** "10.0.0.1" -> 0x0a000001; undefined when the text is not a strict dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    n = n * 256 + o;
  }
  return n >>> 0;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

/** "10.0.0.1" -> 0x0a000001; throws "invalid IPv4 address '...'" on bad text. */
export function ipv4ToNumber(text: string): number {
  const n = parseIpv4(text);
  if (n === undefined) throw new Error(`invalid IPv4 address '${text}'`);
  return n;
}

/** 0x0a000001 -> "10.0.0.1". */
export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** "10.0.0.1" -> its 4 bytes in wire order; throws on bad text. */
export function ipv4ToBytes(text: string): Uint8Array {
  const n = ipv4ToNumber(text);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** Prefix length -> mask (host order); 0 gives 0. */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export interface Ipv4Prefix {
  /** The address as written (host bits kept), host order. */
  addr: number;
  len: number;
  /** The network address (host bits cleared), host order. */
  network: number;
}

/**
 * "10.0.0.1/24" -> its parts; undefined on bad text. With `bare`, an address without "/n" is
 * accepted as a /32.
 */
export function parseIpv4Prefix(text: string, opts: { bare?: boolean } = {}): Ipv4Prefix | undefined {
  const slash = text.indexOf("/");
  if (slash < 0 && !opts.bare) return undefined;
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (addr === undefined) return undefined;
  let len = 32;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!LENGTH.test(l) || Number(l) > 32) return undefined;
    len = Number(l);
  }
  return { addr, len, network: (addr & prefixMask(len)) >>> 0 };
}

/** "10.0.0.1/24" -> its parts; throws "invalid IPv4 prefix '...'" on bad text. */
export function ipv4PrefixOf(text: string, opts: { bare?: boolean } = {}): Ipv4Prefix {
  const p = parseIpv4Prefix(text, opts);
  if (!p) throw new Error(`invalid IPv4 prefix '${text}'`);
  return p;
}

/** The address part of an interface address or prefix as written: "10.0.0.1/24" -> "10.0.0.1". */
export function prefixAddress(text: string): string {
  const slash = text.indexOf("/");
  return slash < 0 ? text : text.slice(0, slash);
}

/** True when the prefix was written with host bits set ("10.0.0.1/24"). */
export function hasHostBits(p: Ipv4Prefix): boolean {
  return p.addr !== p.network;
}

/** "10.0.0.0/24" as its network is written: host bits cleared. */
export function formatPrefix(p: Pick<Ipv4Prefix, "network" | "len">): string {
  return `${numberToIpv4(p.network)}/${p.len}`;
}

/** True when the address (host order) is inside the prefix. */
export function inPrefix(addr: number, p: Pick<Ipv4Prefix, "network" | "len">): boolean {
  return ((addr & prefixMask(p.len)) >>> 0) === p.network;
}

/**
 * Why an address (host order) cannot be a host's own unicast address, or undefined when it can:
 * "this network" (0.0.0.0/8), loopback (127.0.0.0/8), multicast (224.0.0.0/4), reserved and
 * limited broadcast (240.0.0.0/4).
 */
export function notUnicastIpv4(addr: number): string | undefined {
  const first = addr >>> 24;
  if (first === 0) return "is in 0.0.0.0/8 (this network)";
  if (first === 127) return "is a loopback address";
  if (first >= 224 && first < 240) return "is a multicast address";
  if (first >= 240) return addr >>> 0 === 0xffffffff ? "is the broadcast address" : "is a reserved address (240.0.0.0/4)";
  return undefined;
}
