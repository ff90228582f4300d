// Baselines: the bare veth path and what Linux itself does with it (bridge, IP forwarding).
import { NotAvailable, NET, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import { inNs, ipNs, sh } from "../lib/sh.ts";

/** No device under test: the generator's veth is peered with the sink's. The ceiling. */
export const vethOnly: DeviceUnderTest = {
  key: "veth",
  label: "veth only (generator -> sink)",
  baseline: "source",
  placement: "direct",
  setup: (ends) => ({ dstMac: ends.sink.mac }),
};

const BR_NF = ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"];

/** A Linux bridge over ingress and egress; br_netfilter's hooks on or off in its namespace. */
export function linuxBridge(netfilter: boolean): DeviceUnderTest {
  return {
    key: netfilter ? "linux-bridge-nf" : "linux-bridge",
    label: `Linux bridge, br_netfilter ${netfilter ? "on" : "off"}`,
    baseline: netfilter ? "linux-bridge" : "veth",
    placement: "netns",
    setup(ends: PathEnds) {
      const ns = ipNs(ends.ns);
      sh(`ip ${ns}link add br0 type bridge stp_state 0`);
      sh(`ip ${ns}link set ${ends.ingress} master br0 && ip ${ns}link set ${ends.egress} master br0 && ip ${ns}link set br0 up`);
      // br_netfilter is a module or built in; its switches are per namespace under /proc/sys/net/bridge.
      const has = sh(`${inNs(ends.ns)}test -e /proc/sys/net/bridge/bridge-nf-call-iptables && echo yes`, { allowFail: true }).trim() === "yes";
      if (!has) {
        if (netfilter) {
          sh("modprobe br_netfilter", { allowFail: true });
          const now = sh(`${inNs(ends.ns)}test -e /proc/sys/net/bridge/bridge-nf-call-iptables && echo yes`, { allowFail: true }).trim();
          if (now !== "yes") throw new NotAvailable("br_netfilter is neither built in nor loadable");
        }
      }
      if (has || netfilter) sh(`${inNs(ends.ns)}sysctl -qw ${BR_NF.map((k) => `net.bridge.${k}=${netfilter ? 1 : 0}`).join(" ")}`);
      // The sink never answers: a static entry keeps the bridge from flooding.
      sh(`bridge ${ns}fdb replace ${ends.sink.mac} dev ${ends.egress} master static`);
      return { dstMac: ends.sink.mac };
    },
  };
}

/** Linux IP forwarding in a router namespace between the generator's and the sink's subnets. */
export const linuxRouter: DeviceUnderTest = {
  key: "linux-router",
  label: "Linux IP forwarding (router netns)",
  baseline: "veth",
  placement: "netns",
  setup(ends: PathEnds) {
    const ns = ipNs(ends.ns);
    sh(`${inNs(ends.ns)}sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0`);
    sh(`ip ${ns}addr add ${NET.genGw}/${NET.prefixLen} dev ${ends.ingress}`);
    sh(`ip ${ns}addr add ${NET.sinkGw}/${NET.prefixLen} dev ${ends.egress}`);
    // The sink's XDP counter drops ARP too: its neighbour entry is static.
    sh(`ip ${ns}neigh replace ${NET.sinkIp} lladdr ${ends.sink.mac} dev ${ends.egress} nud permanent`);
    return { dstMac: JSON.parse(sh(`ip ${ns}-j link show dev ${ends.ingress}`))[0].address };
  },
};

export const linuxScenarios: DeviceUnderTest[] = [vethOnly, linuxBridge(false), linuxBridge(true), linuxRouter];
