// The bridge's control plane against an in-memory CubeContext: the maps it writes from the
// configuration, flooding within a VLAN with per-port tagging, and BPDUs per VLAN. The kernel
// datapath is covered by test/datapath/bridge.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import type { CubeControl, JsonObject, PortInfo } from "../../lib/sdk/types.ts";
import { memoryContext } from "../../../test/lib/memory-context.ts";
import { fdbValue } from "../../lib/sdk/fdb.ts";
import { bpduFrame, encodeFdbKey, isTagged, parseBpduFrame, pvKey, pvVal } from "./frames.ts";
import bridge, { REASON_BPDU, REASON_FLOODING } from "./index.ts";
import { bridgeIdOf, PortState } from "./stp.ts";

const ports: PortInfo[] = [
  { id: 0, name: "a10", peer: "x", status: "UP" },
  { id: 1, name: "b10", peer: "y", status: "UP" },
  { id: 2, name: "c20", peer: "z", status: "UP" },
  { id: 3, name: "trunk", peer: "w", status: "UP" },
];

const config: JsonObject = {
  name: "br",
  ports: [
    { name: "a10", access: { vlanid: 10 } },
    { name: "b10", access: { vlanid: 10 } },
    { name: "c20", access: { vlanid: 20 } },
    { name: "trunk", mode: "trunk", trunk: { allowed: [{ vlanid: 10 }, { vlanid: 20 }], "native-vlan": 1 } },
  ],
};

let controls: CubeControl[] = [];
afterEach(async () => {
  for (const c of controls) await c.destroy?.();
  controls = [];
});

async function cube(cfg: JsonObject) {
  const { ctx, sent, maps } = memoryContext({ name: "br", service: "bridge", ports });
  const control = await bridge.createCube(ctx, cfg);
  controls.push(control);
  return { control, sent, maps, ctx };
}

function frame(tag?: number): Uint8Array {
  const f = new Uint8Array(tag ? 64 : 60);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1], 0);
  if (tag) f.set([0x81, 0x00, 0, tag, 0x08, 0x06], 12);
  else f.set([0x08, 0x06], 12);
  return f;
}

describe("configuration to maps", () => {
  test("port_vlan holds each port's VLANs, tagged on the trunk, forwarding without spanning tree", async () => {
    const { maps } = await cube(config);
    const pv = maps.get("port_vlan")!;
    const get = async (port: number, vlan: number) => {
      const v = await pv.get(pvKey.encode({ port, vlan }));
      return v && pvVal.decode(v);
    };
    expect(await get(0, 10)).toEqual({ state: PortState.FORWARDING, tagged: 0 });
    expect(await get(0, 20)).toBeUndefined();
    expect(await get(3, 10)).toEqual({ state: PortState.FORWARDING, tagged: 1 });
    expect(await get(3, 1)).toEqual({ state: PortState.FORWARDING, tagged: 0 });
    expect((await pv.entries()).length).toBe(6);
  });

  test("static entries are written per VLAN and must name a port", async () => {
    const { control, maps } = await cube({ ...config, fdb: { entry: [{ vlan: 20, mac: "02:00:00:00:00:aa", port: "c20" }] } });
    const v = await maps.get("fwdtable")!.get(encodeFdbKey(20, "02:00:00:00:00:aa"));
    expect(fdbValue.decode(v!)).toMatchObject({ port: 2, flags: 1 });
    const bad = { ...config, fdb: { entry: [{ vlan: 20, mac: "02:00:00:00:00:aa", port: "nope" }] } };
    await expect(Promise.resolve(control.apply!([{ op: "create", path: [{ node: "fdb" }], where: "/fdb" }], bad))).rejects.toThrow("not a port");
  });
});

describe("MACs", () => {
  test("unset MACs are derived from the names, the same for the same cube; configured ones win", async () => {
    const a = (await (await cube(config)).control.state!()) as { mac: string; ports: Array<{ mac: string }> };
    const b = (await (await cube(config)).control.state!()) as { mac: string; ports: Array<{ mac: string }> };
    expect(a.mac).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(b.mac).toBe(a.mac);
    expect(b.ports.map((p) => p.mac)).toEqual(a.ports.map((p) => p.mac));
    expect(new Set([a.mac, ...a.ports.map((p) => p.mac)]).size).toBe(5);
    const ports = (config.ports as JsonObject[]).map((p, i) => (i === 0 ? { ...p, mac: "02:00:00:00:00:aa" } : p));
    const c = (await (await cube({ ...config, mac: "02:00:00:00:00:bb", ports })).control.state!()) as { mac: string; ports: Array<{ mac: string }> };
    expect([c.mac, c.ports[0]!.mac]).toEqual(["02:00:00:00:00:bb", "02:00:00:00:00:aa"]);
  });
});

