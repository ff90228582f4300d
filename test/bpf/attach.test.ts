// Real packets from a namespace, counted by programs attached with TC and XDP.
import { afterAll, describe, expect, test } from "bun:test";
import { BpfObject, embeddedObject, attachTc, attachXdp, detachXdp, ifindex, TypedMap, codec, BpfError } from "../../src/lib/bpf/index.ts";
import { Topology, sh } from "../lib/netns.ts";

const topo = new Topology("tbpf");
afterAll(() => topo.cleanup());

async function counter(flavour: "tc" | "xdp", verdict: number) {
  const obj = BpfObject.open(await embeddedObject(`test_counter.${flavour}`), `cnt_${flavour}`);
  obj.setGlobals({ verdict });
  obj.load();
  return { obj, packets: () => new TypedMap(obj.map("counters"), codec.u32, codec.u64).get(0)! };
}

describe("attach to a veth", () => {
  const h = topo.host(1, "10.201.0.2/30");
  sh(`ip addr add 10.201.0.1/30 dev ${h.outer}`);

  test("TC ingress counts the pings and detach leaves no filter or qdisc", async () => {
    const { obj, packets } = await counter("tc", 0 /* TC_ACT_OK */);
    const link = attachTc(ifindex(h.outer), "ingress", obj.program("test_counter").fd);
    try {
      expect(topo.ping(h, "10.201.0.1", 3)).toBe(true);
      expect(packets()).toBeGreaterThanOrEqual(3n);
    } finally {
      link.detach();
      obj.close();
    }
    expect(sh(`tc filter show dev ${h.outer} ingress`)).toBe("");
    expect(sh(`tc qdisc show dev ${h.outer}`)).not.toContain("clsact");
  });

  test("XDP in SKB mode counts, a drop verdict stops the pings, detach restores them", async () => {
    const { obj, packets } = await counter("xdp", 1 /* XDP_DROP */);
    const idx = ifindex(h.outer);
    attachXdp(idx, obj.program("test_counter").fd, "skb");
    try {
      expect(topo.ping(h, "10.201.0.1", 2)).toBe(false);
      expect(packets()).toBeGreaterThanOrEqual(2n);
      expect(() => attachXdp(idx, obj.program("test_counter").fd, "skb")).toThrow(/attach XDP \(skb mode\) to tbpf.*: Device or resource busy|File exists/);
    } finally {
      detachXdp(idx, "skb");
      obj.close();
    }
    expect(sh(`ip link show ${h.outer}`)).not.toContain("xdp");
    expect(topo.ping(h, "10.201.0.1", 1)).toBe(true);
  });

  test("a missing netdev is a clear error", () => {
    expect(() => ifindex("tbpfnosuch0")).toThrow(BpfError);
    expect(() => ifindex("tbpfnosuch0")).toThrow(/find netdev tbpfnosuch0/);
  });
});
