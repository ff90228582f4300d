// lbdsr rows: the Direct Server Return load balancer beside Linux rewriting the same frames:
//   pcn-lbdsr-tc, -xdpskb, -xdpdrv   lbdsr cube, FRONTEND port on the generator's veth, BACKEND
//                                    port on the sink's; VIP = the sink's address (in DSR the
//                                    backend holds the VIP), one backend: the sink's MAC. The
//                                    generator sends to the frontend MAC; the lbdsr finds the
//                                    flow's session (made by the first frame) and sends the frame
//                                    on with the sink's MAC;          baseline nft-dsr
//   nft-dsr                          nftables netdev ingress on the generator's veth: frames to
//                                    the frontend MAC get the sink's MAC (and the lbdsr's source
//                                    MAC) and `fwd to` the sink's veth: the same rewrite, static,
//                                    without sessions or hashing;    baseline veth
// Not measured: IPVS in DR mode, the kernel's own DSR balancer (this kernel has no ip_vs), and
// tc pedit (no act_pedit here). Key "lbdsr" selects these rows and their baselines.
import { NotAvailable, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import type { Lab } from "../lib/lab.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import type { Row } from "../lib/report.ts";
import { inNs, sh } from "../lib/sh.ts";
import { NET } from "../lib/dut.ts";
import { TAG, type CubeType } from "./polycube.ts";

export const LBDSR_GROUP = "lbdsr";
/** The frontend MAC the generator sends to. */
const FE_MAC = "02:1d:5e:00:00:01";
/** The lbdsr's source MAC towards the backends (src/services/lbdsr/tables.ts LB_MAC). */
const LB_MAC = "02:02:02:ff:ee:dd";

export function polycubeLbdsr(pcn: Polycubed, type: CubeType): DeviceUnderTest {
  let name = "";
  return {
    key: `pcn-lbdsr-${TAG[type]}`,
    label: `polycube lbdsr, VIP ${NET.sinkIp} -> one backend (the sink's MAC) (${type})`,
    baseline: "nft-dsr",
    group: LBDSR_GROUP,
    placement: "root",
    async setup(ends: PathEnds, lab: Lab) {
      name = lab.name("dsr");
      await pcn.rest("POST", `/lbdsr/${name}/`, {
        type,
        ports: [{ name: "fe", type: "FRONTEND", peer: ends.ingress }, { name: "be", type: "BACKEND", peer: ends.egress }],
        frontend: { vip: NET.sinkIp, mac: FE_MAC },
        backend: { pool: [{ id: 1, mac: ends.sink.mac }] },
      });
      return { dstMac: FE_MAC };
    },
    async teardown() {
      if (name) await pcn.rest("DELETE", `/lbdsr/${name}/`).catch(() => undefined);
    },
  };
}

const NFT_TABLE = "pcnbdsr";

export const nftDsr: DeviceUnderTest = {
  key: "nft-dsr",
  label: "nftables netdev ingress: frames to the frontend MAC get the backend's MAC, `fwd to` its veth (static, no sessions)",
  baseline: "veth",
  group: LBDSR_GROUP,
  placement: "netns",
  setup(ends: PathEnds) {
    if (!sh("command -v nft", { allowFail: true }).trim()) throw new NotAvailable("nft is not installed (build/deps.sh installs it)");
    const rule = `ether daddr ${FE_MAC} ether daddr set ${ends.sink.mac} ether saddr set ${LB_MAC} counter fwd to ${ends.egress}`;
    sh(`${inNs(ends.ns)}nft 'add table netdev ${NFT_TABLE}; add chain netdev ${NFT_TABLE} c { type filter hook ingress device ${ends.ingress} priority 0; policy drop; }; add rule netdev ${NFT_TABLE} c ${rule}'`);
    return { dstMac: FE_MAC };
  },
  describe(ends: PathEnds) {
    const c = sh(`${inNs(ends.ns)}nft list chain netdev ${NFT_TABLE} c`, { allowFail: true }).match(/counter packets (\d+)/);
    return c ? `the rule counted ${Number(c[1]).toLocaleString("en")} frames` : undefined;
  },
  teardown(ends: PathEnds) {
    sh(`${inNs(ends.ns)}nft delete table netdev ${NFT_TABLE}`, { allowFail: true });
  },
};

export function lbdsrScenarios(pcn: Polycubed): DeviceUnderTest[] {
  return [nftDsr, ...(["TC", "XDP_SKB", "XDP_DRV"] as const).map((t) => polycubeLbdsr(pcn, t))];
}

/** The lbdsr rows beside the Linux rewrite: ns/pkt and ratios. */
export function lbdsrReport(rows: Row[]): string[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const linux = byKey.get("nft-dsr")?.nsPerPkt;
  const mine = (["TC", "XDP_SKB", "XDP_DRV"] as const).map((t) => byKey.get(`pcn-lbdsr-${TAG[t]}`)).filter((r): r is Row => r !== undefined);
  if (!mine.length) return [];
  const f1 = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(1));
  const lines = [
    "## lbdsr beside Linux",
    "",
    "End-to-end ns/pkt (best trial); speed-up = the Linux path's ns/pkt ÷ the lbdsr's (above 1: the lbdsr is faster). The Linux path is the same MAC rewrite as a static nftables rule: it keeps no sessions and hashes nothing, so it is the floor of what a DSR balancer costs in the kernel's own tools, not an equal.",
    "",
    "| lbdsr | ns/pkt | nftables netdev rewrite, ns/pkt | speed-up |",
    "|---|---:|---:|---:|",
  ];
  for (const r of mine) lines.push(`| ${r.label} | ${f1(r.nsPerPkt)} | ${f1(linux)} | ${r.nsPerPkt !== undefined && linux !== undefined ? (linux / r.nsPerPkt).toFixed(2) : "n/a"} |`);
  lines.push("");
  return lines;
}
