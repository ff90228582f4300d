// pbforwarder rows: N rules with the matching one last, polycube's policy-based forwarder beside
// what Linux has for "this packet goes out of that port" by rule, in the same run:
//   pcn-pbf<N>-tc, -xdpdrv   pbforwarder cube (TC / XDP_DRV), ports "in" (generator) and "out"
//                            (sink); N-1 rules `dst_ip 10.200.x.y, l4_proto UDP, dst_port 9, DROP`,
//                            then `dst_ip <sink>, l4_proto UDP, dst_port 9, FORWARD out`;
//                            baseline nft-pbf<N>
//   nft-pbf<N>               nftables netdev ingress chain on the ingress veth, policy drop, the
//                            same N rules (`ip daddr … udp dport 9 drop`, the last `fwd to` the
//                            egress veth);                                baseline nft-netdev-fwd
//   nft-netdev-fwd           the same chain with the forwarding rule alone;  baseline veth
//   tc-u32-pbf<N>            tc on the ingress veth (clsact): N u32 filters, one per priority,
//                            matching the same fields, every one `mirred egress redirect` to the
//                            egress veth (this kernel has no flower, no gact); baseline tc-redirect
//   tc-redirect              one u32 filter matching everything, mirred redirect; baseline veth
//   iptables-pbf<N>          the firewall rows' iptables set-up (Linux bridge, br_netfilter, N
//                            FORWARD rules, the match last, policy DROP); baseline linux-bridge-nf
// pbforwarder classifies by tuple space search (one lookup per shape of rule in use): the N rules
// here have one shape. nft, tc and iptables walk their rules in order. Key "pbf" selects all
// these rows and their baselines; pbfReport() adds a table of the ratios.
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NET, NotAvailable, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import { FLOW_PORT } from "../lib/frame.ts";
import type { Lab } from "../lib/lab.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import type { Row } from "../lib/report.ts";
import { inNs, sh } from "../lib/sh.ts";
import { netfilterFirewall } from "./firewall.ts";
import { TAG, type CubeType } from "./polycube.ts";

export const PBF_GROUP = "pbf";
export const PBF_RULE_COUNTS = [10, 1000];

const count = (n: number) => n.toLocaleString("en");

/** Filler i's destination: 10.200.0.0 and up, never the sink's address. */
const filler = (i: number) => `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

function have(cmd: string): boolean {
  return sh(`command -v ${cmd}`, { allowFail: true }).trim() !== "";
}

/** Rule sets loaded in set-up, timed, by row key (pbfReport lists them). */
const loads = new Map<string, { rules: number; seconds: number; how: string }>();

/** Runs `tool` on a file holding `lines` (one batch), timed for `key`. */
function batch(key: string, rules: number, tool: string, lines: string[], ns: string | null): void {
  const file = join(tmpdir(), `pcnb-${key}-${process.pid}`);
  writeFileSync(file, lines.join("\n") + "\n");
  try {
    const t0 = performance.now();
    sh(`${inNs(ns)}${tool} ${file}`);
    loads.set(key, { rules, seconds: (performance.now() - t0) / 1e3, how: `\`${tool} FILE\`` });
  } finally {
    rmSync(file, { force: true });
  }
}

export function polycubePbf(pcn: Polycubed, type: CubeType, n: number): DeviceUnderTest {
  let name = "";
  const key = `pcn-pbf${n}-${TAG[type]}`;
  return {
    key,
    label: `polycube pbforwarder, ${count(n)} rules, match last (${type})`,
    baseline: `nft-pbf${n}`,
    group: PBF_GROUP,
    placement: "root",
    async setup(ends: PathEnds, lab: Lab) {
      name = lab.name("pbf");
      const rules: unknown[] = [];
      for (let i = 0; i < n - 1; i++) rules.push({ id: i, dst_ip: filler(i), l4_proto: "UDP", dst_port: FLOW_PORT, action: "DROP" });
      rules.push({ id: n - 1, dst_ip: NET.sinkIp, l4_proto: "UDP", dst_port: FLOW_PORT, action: "FORWARD", out_port: "out" });
      await pcn.rest("POST", `/pbforwarder/${name}/`, { type, ports: [{ name: "in", peer: ends.ingress }, { name: "out", peer: ends.egress }] });
      const t0 = performance.now();
      await pcn.rest("PATCH", `/pbforwarder/${name}/`, { rules });
      loads.set(key, { rules: n, seconds: (performance.now() - t0) / 1e3, how: "one REST request: PATCH of the cube with its rules" });
      // The list as the original shows it: the entries, then a ["_links", …] element.
      const got = ((await pcn.rest("GET", `/pbforwarder/${name}/rules/`)) as unknown[]).filter((e) => !Array.isArray(e));
      if (got.length !== n) throw new Error(`the pbforwarder has ${got.length} rules, not ${n}`);
      return { dstMac: ends.sink.mac };
    },
    async teardown() {
      if (name) await pcn.rest("DELETE", `/pbforwarder/${name}/`).catch(() => undefined);
    },
  };
}

