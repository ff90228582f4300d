// synflood's statistics, as the original computes them from the host's counters (it ran
// `nstat -a`, which reads /proc/net/snmp): TCP AttemptFails and OutRsts, and two ratios scaled
// by 1000, InDelivers / (InReceives + 1) and OutRequests / (InReceives + 1). Read on every
// request. Pure but for readSnmp().
import { readFileSync } from "node:fs";

export const RATIO_MULTIPLIER = 1000;

/** /proc/net/snmp as { "Ip.InReceives": n, "Tcp.OutRsts": n, ... }: header lines then value lines. */
export function parseSnmp(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split("\n").filter((l) => l.trim());
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    const proto = head[0]!.replace(/:$/, "");
    if (vals[0] !== head[0]) continue;
    for (let j = 1; j < head.length; j++) out.set(`${proto}.${head[j]}`, Number(vals[j]));
  }
  return out;
}

export function readSnmp(file = "/proc/net/snmp"): Map<string, number> {
  try {
    return parseSnmp(readFileSync(file, "utf8"));
  } catch {
    return new Map();
  }
}

export interface SynfloodStats {
  tcpattemptfails: string;
  tcpoutrsts: string;
  deliverratio: string;
  responseratio: string;
  lastupdate: number;
}

/**
 * The original's ratio: counters as floats, the quotient and product in double precision,
 * stored in a float, truncated; a missing counter gives 0.
 */
export function ratio(num: number | undefined, received: number | undefined): string {
  if (num === undefined || received === undefined) return "0";
  return String(Math.trunc(Math.fround((Math.fround(num) / (Math.fround(received) + 1)) * RATIO_MULTIPLIER)));
}

export function statsOf(snmp: Map<string, number>, now: number): SynfloodStats {
  const received = snmp.get("Ip.InReceives");
  return {
    tcpattemptfails: String(snmp.get("Tcp.AttemptFails") ?? 0),
    tcpoutrsts: String(snmp.get("Tcp.OutRsts") ?? 0),
    deliverratio: ratio(snmp.get("Ip.InDelivers"), received),
    responseratio: ratio(snmp.get("Ip.OutRequests"), received),
    lastupdate: now,
  };
}
