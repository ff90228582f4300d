// What a LOG rule reports: one line per packet the datapath copied to the slow path, naming the
// chain, the rule (or the default) and the packet's addresses, protocol and ports.
import { parseIpv4Header, parseL4Ports } from "../../lib/sdk/frames.ts";
import { PROTO_NAME } from "./rules.ts";

/** "TCP 10.0.0.1:40000 -> 10.0.0.2:80" (no ports for other protocols); undefined when not IPv4. */
export function describePacket(frame: Uint8Array): string | undefined {
  const ip = parseIpv4Header(frame);
  if (!ip) return undefined;
  const name = PROTO_NAME[ip.protocol] ?? `proto ${ip.protocol}`;
  const ports = parseL4Ports(frame);
  return ports ? `${name} ${ip.src}:${ports.sport} -> ${ip.dst}:${ports.dport}` : `${name} ${ip.src} -> ${ip.dst}`;
}

/** The log line of a LOG action: `rule` is the rule's id, or undefined for the chain's default. */
export function logLine(chain: string, rule: number | undefined, frame: Uint8Array): string {
  const what = rule === undefined ? "default" : `rule ${rule}`;
  return `chain ${chain} ${what} LOG: ${describePacket(frame) ?? `non-IPv4 frame of ${frame.length} bytes`}`;
}