const NFT_TABLE = "pcnbpbf";

/** nftables netdev ingress chain on ingress, policy drop: N rules, the last `fwd to` egress (n = 0: that rule alone). */
export function nftPbf(n: number): DeviceUnderTest {
  const key = n === 0 ? "nft-netdev-fwd" : `nft-pbf${n}`;
  return {
    key,
    label: n === 0 ? "nftables netdev ingress: one rule, `fwd to` the egress veth" : `nftables netdev ingress, ${count(n)} rules, match last \`fwd to\` the egress veth`,
    baseline: n === 0 ? "veth" : "nft-netdev-fwd",
    group: PBF_GROUP,
    placement: "netns",
    setup(ends: PathEnds) {
      if (!have("nft")) throw new NotAvailable("nft is not installed (build/deps.sh installs it)");
      const lines = [`table netdev ${NFT_TABLE} {`, " chain c {", `  type filter hook ingress device ${ends.ingress} priority 0; policy drop;`];
      for (let i = 0; i < n - 1; i++) lines.push(`  ip daddr ${filler(i)} udp dport ${FLOW_PORT} drop`);
      lines.push(n === 0 ? `  counter fwd to ${ends.egress}` : `  ip daddr ${NET.sinkIp} udp dport ${FLOW_PORT} counter fwd to ${ends.egress}`, " }", "}");
      batch(key, Math.max(n, 1), "nft -f", lines, ends.ns);
      return { dstMac: ends.sink.mac };
    },
    describe(ends: PathEnds) {
      const c = sh(`${inNs(ends.ns)}nft list chain netdev ${NFT_TABLE} c`, { allowFail: true }).match(/counter packets (\d+)/);
      return c ? `the forwarding rule counted ${count(Number(c[1]))} frames` : undefined;
    },
    teardown(ends: PathEnds) {
      sh(`${inNs(ends.ns)}nft delete table netdev ${NFT_TABLE}`, { allowFail: true });
    },
  };
}

/** tc clsact on ingress: N u32 filters, one per priority, the last matching (n = 0: one that matches everything). */
export function tcU32(n: number): DeviceUnderTest {
  const key = n === 0 ? "tc-redirect" : `tc-u32-pbf${n}`;
  const redirect = (egress: string) => `action mirred egress redirect dev ${egress}`;
  const match = (ip: string) => `u32 match ip dst ${ip}/32 match ip protocol 17 0xff match ip dport ${FLOW_PORT} 0xffff`;
  return {
    key,
    label: n === 0 ? "tc ingress: one u32 filter matching everything, mirred redirect to the egress veth" : `tc ingress, ${count(n)} u32 filters (one per priority), match last, mirred redirect to the egress veth`,
    baseline: n === 0 ? "veth" : "tc-redirect",
    group: PBF_GROUP,
    placement: "netns",
    setup(ends: PathEnds) {
      sh(`${inNs(ends.ns)}tc qdisc add dev ${ends.ingress} clsact`);
      const lines: string[] = [];
      const add = (prio: number, what: string) => lines.push(`filter add dev ${ends.ingress} ingress prio ${prio} protocol ip ${what} ${redirect(ends.egress)}`);
      if (n === 0) add(1, "u32 match u32 0 0");
      for (let i = 0; i < n - 1; i++) add(i + 1, match(filler(i)));
      if (n > 0) add(n, match(NET.sinkIp));
      batch(key, Math.max(n, 1), "tc -batch", lines, ends.ns);
      return { dstMac: ends.sink.mac };
    },
    describe(ends: PathEnds) {
      const out = sh(`${inNs(ends.ns)}tc -s filter show dev ${ends.ingress} ingress prio ${Math.max(n, 1)}`, { allowFail: true });
      const sent = out.match(/Sent \d+ bytes (\d+) pkt/);
      return sent ? `the last filter's action counted ${count(Number(sent[1]))} frames` : undefined;
    },
    teardown(ends: PathEnds) {
      sh(`${inNs(ends.ns)}tc qdisc del dev ${ends.ingress} clsact`, { allowFail: true });
    },
  };
}

