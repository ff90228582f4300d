// What a LOG rule reports: one line per packet the datapath copied to the slow path, naming the
// chain, the rule (or the default) and the packet's addresses, protocol and ports.
import { formatIp, PROTO_NAME } from "./rules.ts";

/** "TCP 10.0.0.1:40000 -> 10.0.0.2:80" (no ports for other protocols); undefined when not IPv4. */
export function describePacket(frame: Uint8Array): string | undefined {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 34 || v.getUint16(12, false) !== 0x0800) return undefined;
  const ihl = (v.getUint8(14) & 0x0f) * 4;
  const proto = v.getUint8(23);
  const src = formatIp(v.getUint32(26, false)), dst = formatIp(v.getUint32(30, false));
  const name = PROTO_NAME[proto] ?? `proto ${proto}`;
  const l4 = 14 + ihl;
  const firstFragment = (v.getUint16(20, false) & 0x1fff) === 0;
  if ((proto === 6 || proto === 17) && firstFragment && frame.length >= l4 + 4) {
    return `${name} ${src}:${v.getUint16(l4, false)} -> ${dst}:${v.getUint16(l4 + 2, false)}`;
  }
  return `${name} ${src} -> ${dst}`;
}

/** The log line of a LOG action: `rule` is the rule's id, or undefined for the chain's default. */
export function logLine(chain: string, rule: number | undefined, frame: Uint8Array): string {
  const what = rule === undefined ? "default" : `rule ${rule}`;
  return `chain ${chain} ${what} LOG: ${describePacket(frame) ?? `non-IPv4 frame of ${frame.length} bytes`}`;
}
