// lbdsr control plane against an in-memory context described by the real object's BTF (codecs
// checked against the C structs): what it writes, and that a refused change writes nothing.
import { describe, expect, test } from "bun:test";
import { u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeControl, type JsonObject } from "../../lib/sdk/types.ts";
import { memoryContext, objectMaps } from "../../../test/lib/memory-context.ts";
import lbdsr from "./index.ts";
import { backendMac, dsrConf, LB_MAC, sessionKey } from "./tables.ts";

const ports = [{ id: 3, name: "fe", peer: "", status: "UP" as const }, { id: 5, name: "be", peer: "", status: "UP" as const }];
const base: JsonObject = { ports: [{ name: "fe", type: "FRONTEND" }, { name: "be", type: "BACKEND" }], frontend: { vip: "10.0.0.100", mac: "02:aa:00:00:00:01" } };
const withPool = (...macs: string[]): JsonObject => ({ ...base, backend: { pool: macs.map((mac, i) => ({ id: i + 1, mac })) } });

async function cube(config: JsonObject) {
  const { ctx, maps } = memoryContext({ name: "ld1", service: "lbdsr", ports, describe: await objectMaps("lbdsr") });
  const c = (await lbdsr.createCube(ctx, config)) as CubeControl;
  const snapshot = () => Object.fromEntries([...maps].map(([name, m]) => [name, [...m.data].sort()]));
  const conf = () => dsrConf.decode(maps.get("dsr_config")!.data.get(Buffer.from(u32.encode(0)).toString("hex"))!);
  const pool = () => [...maps.get("dsr_backends")!.data].sort().map(([, v]) => backendMac.decode(v).mac);
  return { c, ctx, maps, snapshot, conf, pool };
}

describe("lbdsr control plane", () => {
  test("writes the configuration and the pool; a shrinking pool clears the places it no longer uses", async () => {
    const { c, conf, pool } = await cube(withPool("02:b0:00:00:00:01", "02:b0:00:00:00:02"));
    expect(conf()).toEqual({ frontend: 3, backend: 5, vip: "10.0.0.100", backends: 2, mac: "02:aa:00:00:00:01", lbMac: LB_MAC });
    expect(pool()).toEqual(["02:b0:00:00:00:01", "02:b0:00:00:00:02"]);
    await c.apply!([], withPool("02:b0:00:00:00:02"));
    expect(conf().backends).toBe(1);
    expect(pool()).toEqual(["02:b0:00:00:00:02", "00:00:00:00:00:00"]);
  });

  test("a refused change writes nothing", async () => {
    const { c, snapshot } = await cube(withPool("02:b0:00:00:00:01"));
    const before = snapshot();
    for (const bad of [
      { ...withPool("02:b0:00:00:00:01", "01:00:00:00:00:02") },
      { ...withPool("02:b0:00:00:00:03"), frontend: { vip: "224.1.1.1", mac: "02:aa:00:00:00:01" } },
      { ...withPool("02:b0:00:00:00:03"), ports: [{ name: "fe", type: "BACKEND" }, { name: "be", type: "BACKEND" }] },
      { ...withPool("02:b0:00:00:00:03"), ports: [...(base.ports as JsonObject[]), { name: "fe2", type: "FRONTEND" }] },
    ]) {
      const e = await Promise.resolve(c.apply!([], bad)).then(() => undefined, (x) => x);
      expect(e).toBeInstanceOf(ServiceError);
      expect((e as ServiceError).status).toBe(400);
      expect(snapshot()).toEqual(before);
    }
  });

  test("the sessions of a backend that leaves the pool (or changes its MAC) go; the others stay", async () => {
    const { c, maps } = await cube(withPool("02:b0:00:00:00:01", "02:b0:00:00:00:02", "02:b0:00:00:00:03"));
    const sessions = maps.get("dsr_sessions")!;
    const session = (sport: number, mac: string) => sessions.set(sessionKey.encode({ saddr: "10.0.0.1", daddr: "10.0.0.100", sport, dport: 80, proto: 6 }), backendMac.encode({ mac, pad: 0 }));
    for (let i = 0; i < 9; i++) await session(1000 + i, `02:b0:00:00:00:0${1 + (i % 3)}`);
    const left = async () => (await sessions.entries()).map(([k, v]) => `${sessionKey.decode(k).sport} ${backendMac.decode(v).mac}`).sort();
    await c.apply!([], withPool("02:b0:00:00:00:01", "02:b0:00:00:00:03"));
    expect(await left()).toEqual(["1000 02:b0:00:00:00:01", "1002 02:b0:00:00:00:03", "1003 02:b0:00:00:00:01", "1005 02:b0:00:00:00:03", "1006 02:b0:00:00:00:01", "1008 02:b0:00:00:00:03"]);
    // id 1 changes its MAC: its sessions go too.
    await c.apply!([], withPool("02:b0:00:00:00:09", "02:b0:00:00:00:03"));
    expect(await left()).toEqual(["1002 02:b0:00:00:00:03", "1005 02:b0:00:00:00:03", "1008 02:b0:00:00:00:03"]);
  });
});
