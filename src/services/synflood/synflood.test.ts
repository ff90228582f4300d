// synflood's model (the original's tree; ours adds the transparent base's parent) and its statistics
// computed from /proc/net/snmp as the original computes them.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadModule } from "../../lib/yang/index.ts";
import { parseSnmp, ratio, readSnmp, statsOf } from "./stats.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "synflood.yang");

const SNMP = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests
Ip: 2 64 1999 0 0 0 0 0 1500 3000
Icmp: InMsgs InErrors
Icmp: 4 0
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 83 53 29 1 6 154 152 1 0 33 0
`;

describe("synflood", () => {
  test("model loads in our engine and yanglint, with its tree", () => {
    loadModule(readFileSync(file, "utf8"));
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    // The stored tree is the original's, which predates the transparent base's read-only parent.
    expect(tree.replace(/^ {2}\+--ro parent\? +string\n/m, "")).toBe(readFileSync(join(import.meta.dir, "synflood.tree"), "utf8"));
  });

  test("statistics from the snmp counters, ratios scaled by 1000 over InReceives + 1", () => {
    const m = parseSnmp(SNMP);
    expect(m.get("Tcp.AttemptFails")).toBe(29);
    expect(m.get("Tcp.MaxConn")).toBe(-1);
    expect(statsOf(m, 1234)).toEqual({ tcpattemptfails: "29", tcpoutrsts: "33", deliverratio: "750", responseratio: "1500", lastupdate: 1234 });
    expect(statsOf(new Map(), 5)).toEqual({ tcpattemptfails: "0", tcpoutrsts: "0", deliverratio: "0", responseratio: "0", lastupdate: 5 });
    expect(ratio(0, 0)).toBe("0");
    expect(ratio(1, 2)).toBe("333");
  });

  test("this host's counters are there", () => {
    const m = readSnmp();
    expect(m.has("Ip.InReceives")).toBe(true);
    expect(m.has("Tcp.OutRsts")).toBe(true);
  });
});