describe("spanning tree on and off", () => {
  test("ports wait in listening while it starts, and forward at once when it stops", async () => {
    const { control, maps } = await cube({ ...config, "stp-enabled": true });
    const state = async (port: number, vlan: number) => pvVal.decode((await maps.get("port_vlan")!.get(pvKey.encode({ port, vlan })))!).state;
    expect(await state(0, 10)).toBe(PortState.LISTENING);
    expect(await state(3, 20)).toBe(PortState.LISTENING);
    const change = [{ op: "modify" as const, path: [{ node: "stp-enabled" }], where: "/stp-enabled" }];
    await control.apply!(change, { ...config, "stp-enabled": false });
    expect(await state(0, 10)).toBe(PortState.FORWARDING);
    expect(await state(3, 20)).toBe(PortState.FORWARDING);
    await control.apply!(change, { ...config, "stp-enabled": true });
    expect(await state(3, 20)).toBe(PortState.LISTENING);
  });
});

describe("slow path", () => {
  test("flooding stays in the VLAN and tags per output port", async () => {
    const { control, sent } = await cube(config);
    await control.packetIn!({ portId: 0, reason: REASON_FLOODING, trafficClass: 0, metadata: [10, 0, 0], data: frame() });
    expect(sent.map((s) => s.port).sort()).toEqual([1, 3]);
    expect(isTagged(sent.find((s) => s.port === 1)!.frame)).toBe(false);
    const trunk = sent.find((s) => s.port === 3)!.frame;
    expect([trunk[12], trunk[13], trunk[15]]).toEqual([0x81, 0x00, 10]);
    // Tagged from the trunk: untagged to the access ports of that VLAN.
    sent.length = 0;
    await control.packetIn!({ portId: 3, reason: REASON_FLOODING, trafficClass: 0, metadata: [20, 1, 0], data: frame(20) });
    expect(sent.map((s) => s.port)).toEqual([2]);
    expect(isTagged(sent[0]!.frame)).toBe(false);
    expect(sent[0]!.frame.length).toBe(60);
  });

  test("with spanning tree on, each VLAN sends its own BPDUs, tagged where the VLAN is", async () => {
    const { sent, control } = await cube({ ...config, "stp-enabled": true, stp: [{ vlan: 10, priority: 4096, "hello-time": 1, "forward-delay": 2, "max-message-age": 4 }] });
    await Bun.sleep(500);
    const bpdus = sent.map((s) => ({ port: s.port, tagged: isTagged(s.frame), bpdu: parseBpduFrame(s.frame) }));
    expect(bpdus.every((b) => b.bpdu?.type === "config")).toBe(true);
    // VLAN 10 on a10, b10 (untagged) and the trunk (tagged); 20 on c20 and the trunk; 1 on the trunk.
    const onTrunk = bpdus.filter((b) => b.port === 3);
    expect(onTrunk.length).toBe(3);
    expect(onTrunk.filter((b) => b.tagged).length).toBe(2);
    const v10 = sent.find((s) => s.port === 0)!;
    expect(parseBpduFrame(v10.frame)).toMatchObject({ helloTime: 1, forwardDelay: 2, maxAge: 4 });
    // Data is not flooded to ports that are still listening.
    sent.length = 0;
    await control.packetIn!({ portId: 0, reason: REASON_FLOODING, trafficClass: 0, metadata: [10, 0, 0], data: frame() });
    expect(sent).toEqual([]);
    const state = (await control.state!()) as { ports: Array<{ name: string; stp: Array<{ vlan: number; state: string }> }> };
    expect(state.ports.find((p) => p.name === "trunk")!.stp.map((s) => s.state)).toEqual(["listening", "listening", "listening"]);
    // A better root heard on VLAN 20's trunk port: VLAN 20's BPDUs on c20 name it; VLAN 10's do not.
    const root = bridgeIdOf(0, "02:00:00:00:00:77");
    const heard = bpduFrame("02:00:00:00:00:77", {
      type: "config", tc: false, tca: false, rootId: root, rootPathCost: 0, bridgeId: root, portId: 0x8001,
      messageAge: 0, maxAge: 4, helloTime: 1, forwardDelay: 2,
    }, 20, true);
    await control.packetIn!({ portId: 3, reason: REASON_BPDU, trafficClass: 0, metadata: [20, 1, 0], data: heard });
    await Bun.sleep(1300);
    const c20 = sent.filter((s) => s.port === 2).map((s) => parseBpduFrame(s.frame));
    expect(c20.some((b) => b?.type === "config" && b.rootId === root && b.rootPathCost === 4)).toBe(true);
    const a10 = sent.filter((s) => s.port === 0).map((s) => parseBpduFrame(s.frame));
    expect(a10.every((b) => b?.type === "config" && b.rootId !== root)).toBe(true);
  }, 10000);
});