/** The firewall rows' iptables set-up under a key of this group. */
function iptablesPbf(n: number): DeviceUnderTest {
  const fw = netfilterFirewall("iptables", { n, ct: false, shapes: false });
  return {
    key: `iptables-pbf${n}`,
    label: `${fw.label}, for the pbforwarder rows`,
    baseline: fw.baseline,
    group: PBF_GROUP,
    placement: fw.placement,
    setup: (ends, lab) => fw.setup(ends, lab),
    describe: (ends) => fw.describe?.(ends),
    teardown: (ends) => fw.teardown?.(ends),
  };
}

export function pbforwarderScenarios(pcn: Polycubed): DeviceUnderTest[] {
  const rows: DeviceUnderTest[] = [nftPbf(0), tcU32(0)];
  for (const n of PBF_RULE_COUNTS) {
    rows.push(polycubePbf(pcn, "TC", n), polycubePbf(pcn, "XDP_DRV", n), nftPbf(n), tcU32(n), iptablesPbf(n));
  }
  return rows;
}

/** The ratio table: each pbforwarder row beside each Linux row of the same rule count. */
export function pbfReport(rows: Row[]): string[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  if (![...byKey.keys()].some((k) => k.startsWith("pcn-pbf"))) return [];
  const ns = (k: string) => byKey.get(k)?.nsPerPkt;
  const f1 = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(1));
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? "n/a" : (a / b).toFixed(2));
  const linux: Array<[string, string]> = [["nft-pbf", "nftables netdev `fwd to`"], ["tc-u32-pbf", "tc u32 + mirred"], ["iptables-pbf", "iptables FORWARD on a bridge"]];
  const lines = [
    "## pbforwarder beside Linux: 10 and 1,000 rules, match last",
    "",
    "End-to-end ns/pkt (best trial) from the table above, and the speed-up of polycube over each Linux path (Linux ns/pkt ÷ polycube ns/pkt; above 1: polycube is faster).",
    "",
    "| rules | pbforwarder TC | pbforwarder XDP_DRV | " + linux.map(([, l]) => l).join(" | ") + " | TC speed-up vs " + linux.map(([, l]) => l).join(" / ") + " | XDP_DRV speed-up vs the same |",
    "|---:|---:|---:|" + linux.map(() => "---:|").join("") + "---:|---:|",
  ];
  for (const n of PBF_RULE_COUNTS) {
    const tc = ns(`pcn-pbf${n}-tc`);
    const xdp = ns(`pcn-pbf${n}-xdpdrv`);
    const l = linux.map(([k]) => ns(`${k}${n}`));
    lines.push(`| ${count(n)} | ${f1(tc)} | ${f1(xdp)} | ${l.map(f1).join(" | ")} | ${l.map((x) => ratio(x, tc)).join(" / ")} | ${l.map((x) => ratio(x, xdp)).join(" / ")} |`);
  }
  const flat = (t: string) => ratio(ns(`pcn-pbf${PBF_RULE_COUNTS[1]}-${t}`), ns(`pcn-pbf${PBF_RULE_COUNTS[0]}-${t}`));
  lines.push(
    "",
    `pbforwarder at ${count(PBF_RULE_COUNTS[1]!)} rules ÷ at ${count(PBF_RULE_COUNTS[0]!)}: ${flat("tc")} (TC), ${flat("xdpdrv")} (XDP_DRV); the rules have one shape, so its tuple space search is one lookup whatever their number. The Linux paths walk their rules in order.`,
    "",
    "| rule set | rules | seconds | how |",
    "|---|---:|---:|---|",
  );
  for (const [key, l] of loads) if (byKey.has(key)) lines.push(`| ${byKey.get(key)!.label} | ${count(l.rules)} | ${l.seconds.toFixed(3)} | ${l.how} |`);
  lines.push("");
  return lines;
}
