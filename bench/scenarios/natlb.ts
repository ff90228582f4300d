// NAT and load-balancer rows, each beside Linux doing the same rewrite in the same run:
//   pcn-nat-tc          polycube router (TC) + nat on its "out" port, SNAT of the generator's /24
//                       to the out port's address;                     baseline pcn-router-tc
//   iptables-masq       Linux IP forwarding + iptables MASQUERADE on the egress; baseline linux-router
//   nft-masq            Linux IP forwarding + nftables masquerade on the egress; baseline linux-router
//   pcn-lbrp-tc         lbrp (TC) between the two veths (FRONTEND: generator, BACKEND: sink), one
//                       UDP service VIP:9 with the sink as its only backend; baseline pcn-simplebridge-tc
//   iptables-dnat       Linux IP forwarding + iptables DNAT of VIP to the sink; baseline linux-router
// NAT rewrites the source only, so the sink (which counts IPv4/UDP to its own address and port)
// counts the translated frames. The load-balancer rows send to the VIP instead (setup returns
// dstIp) and count only what was rewritten to the sink's address: a frame left untranslated is
// not counted. IPVS is not measured: this kernel has no ip_vs (no /proc/net/ip_vs, no modprobe).
// The flow is one 5-tuple, so every row makes one session/conntrack entry and then looks it up.
import { NET, NotAvailable, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import { inNs, sh } from "../lib/sh.ts";
import type { Lab } from "../lib/lab.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import { linuxRouter } from "./linux.ts";
import { FLOW_PORT } from "../lib/frame.ts";

/** The load balancer's virtual address: in no subnet of the path, so only the rewrite delivers. */
export const VIP = "10.250.3.100";

function have(cmd: string): boolean {
  return sh(`command -v ${cmd}`, { allowFail: true }).trim() !== "";
}

/** Cubes made by a row, deleted newest first at teardown. */
function cubes(pcn: Polycubed) {
  const made: string[] = [];
  return {
    async create(path: string, body: unknown) {
      await pcn.rest("POST", `/${path}/`, body);
      made.push(path);
    },
    async teardown() {
      for (const c of made.splice(0).reverse()) await pcn.rest("DELETE", `/${c}/`).catch(() => undefined);
    },
  };
}

export function polycubeNat(pcn: Polycubed): DeviceUnderTest {
  const c = cubes(pcn);
  return {
    key: "pcn-nat-tc",
    label: "polycube router + nat, SNAT of the generator's /24 (TC)",
    baseline: "pcn-router-tc",
    placement: "root",
    async setup(ends: PathEnds, lab: Lab) {
      const r = lab.name("r");
      const nat = lab.name("nat");
      await c.create(`router/${r}`, {
        type: "TC",
        ports: [
          { name: "in", peer: ends.ingress, ip: `${NET.genGw}/${NET.prefixLen}` },
          { name: "out", peer: ends.egress, ip: `${NET.sinkGw}/${NET.prefixLen}` },
        ],
        "arp-table": [{ address: `${NET.sinkIp}/32`, mac: ends.sink.mac, interface: "out" }],
      });
      await c.create(`nat/${nat}`, { type: "TC" });
      await pcn.rest("POST", "/attach", { cube: nat, port: `${r}:out` });
      await pcn.rest("POST", `/nat/${nat}/rule/snat/append/`, { "internal-net": `${NET.genIp.replace(/\.\d+$/, ".0")}/${NET.prefixLen}`, "external-ip": NET.sinkGw });
      return { dstMac: String(await pcn.rest("GET", `/router/${r}/ports/in/mac/`)) };
    },
    teardown: () => c.teardown(),
  };
}

export function polycubeLbrp(pcn: Polycubed): DeviceUnderTest {
  const c = cubes(pcn);
  return {
    key: "pcn-lbrp-tc",
    label: `polycube lbrp, UDP ${VIP}:${FLOW_PORT} -> one backend (the sink) (TC)`,
    baseline: "pcn-simplebridge-tc",
    placement: "root",
    async setup(ends: PathEnds, lab: Lab) {
      const lb = lab.name("lb");
      await c.create(`lbrp/${lb}`, { type: "TC" });
      await pcn.rest("POST", `/lbrp/${lb}/ports/fe/`, { type: "FRONTEND", peer: ends.ingress });
      await pcn.rest("POST", `/lbrp/${lb}/ports/be/`, { type: "BACKEND", peer: ends.egress });
      await pcn.rest("POST", `/lbrp/${lb}/service/${VIP}/${FLOW_PORT}/UDP/`, { name: "bench", backend: [{ ip: NET.sinkIp, port: FLOW_PORT, weight: 1 }] });
      return { dstMac: ends.sink.mac, dstIp: VIP };
    },
    teardown: () => c.teardown(),
  };
}

/** Linux IP forwarding (the linux-router row's set-up) plus a NAT rule by iptables or nft. */
export function netfilterNat(tool: "iptables" | "nft", kind: "masq" | "dnat"): DeviceUnderTest {
  const what = kind === "masq" ? `${tool === "nft" ? "masquerade" : "MASQUERADE"} on the egress` : `DNAT ${VIP}:${FLOW_PORT} -> the sink`;
  return {
    key: `${tool}-${kind}`,
    label: `Linux IP forwarding + ${tool === "nft" ? "nftables" : "iptables"} ${what} (router netns)`,
    baseline: "linux-router",
    placement: "netns",
    async setup(ends: PathEnds, lab: Lab) {
      if (!have(tool)) throw new NotAvailable(`${tool} is not installed (build/deps.sh installs it)`);
      const r = await linuxRouter.setup(ends, lab);
      const ns = inNs(ends.ns);
      if (tool === "iptables") {
        if (kind === "masq") sh(`${ns}iptables -t nat -A POSTROUTING -o ${ends.egress} -j MASQUERADE`);
        else sh(`${ns}iptables -t nat -A PREROUTING -d ${VIP} -p udp --dport ${FLOW_PORT} -j DNAT --to-destination ${NET.sinkIp}:${FLOW_PORT}`);
      } else {
        sh(`${ns}nft add table ip pcnbnat`);
        if (kind === "masq") {
          sh(`${ns}nft 'add chain ip pcnbnat post { type nat hook postrouting priority 100; }'`);
          sh(`${ns}nft add rule ip pcnbnat post oifname ${ends.egress} masquerade`);
        } else {
          sh(`${ns}nft 'add chain ip pcnbnat pre { type nat hook prerouting priority -100; }'`);
          sh(`${ns}nft add rule ip pcnbnat pre ip daddr ${VIP} udp dport ${FLOW_PORT} dnat to ${NET.sinkIp}:${FLOW_PORT}`);
        }
      }
      return kind === "dnat" ? { ...r, dstIp: VIP } : r;
    },
    teardown(ends: PathEnds) {
      if (tool === "iptables") sh(`${inNs(ends.ns)}iptables -t nat -F`, { allowFail: true });
      else sh(`${inNs(ends.ns)}nft delete table ip pcnbnat`, { allowFail: true });
    },
  };
}

export function natLbScenarios(pcn: Polycubed): DeviceUnderTest[] {
  return [
    polycubeNat(pcn), netfilterNat("iptables", "masq"), netfilterNat("nft", "masq"),
    polycubeLbrp(pcn), netfilterNat("iptables", "dnat"), netfilterNat("nft", "dnat"),
  ];
}
