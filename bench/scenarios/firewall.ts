// Firewall rows: N rules with the matching rule last, polycube's firewall beside iptables and
// nftables doing the same filtering. Every row bridges the generator's veth to the sink's, so the
// filter is the only difference from its baseline:
//   pcn-fw<N>-tc, -xdpdrv    simplebridge (TC / XDP_DRV) + a firewall cube of the same type on
//                            its "in" port, conntrack OFF (only the rules decide);
//                            baseline pcn-simplebridge-tc / -xdpdrv
//   iptables-fw<N>           Linux bridge, br_netfilter on, N rules in FORWARD (the system's
//                            iptables: nf_tables backend on Debian 12); baseline linux-bridge-nf
//   iptables-legacy-fw<N>    the same with iptables-legacy (x_tables);     baseline linux-bridge-nf
//   nft-fw<N>                the same N rules in an nftables forward hook; baseline linux-bridge-nf
// and with connection tracking, the flow ESTABLISHED (the sink answers the generator once before
// every trial, see DeviceUnderTest.establish):
//   pcn-fw<N>-ct-tc, -xdpdrv the firewall's defaults: conntrack ON, accept-established ON
//                            (ESTABLISHED packets skip the rules), the same N rules
//   iptables-fw<N>-ct, iptables-legacy-fw<N>-ct, nft-fw<N>-ct
//                            `-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT` /
//                            `ct state established,related accept` first, then the same N rules
// The first N-1 rules name source prefixes and TCP ports that the generated UDP flow never has;
// the last accepts it; at 10,000 rules, "-shapes" rows (pcn-fw10000-shapes-tc,
// iptables-fw10000-shapes) spread them over 75 shapes (prefix lengths x which ports) instead of
// one, as the firewall's tuple space search costs one lookup per shape. The chain's default
// (policy) is DROP, so a row that loses the last rule delivers nothing. Every rule set is loaded in one go (one batch request, one iptables-restore,
// one nft -f), timed; firewallReport() puts those times and the issue's goals in the report.
// Key "fw" on the command line selects all these rows and their baselines.
import { writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANSWER_MAC, NET, NotAvailable, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import { FLOW_PORT } from "../lib/frame.ts";
import type { Lab } from "../lib/lab.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import type { Row } from "../lib/report.ts";
import { inNs, sh } from "../lib/sh.ts";
import { linuxBridge } from "./linux.ts";
import { TAG, type CubeType } from "./polycube.ts";

/** Rule-set sizes of the rows with conntrack off (polycube TC, iptables, nftables). */
export const FW_RULE_COUNTS = [10, 1000, 10_000];
/** The XDP_DRV rows: the smallest and the largest rule set (each row costs run time). */
const FW_XDP_COUNTS = [10, 10_000];
/** The rule set of the conntrack rows and of the many-shapes rows. */
const FW_CT_COUNT = 10_000;
/** Many-shapes rule sets: source prefix lengths /8 to /32 x (dport | sport | both). */
const SHAPE_LENGTHS = 25;
const SHAPE_PORTS = 3;
/** The command-line key of every firewall row. */
export const FW_GROUP = "fw";

/** The issue's goals: flat cost from 10 to 10,000 rules, and 20x iptables at 10,000 rules. */
const GOAL = { from: 10, to: 10_000, speedup: 20, flat: 1.1 };

type Tool = "iptables" | "iptables-legacy" | "nft";

const count = (n: number) => n.toLocaleString("en");
const rules = (n: number) => `${count(n)} rule${n > 1 ? "s" : ""}`;

/**
 * A row's rule set: n rules, the match last; `shapes`: the fillers spread over
 * SHAPE_LENGTHS x SHAPE_PORTS shapes (prefix length, which ports) instead of one.
 */
interface RuleSet {
  n: number;
  ct: boolean;
  shapes: boolean;
}

const suffix = (r: RuleSet) => `${r.shapes ? "-shapes" : ""}${r.ct ? "-ct" : ""}`;
const shapeCount = (r: RuleSet) => (r.shapes ? Math.min(r.n - 1, SHAPE_LENGTHS * SHAPE_PORTS) : 1) + 1;
const setLabel = (r: RuleSet) => `${rules(r.n)}${r.shapes ? ` in ${shapeCount(r)} shapes` : ""}, match last`;

/** A non-matching TCP rule: a source prefix and ports the flow never has. */
interface Filler {
  src: string;
  sport?: number;
  dport?: number;
}

/**
 * Filler i: distinct for i < 14,336 (its port). One shape: 10.<200+i/256>.<i%256>.0/24 and a
 * destination port. Many shapes: a prefix of /8 to /32 of an address in 172.16.0.1 to
 * 172.55.255.1 (never the flow's 10.250.1.2), with a destination port, a source port or both.
 */
function filler(i: number, shapes: boolean): Filler {
  if (!shapes) return { src: `10.${200 + (i >> 8)}.${i & 255}.0/24`, dport: 1000 + i };
  const len = 8 + (i % SHAPE_LENGTHS);
  const ports = Math.floor(i / SHAPE_LENGTHS) % SHAPE_PORTS;
  const addr = ((172 << 24) | ((16 + (i >> 8)) << 16) | ((i & 255) << 8) | 1) >>> 0;
  const net = len === 0 ? 0 : (addr & (~0 << (32 - len))) >>> 0;
  const src = `${[24, 16, 8, 0].map((b) => (net >>> b) & 255).join(".")}/${len}`;
  return { src, ...(ports !== 1 ? { dport: 1000 + i } : {}), ...(ports !== 0 ? { sport: 1000 + i } : {}) };
}

/** Filler i as iptables and nft rule text. */
function fillerText(f: Filler, tool: Tool): string {
  if (tool === "nft") return `ip saddr ${f.src} tcp${f.sport !== undefined ? ` sport ${f.sport}` : ""}${f.dport !== undefined ? ` dport ${f.dport}` : ""} accept`;
  return `-A FORWARD -s ${f.src} -p tcp${f.sport !== undefined ? ` --sport ${f.sport}` : ""}${f.dport !== undefined ? ` --dport ${f.dport}` : ""} -j ACCEPT`;
}

/** Rule-set loads, timed in set-up, by row key (firewallReport lists them). */
interface Load {
  label: string;
  rules: number;
  seconds: number;
  how: string;
}
const loads = new Map<string, Load>();

function have(cmd: string): boolean {
  return sh(`command -v ${cmd}`, { allowFail: true }).trim() !== "";
}

let flavour: string | undefined;
/** "iptables (nf_tables backend)" or "iptables (legacy)", from `iptables --version`. */
function iptablesName(): string {
  flavour ??= /nf_tables/.test(sh("iptables --version 2>&1", { allowFail: true })) ? "nf_tables backend" : "legacy";
  return `iptables (${flavour})`;
}

function toolName(tool: Tool): string {
  return tool === "nft" ? "nftables" : tool === "iptables" ? iptablesName() : "iptables-legacy (x_tables)";
}

function ctLabel(ct: boolean): string {
  return ct ? ", conntrack ON (automatic mode: the ESTABLISHED flow skips the rules)" : ", conntrack OFF";
}

export function polycubeFirewall(pcn: Polycubed, type: CubeType, set: RuleSet): DeviceUnderTest {
  const made: string[] = [];
  let fw = "";
  const { n, ct } = set;
  const key = `pcn-fw${n}${suffix(set)}-${TAG[type]}`;
  return {
    key,
    label: `polycube firewall, ${setLabel(set)}${ctLabel(ct)} (${type}, on a simplebridge port)`,
    baseline: `pcn-simplebridge-${TAG[type]}`,
    group: FW_GROUP,
    placement: "root",
    establish: ct,
    async setup(ends: PathEnds, lab: Lab) {
      const br = lab.name("fwbr");
      fw = lab.name("fw");
      await pcn.rest("POST", `/simplebridge/${br}/`, {
        type,
        ports: [{ name: "in", peer: ends.ingress }, { name: "out", peer: ends.egress }],
        // The sink's answers (ct rows) go to ANSWER_MAC: known, so they do not take the slow path.
        fdb: { entry: [{ address: ends.sink.mac, port: "out" }, { address: ANSWER_MAC, port: "in" }] },
      });
      made.push(`simplebridge/${br}`);
      // conntrack ON and accept-established ON are the defaults: the ct rows leave them.
      await pcn.rest("POST", `/firewall/${fw}/`, { type, ...(ct ? {} : { conntrack: "OFF" }), chain: [{ name: "INGRESS", default: "DROP" }] });
      made.push(`firewall/${fw}`);
      // Entries as lean as the model allows (APPEND needs no id; ACCEPT is the default action):
      // the daemon takes request bodies of up to 1 MiB, and 10,000 entries with an id and an
      // action come to about that much.
      const batch: unknown[] = [];
      for (let i = 0; i < n - 1; i++) batch.push({ operation: "APPEND", ...filler(i, set.shapes), l4proto: "TCP" });
      batch.push({ operation: "APPEND", dst: NET.sinkIp, l4proto: "UDP", action: "ACCEPT" });
      const t0 = performance.now();
      await pcn.rest("POST", `/firewall/${fw}/chain/INGRESS/batch/`, { rules: batch });
      loads.set(key, { label: `polycube firewall (${type})${ct ? ", conntrack ON" : ""}${set.shapes ? `, ${shapeCount(set)} shapes` : ""}`, rules: n, seconds: (performance.now() - t0) / 1e3, how: "one REST request: POST chain/INGRESS/batch, APPEND entries" });
      // The cube must read as this row says, or its figures would be another row's.
      const chain = await pcn.rest("GET", `/firewall/${fw}/chain/INGRESS/`) as { default?: string; rule?: unknown[] };
      if (chain.rule?.length !== n || String(chain.default).toUpperCase() !== "DROP") {
        throw new Error(`chain INGRESS has ${chain.rule?.length ?? 0} rules and default ${chain.default}, not ${n} and DROP`);
      }
      const want = ct ? ["ON", "ON"] : ["OFF", "OFF"];
      const got = [await pcn.rest("GET", `/firewall/${fw}/conntrack/`), await pcn.rest("GET", `/firewall/${fw}/accept-established/`)].map((x) => String(x).toUpperCase());
      if (got.join() !== want.join()) throw new Error(`conntrack ${got[0]}, accept-established ${got[1]}; expected ${want.join(", ")}`);
      await pcn.rest("POST", "/attach", { cube: fw, port: `${br}:in` });
      return { dstMac: ends.sink.mac };
    },
    async describe() {
      const load = loads.get(key);
      const parts = load ? [`${rules(n)} loaded in ${load.seconds.toFixed(3)} s (one batch request)`] : [];
      const stats = await pcn.rest("GET", `/firewall/${fw}/chain/INGRESS/stats/`) as Array<{ id: number; pkts?: number }>;
      const pk = (id: number) => count(Number(stats.find((s) => s.id === id)?.pkts ?? 0));
      parts.push(`rule ${n - 1} (the match) counted ${pk(n - 1)} frames, the default ${pk(n)}`);
      if (ct) {
        const table = await pcn.rest("GET", `/firewall/${fw}/session-table/`) as Array<Record<string, unknown>>;
        const s = (table ?? []).find((e) => e.src === NET.genIp && e.dst === NET.sinkIp && String(e.l4proto).toUpperCase() === "UDP") ??
          (table ?? []).find((e) => e.src === NET.sinkIp && e.dst === NET.genIp && String(e.l4proto).toUpperCase() === "UDP");
        parts.push(s ? `session-table: UDP ${s.src}:${s.sport} -> ${s.dst}:${s.dport} ${s.state} (eta ${s.eta} s); ESTABLISHED frames skip the rules uncounted` : "the flow is not in the session-table");
      }
      return parts.join("; ");
    },
    async teardown() {
      for (const c of made.splice(0).reverse()) await pcn.rest("DELETE", `/${c}/`).catch(() => undefined);
    },
  };
}

/** A Linux bridge with br_netfilter on, then N rules by iptables, iptables-legacy or nft in its namespace. */
export function netfilterFirewall(tool: Tool, set: RuleSet): DeviceUnderTest {
  const bridge = linuxBridge(true);
  const { n, ct } = set;
  const key = `${tool}-fw${n}${suffix(set)}`;
  const ctRule = tool === "nft" ? "ct state established,related accept" : "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT";
  const restore = tool === "nft" ? "nft -f" : `${tool}-restore`;
  return {
    key,
    get label() {
      return `${toolName(tool)}, ${ct ? `\`${ctRule}\` first, then ` : ""}${setLabel(set)} (Linux bridge, br_netfilter)`;
    },
    baseline: "linux-bridge-nf",
    group: FW_GROUP,
    placement: "netns",
    establish: ct,
    async setup(ends: PathEnds, lab: Lab) {
      if (!have(tool)) throw new NotAvailable(`${tool} is not installed (build/deps.sh installs it)`);
      const r = await bridge.setup(ends, lab);
      const file = join(tmpdir(), `pcnb-${key}-${process.pid}`);
      const lines: string[] = [];
      if (tool !== "nft") {
        lines.push("*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]");
        if (ct) lines.push(`-A FORWARD ${ctRule}`);
        for (let i = 0; i < n - 1; i++) lines.push(fillerText(filler(i, set.shapes), tool));
        lines.push(`-A FORWARD -d ${NET.sinkIp} -p udp -j ACCEPT`, "COMMIT", "");
      } else {
        // Counters on the first and the last rule only (iptables counts every rule anyway).
        lines.push("table ip pcnbfw {", " chain forward {", "  type filter hook forward priority 0; policy drop;");
        if (ct) lines.push("  ct state established,related counter accept");
        for (let i = 0; i < n - 1; i++) lines.push(`  ${fillerText(filler(i, set.shapes), tool)}`);
        lines.push(`  ip daddr ${NET.sinkIp} meta l4proto udp counter accept`, " }", "}", "");
      }
      writeFileSync(file, lines.join("\n"));
      try {
        const t0 = performance.now();
        sh(`${inNs(ends.ns)}${restore} ${file}`);
        loads.set(key, { label: toolName(tool) + (ct ? ", conntrack rule first" : "") + (set.shapes ? `, ${shapeCount(set)} shapes` : ""), rules: n + (ct ? 1 : 0), seconds: (performance.now() - t0) / 1e3, how: `\`${restore} FILE\` (one file, process start included)` });
      } finally {
        rmSync(file, { force: true });
      }
      return r;
    },
    describe(ends: PathEnds) {
      const load = loads.get(key);
      const parts = load ? [`loaded in ${load.seconds.toFixed(3)} s (${restore})`] : [];
      let first: number | undefined;
      let last: number | undefined;
      if (tool === "nft") {
        const counters = [...sh(`${inNs(ends.ns)}nft list chain ip pcnbfw forward`, { allowFail: true }).matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
        first = ct ? counters[0] : undefined;
        last = counters.at(-1);
      } else {
        const ruleLines = sh(`${inNs(ends.ns)}${tool} -L FORWARD -v -n -x`, { allowFail: true }).trim().split("\n").slice(2);
        const pkts = (l: string | undefined) => (l === undefined ? undefined : Number(l.trim().split(/\s+/)[0]));
        first = ct ? pkts(ruleLines[0]) : undefined;
        last = pkts(ruleLines.at(-1));
      }
      if (ct && first !== undefined) parts.push(`the ESTABLISHED,RELATED rule counted ${count(first)} frames`);
      if (last !== undefined) parts.push(`the last rule ${count(last)}`);
      return parts.join("; ");
    },
    teardown(ends: PathEnds) {
      if (tool !== "nft") sh(`${inNs(ends.ns)}${tool} -F FORWARD && ${inNs(ends.ns)}${tool} -P FORWARD ACCEPT`, { allowFail: true });
      else sh(`${inNs(ends.ns)}nft delete table ip pcnbfw`, { allowFail: true });
    },
  };
}

