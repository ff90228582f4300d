// Firewall rows: N rules with the matching rule last, polycube's firewall beside iptables and
// nftables doing the same filtering. Every row bridges the generator's veth to the sink's, so the
// filter is the only difference from its baseline:
//   pcn-fw<N>-tc      simplebridge (TC) + a firewall cube on its "in" port; baseline pcn-simplebridge-tc
//   iptables-fw<N>    Linux bridge, br_netfilter on, N rules in FORWARD;      baseline linux-bridge-nf
//   nft-fw<N>         Linux bridge, br_netfilter on, N rules in a forward hook; baseline linux-bridge-nf
// The first N-1 rules name TCP ports that the generated UDP flow never uses; the last accepts it;
// the policy (default) is DROP, so a row that loses the last rule delivers nothing.
import { NET, NotAvailable, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import { inNs, sh } from "../lib/sh.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import { linuxBridge } from "./linux.ts";
import { writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FW_RULE_COUNTS = [1, 100, 1000];

/** The non-matching rules: source prefixes and TCP ports the flow never has. */
function filler(i: number): { src: string; dport: number } {
  return { src: `10.${200 + (i >> 8)}.${i & 255}.0/24`, dport: 1000 + i };
}

export function polycubeFirewall(pcn: Polycubed, n: number): DeviceUnderTest {
  const made: string[] = [];
  return {
    key: `pcn-fw${n}-tc`,
    label: `polycube firewall, ${n} rule${n > 1 ? "s" : ""}, match last (TC, on a simplebridge port)`,
    baseline: "pcn-simplebridge-tc",
    placement: "root",
    async setup(ends: PathEnds, lab) {
      const br = lab.name("fwbr");
      const fw = lab.name("fw");
      await pcn.rest("POST", `/simplebridge/${br}/`, {
        type: "TC",
        ports: [{ name: "in", peer: ends.ingress }, { name: "out", peer: ends.egress }],
        fdb: { entry: [{ address: ends.sink.mac, port: "out" }] },
      });
      made.push(`simplebridge/${br}`);
      const rules: unknown[] = [];
      for (let i = 0; i < n - 1; i++) rules.push({ operation: "append", ...filler(i), l4proto: "TCP", action: "FORWARD" });
      rules.push({ operation: "append", dst: NET.sinkIp, l4proto: "UDP", action: "FORWARD" });
      await pcn.rest("POST", `/firewall/${fw}/`, { type: "TC", chain: [{ name: "INGRESS", default: "DROP" }, { name: "EGRESS", default: "FORWARD" }] });
      made.push(`firewall/${fw}`);
      await pcn.rest("POST", `/firewall/${fw}/chain/INGRESS/batch/`, { rules });
      await pcn.rest("POST", "/attach", { cube: fw, port: `${br}:in` });
      return { dstMac: ends.sink.mac };
    },
    async teardown() {
      for (const c of made.splice(0).reverse()) await pcn.rest("DELETE", `/${c}/`).catch(() => undefined);
    },
  };
}

function have(cmd: string): boolean {
  return sh(`command -v ${cmd}`, { allowFail: true }).trim() !== "";
}

/** A Linux bridge with br_netfilter on, then N rules by iptables or nft in its namespace. */
export function netfilterFirewall(tool: "iptables" | "nft", n: number): DeviceUnderTest {
  const bridge = linuxBridge(true);
  return {
    key: `${tool}-fw${n}`,
    label: `${tool === "nft" ? "nftables" : "iptables"}, ${n} rule${n > 1 ? "s" : ""}, match last (Linux bridge, br_netfilter)`,
    baseline: "linux-bridge-nf",
    placement: "netns",
    async setup(ends: PathEnds, lab) {
      if (!have(tool)) throw new NotAvailable(`${tool} is not installed (build/deps.sh installs it)`);
      const r = await bridge.setup(ends, lab);
      const file = join(tmpdir(), `pcnb-${tool}-${process.pid}-${n}`);
      const lines: string[] = [];
      if (tool === "iptables") {
        lines.push("*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]");
        for (let i = 0; i < n - 1; i++) { const f = filler(i); lines.push(`-A FORWARD -s ${f.src} -p tcp --dport ${f.dport} -j ACCEPT`); }
        lines.push(`-A FORWARD -d ${NET.sinkIp} -p udp -j ACCEPT`, "COMMIT", "");
      } else {
        lines.push("table ip pcnbfw {", " chain forward {", "  type filter hook forward priority 0; policy drop;");
        for (let i = 0; i < n - 1; i++) { const f = filler(i); lines.push(`  ip saddr ${f.src} tcp dport ${f.dport} accept`); }
        lines.push(`  ip daddr ${NET.sinkIp} meta l4proto udp accept`, " }", "}", "");
      }
      writeFileSync(file, lines.join("\n"));
      try {
        sh(`${inNs(ends.ns)}${tool === "iptables" ? "iptables-restore" : "nft -f"} ${file}`);
      } finally {
        rmSync(file, { force: true });
      }
      return r;
    },
    teardown(ends: PathEnds) {
      if (tool === "iptables") sh(`${inNs(ends.ns)}iptables -F FORWARD && ${inNs(ends.ns)}iptables -P FORWARD ACCEPT`, { allowFail: true });
      else sh(`${inNs(ends.ns)}nft delete table ip pcnbfw`, { allowFail: true });
    },
  };
}

export function firewallScenarios(pcn: Polycubed): DeviceUnderTest[] {
  const rows: DeviceUnderTest[] = [];
  for (const n of FW_RULE_COUNTS) rows.push(polycubeFirewall(pcn, n), netfilterFirewall("iptables", n), netfilterFirewall("nft", n));
  return rows;
}
