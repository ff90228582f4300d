// Polycube cubes between the generator's and the sink's veths, created through the REST API of a
// polycubed started for the run (bench/lib/polycubed.ts). Placement "root": the cubes' ports peer
// with ends.ingress / ends.egress, veths in the root namespace, where the daemon runs.
//
// ======================== EXTENSION POINT: more cubes ========================
// A new row is one more DeviceUnderTest in polycubeScenarios(), most simply through cubeRow():
// its build() creates the cube(s) with create() under names from lab.name() (unique to the
// path) and returns the MAC the generator must address its frames to; the cubes are deleted
// after the measurement. Any other REST call goes through pcn.rest(). The sink never answers
// (its XDP program drops everything), so give cubes static entries instead of learning: an FDB
// entry for ends.sink.mac, an ARP entry for ends.sink.ip. Unknown destinations go to the slow
// path and would measure the daemon, not the datapath.
// ==============================================================================
import { NET, type DeviceUnderTest, type PathEnds } from "../lib/dut.ts";
import type { Lab } from "../lib/lab.ts";
import type { Polycubed } from "../lib/polycubed.ts";

export type CubeType = "TC" | "XDP_SKB" | "XDP_DRV";
export const TAG: Record<CubeType, string> = { TC: "tc", XDP_SKB: "xdpskb", XDP_DRV: "xdpdrv" };

/** Creates a cube of the row's service and remembers it, for teardown. */
type Create = (name: string, body: unknown) => Promise<void>;

/**
 * A row made of cubes of one service: build() creates them (through `create`) and returns the
 * generator's destination MAC; teardown deletes them, newest first.
 */
function cubeRow(
  pcn: Polycubed,
  service: string,
  row: Pick<DeviceUnderTest, "key" | "label" | "baseline" | "perUnit">,
  build: (ends: PathEnds, lab: Lab, create: Create) => Promise<string>,
): DeviceUnderTest {
  const made: string[] = [];
  const create: Create = async (name, body) => {
    await pcn.rest("POST", `/${service}/${name}/`, body);
    made.push(name);
  };
  return {
    ...row,
    placement: "root",
    setup: async (ends, lab) => ({ dstMac: await build(ends, lab, create) }),
    async teardown() {
      const errors: string[] = [];
      for (const name of made.splice(0).reverse()) {
        await pcn.rest("DELETE", `/${service}/${name}/`).catch((e: Error) => errors.push(e.message));
      }
      if (errors.length) throw new Error(errors.join("; "));
    },
  };
}

/** n simplebridges in a row, "out" of each peered with "in" of the next (n = 1: one bridge). */
export function simplebridgeChain(pcn: Polycubed, type: CubeType, n: number): DeviceUnderTest {
  const one = `pcn-simplebridge-${TAG[type]}`;
  return cubeRow(pcn, "simplebridge", {
    key: n === 1 ? one : `pcn-chain${n}-${TAG[type]}`,
    label: n === 1 ? `polycube simplebridge (${type})` : `polycube chain of ${n} simplebridges (${type})`,
    baseline: n === 1 ? "linux-bridge" : one,
    perUnit: n === 1 ? undefined : { count: n - 1, unit: "added cube" },
  }, async (ends, lab, create) => {
    const names = Array.from({ length: n }, (_, i) => lab.name(`c${i}`));
    for (let i = 0; i < n; i++) {
      await create(names[i]!, {
        type,
        ports: [
          { name: "in", peer: i === 0 ? ends.ingress : `${names[i - 1]}:out` },
          { name: "out", peer: i === n - 1 ? ends.egress : `${names[i + 1]}:in` },
        ],
        fdb: { entry: [{ address: ends.sink.mac, port: "out" }] },
      });
    }
    return ends.sink.mac;
  });
}

/** The 802.1Q bridge service, ports in access mode (VLAN 1), a static FDB entry for the sink. */
export function bridge(pcn: Polycubed, type: CubeType): DeviceUnderTest {
  return cubeRow(pcn, "bridge", {
    key: `pcn-bridge-${TAG[type]}`, label: `polycube bridge (${type})`, baseline: "linux-bridge",
  }, async (ends, lab, create) => {
    await create(lab.name("br"), {
      type,
      ports: [{ name: "in", peer: ends.ingress }, { name: "out", peer: ends.egress }],
      fdb: { entry: [{ vlan: 1, mac: ends.sink.mac, port: "out" }] },
    });
    return ends.sink.mac;
  });
}

/** A router between the generator's /24 and the sink's, with a static ARP entry for the sink. */
export function router(pcn: Polycubed, type: CubeType): DeviceUnderTest {
  return cubeRow(pcn, "router", {
    key: `pcn-router-${TAG[type]}`, label: `polycube router (${type})`, baseline: "linux-router",
  }, async (ends, lab, create) => {
    const name = lab.name("r");
    await create(name, {
      type,
      ports: [
        { name: "in", peer: ends.ingress, ip: `${NET.genGw}/${NET.prefixLen}` },
        { name: "out", peer: ends.egress, ip: `${NET.sinkGw}/${NET.prefixLen}` },
      ],
      "arp-table": [{ address: `${NET.sinkIp}/32`, mac: ends.sink.mac, interface: "out" }],
    });
    return String(await pcn.rest("GET", `/router/${name}/ports/in/mac/`));
  });
}

export function polycubeScenarios(pcn: Polycubed): DeviceUnderTest[] {
  const types: CubeType[] = ["TC", "XDP_SKB", "XDP_DRV"];
  return [
    ...types.map((t) => simplebridgeChain(pcn, t, 1)),
    ...types.map((t) => bridge(pcn, t)),
    ...types.map((t) => router(pcn, t)),
    ...(["TC", "XDP_DRV"] as const).flatMap((t) => [2, 4, 8].map((n) => simplebridgeChain(pcn, t, n))),
  ];
}
