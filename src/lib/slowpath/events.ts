// Records the datapath writes to the pcn_events ring buffer (bpf/polycube.h): packets sent to
// the slow path and pcn_log messages, decoded and formatted for the control plane.

export const EV_PACKET = 1;
export const EV_LOG = 2;
/** Span mode (XDP cubes): a copy of a packet for the shadow interface of `port`. */
export const EV_SPAN = 3;

export interface PacketEvent {
  type: typeof EV_PACKET | typeof EV_SPAN;
  cubeId: number;
  /** Input port id, or the direction for transparent cubes. */
  port: number;
  reason: number;
  pktLen: number;
  trafficClass: number;
  metadata: [number, number, number];
  /** The frame, with a VLAN tag the kernel kept aside put back in place. */
  data: Uint8Array;
}

export interface LogEvent {
  type: typeof EV_LOG;
  cubeId: number;
  level: number;
  message: string;
}

// struct pcn_pkt_event: u16 type, cube_id, port, reason; u32 len, pkt_len, traffic_class, md[3]; u16 vlan_tci, vlan_proto
const PKT_HEADER = 36;
// struct pcn_log_event: u16 type, cube_id, level, nargs; u64 args[4]; char fmt[]
const LOG_ARGS = 8;
const LOG_FMT = 40;

export function decodeEvent(rec: Uint8Array): PacketEvent | LogEvent | undefined {
  if (rec.length < 8) return undefined;
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const type = v.getUint16(0, true);
  const cubeId = v.getUint16(2, true);
  if ((type === EV_PACKET || type === EV_SPAN) && rec.length >= PKT_HEADER) {
    const len = Math.min(v.getUint32(8, true), rec.length - PKT_HEADER);
    let data: Uint8Array = rec.slice(PKT_HEADER, PKT_HEADER + len);
    const vlanTci = v.getUint16(32, true);
    const vlanProto = v.getUint16(34, false);
    if (vlanProto) data = insertVlanTag(data, vlanProto, vlanTci);
    return {
      type,
      cubeId,
      port: v.getUint16(4, true),
      reason: v.getUint16(6, true),
      pktLen: v.getUint32(12, true),
      trafficClass: v.getUint32(16, true),
      metadata: [v.getUint32(20, true), v.getUint32(24, true), v.getUint32(28, true)],
      data,
    };
  }
  if (type === EV_LOG && rec.length >= LOG_FMT) {
    const level = v.getUint16(4, true);
    const nargs = Math.min(4, v.getUint16(6, true));
    const args = Array.from({ length: nargs }, (_, i) => v.getBigUint64(LOG_ARGS + i * 8, true));
    const fmtBytes = rec.subarray(LOG_FMT);
    const end = fmtBytes.indexOf(0);
    const fmt = new TextDecoder().decode(end >= 0 ? fmtBytes.subarray(0, end) : fmtBytes);
    return { type, cubeId, level, message: formatLog(fmt, args) };
  }
  return undefined;
}

/** A VLAN header after the two MAC addresses. */
export function insertVlanTag(frame: Uint8Array, proto: number, tci: number): Uint8Array {
  if (frame.length < 12) return frame;
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  const v = new DataView(out.buffer);
  v.setUint16(12, proto, false);
  v.setUint16(14, tci, false);
  out.set(frame.subarray(12), 16);
  return out;
}

function ipv4(n: bigint): string {
  // Network byte order in the low 32 bits, read as a little-endian integer.
  const x = Number(n & 0xffffffffn);
  return [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24].join(".");
}

function macOf(n: bigint): string {
  return Array.from({ length: 6 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, "0")).join(":");
}

function port(n: bigint): string {
  const x = Number(n & 0xffffn);
  return String(((x & 0xff) << 8) | (x >> 8));
}

function signed(n: bigint, long: boolean): bigint {
  return long ? BigInt.asIntN(64, n) : BigInt.asIntN(32, n & 0xffffffffn);
}

/**
 * printf for datapath logs: %d %i %u %x %X %c %s-less integer forms with l/ll/h/z length
 * modifiers, %% and the Polycube extras %I (IPv4), %M (MAC) and %P (L4 port).
 */
export function formatLog(fmt: string, args: bigint[]): string {
  let i = 0;
  const next = () => args[i++] ?? 0n;
  return fmt.replace(/%(-?0?\d*)(hh|h|ll|l|z)?([diuxXcIMP%])/g, (_m, width: string, len: string | undefined, conv: string) => {
    if (conv === "%") return "%";
    const long = len === "l" || len === "ll" || len === "z";
    const a = next();
    let s: string;
    switch (conv) {
      case "d":
      case "i": s = signed(a, long).toString(); break;
      case "u": s = (long ? a : a & 0xffffffffn).toString(); break;
      case "x": s = (long ? a : a & 0xffffffffn).toString(16); break;
      case "X": s = (long ? a : a & 0xffffffffn).toString(16).toUpperCase(); break;
      case "c": s = String.fromCharCode(Number(a & 0xffn)); break;
      case "I": s = ipv4(a); break;
      case "M": s = macOf(a); break;
      default: s = port(a);
    }
    const w = Number.parseInt(width.replace("-", ""), 10);
    if (!w || s.length >= w) return s;
    if (width.startsWith("-")) return s.padEnd(w);
    return width.startsWith("0") ? s.padStart(w, "0") : s.padStart(w);
  });
}