export function firewallScenarios(pcn: Polycubed): DeviceUnderTest[] {
  const rows: DeviceUnderTest[] = [];
  const linux = (set: RuleSet) => (["iptables", "iptables-legacy", "nft"] as const).map((t) => netfilterFirewall(t, set));
  for (const n of FW_RULE_COUNTS) {
    const set = { n, ct: false, shapes: false };
    rows.push(polycubeFirewall(pcn, "TC", set));
    if (FW_XDP_COUNTS.includes(n)) rows.push(polycubeFirewall(pcn, "XDP_DRV", set));
    rows.push(...linux(set));
  }
  const ct = { n: FW_CT_COUNT, ct: true, shapes: false };
  rows.push(polycubeFirewall(pcn, "TC", ct), polycubeFirewall(pcn, "XDP_DRV", ct), ...linux(ct));
  // Tuple space search costs one lookup per shape: the same size, spread over many shapes
  // (iptables beside it: a linear walk, whatever the shapes).
  const shapes = { n: FW_CT_COUNT, ct: false, shapes: true };
  rows.push(polycubeFirewall(pcn, "TC", shapes), netfilterFirewall("iptables", shapes));
  return rows;
}

/** The firewall's part of the report: the issue's goals against the measured rows, and the load times. */
export function firewallReport(rows: Row[]): string[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const fw = rows.filter((r) => r.section === "path" && (r.key.startsWith("pcn-fw") || /^(iptables|iptables-legacy|nft)-fw/.test(r.key)));
  if (fw.length === 0) return [];
  const ns = (key: string) => byKey.get(key)?.nsPerPkt;
  const added = (key: string) => {
    const r = byKey.get(key);
    const b = r?.baseline ? byKey.get(r.baseline) : undefined;
    return r?.nsPerPkt !== undefined && b?.nsPerPkt !== undefined ? r.nsPerPkt - b.nsPerPkt : undefined;
  };
  const f1 = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(1));
  const f2 = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(2));
  const div = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  // An added figure at or below 0 means the baseline's best trial was the slower one (noise): no ratio.
  const addedRatio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && (a <= 0 || b <= 0) ? "n/a (an added figure ≤ 0: the baseline's best trial was slower, noise)" : f2(div(a, b));
  const met = (ok: boolean | undefined) => (ok === undefined ? "not measured" : ok ? "met" : "**not met**");
  const lines = [
    "## Firewall: 10 to 10,000 rules, beside iptables and nftables",
    "",
    `Goal (from the issue): the per-packet cost of the firewall stays flat from ${count(GOAL.from)} to ${count(GOAL.to)} rules, and at ${count(GOAL.to)} rules the firewall is at least ${GOAL.speedup}x iptables (throughput, i.e. iptables' ns/pkt / the firewall's).`,
    `"Flat" is read here as: the end-to-end ns/pkt at ${count(GOAL.to)} rules within ${Math.round((GOAL.flat - 1) * 100)}% of that at ${count(GOAL.from)}. Figures from the datapath table above (best trial, end to end; "added" = over the row's baseline: the simplebridge of the same type for polycube, the Linux bridge with br_netfilter for Linux).`,
    "",
    "| goal | measured | ratio | verdict |",
    "|---|---|---:|---|",
  ];
  for (const [t, s, what] of [["tc", "", "TC"], ["xdpdrv", "", "XDP_DRV"], ["tc", "-shapes", `TC, ${count(GOAL.to)} rules in ${SHAPE_LENGTHS * SHAPE_PORTS + 1} shapes`]]) {
    const a = `pcn-fw${GOAL.from}-${t}`;
    const b = `pcn-fw${GOAL.to}${s}-${t}`;
    if (!byKey.has(a) && !byKey.has(b)) continue;
    const r = div(ns(b), ns(a));
    lines.push(`| flat, polycube ${what}, conntrack OFF | ${f1(ns(a))} ns/pkt at ${count(GOAL.from)} rules (added ${f1(added(a))}), ${f1(ns(b))} at ${count(GOAL.to)} (added ${f1(added(b))}) | ${f2(r)} | ${met(r === undefined ? undefined : r <= GOAL.flat)} |`);
  }
  for (const [other, name] of [["iptables", iptablesName()], ["iptables-legacy", "iptables-legacy (x_tables)"], ["nft", "nftables"]] as const) {
    for (const [sfx, what] of [["", "conntrack OFF / no conntrack rule"], ["-ct", "conntrack ON, flow ESTABLISHED"], ["-shapes", `${SHAPE_LENGTHS * SHAPE_PORTS + 1} rule shapes, conntrack OFF`]] as const) {
      const p = `pcn-fw${GOAL.to}${sfx}-tc`;
      const o = `${other}-fw${GOAL.to}${sfx}`;
      if (!byKey.has(p) || !byKey.has(o)) continue;
      const r = div(ns(o), ns(p));
      // The goal is about matching 10,000 rules; with conntrack both sides skip them for ESTABLISHED packets.
      const goal = other === "nft" ? "(no goal)" : sfx === "-ct" ? "(no goal: ESTABLISHED packets skip the rules on both sides)" : met(r === undefined ? undefined : r >= GOAL.speedup);
      lines.push(`| ${sfx === "-ct" ? "beside" : `≥ ${GOAL.speedup}x`} ${name} at ${count(GOAL.to)} rules, ${what} (polycube TC) | ${f1(ns(o))} vs ${f1(ns(p))} ns/pkt; added ${f1(added(o))} vs ${f1(added(p))}, ratio of added ${addedRatio(added(o), added(p))} | ${f2(r)} | ${goal} |`);
    }
  }
  lines.push(
    "",
    "The ratio is end to end (source + path + sink on one core), so it understates the filters' own ratio: the ratio of added ns/pkt compares the filters alone.",
    `The firewall classifies by tuple space search: one hash lookup per rule shape (which fields a rule constrains, its prefix lengths), not per rule. The main rule sets have 2 shapes (every filler is a /24 source and a TCP destination port; the match is a destination and UDP), so their flatness is by construction; the \`-shapes\` rows spread the same number of fillers over ${SHAPE_LENGTHS} source prefix lengths (/8 to /32) x ${SHAPE_PORTS} port uses (destination, source, both), ${SHAPE_LENGTHS * SHAPE_PORTS + 1} shapes with the match's, the match last, so that every shape is searched (the firewall allows 128).`,
    "Connection tracking rows: before every trial the generator sends one frame and the sink answers it (UDP sink:9 -> generator:9, to a MAC nobody has, so the generator's kernel drops it silently), so Linux labels the flow ESTABLISHED (it needs a reply; the firewall labels UDP ESTABLISHED from its second datagram either way); the rows' details say what each filter counted (ESTABLISHED frames skip the firewall's rules and its counters; the Linux conntrack rule counts them).",
    "",
    "### Firewall: loading the rule set",
    "",
    "| rule set | rules | seconds | rules/s | how |",
    "|---|---:|---:|---:|---|",
  );
  for (const [key, l] of loads) {
    if (!byKey.has(key)) continue;
    lines.push(`| ${l.label} (row ${key}) | ${count(l.rules)} | ${l.seconds.toFixed(3)} | ${Math.round(l.rules / l.seconds).toLocaleString("en")} | ${l.how} |`);
  }
  lines.push("");
  return lines;
}

/** The report's note on these rows. */
export const FIREWALL_NOTE =
  `Firewall rows (bench/scenarios/firewall.ts): a bridge between the two veths (polycube simplebridge with a firewall cube of the same type on its input port; Linux bridge with br_netfilter) and N distinct rules of which only the last matches the flow (UDP to ${NET.sinkIp}:${FLOW_PORT}); the others name source prefixes and TCP ports the flow never has; the chain's default/policy is DROP. Rows without "-ct" measure the rules alone (the firewall's conntrack OFF; no conntrack rule for Linux, so no conntrack in its namespace); "-ct" rows run the firewall's defaults (conntrack and accept-established ON) beside Linux with an ESTABLISHED,RELATED accept rule first.`;
