// lbdsr model: the configuration's rules, checked whole, each refusal a 400 naming the field.
import { describe, expect, test } from "bun:test";
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";
import { checkUpdate, dsrModel, MAX_BACKENDS } from "./model.ts";
import { LB_MAC, NO_PORT, tables } from "./tables.ts";

const ports = [{ name: "fe", type: "FRONTEND" }, { name: "be", type: "BACKEND" }];

function refusal(f: () => unknown): { message: string; field?: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as ServiceError).status).toBe(400);
    return { message: (e as Error).message, field: (e as ServiceError).field };
  }
  throw new Error("not refused");
}

describe("lbdsr model", () => {
  test("a whole configuration: ports by role, the frontend, the pool in the order of its ids", () => {
    const m = dsrModel({
      ports,
      algorithm: "Random",
      frontend: { vip: "10.0.0.100", mac: "AA:BB:CC:DD:EE:01" },
      backend: { pool: [{ id: 7, mac: "02:00:00:00:00:07" }, { id: 2, mac: "02:00:00:00:00:02" }, { id: 30, mac: "02:00:00:00:00:1E" }] },
    });
    expect(m).toEqual({
      frontend: "fe", backend: "be", vip: "10.0.0.100", mac: "aa:bb:cc:dd:ee:01",
      pool: [{ id: 2, mac: "02:00:00:00:00:02" }, { id: 7, mac: "02:00:00:00:00:07" }, { id: 30, mac: "02:00:00:00:00:1e" }],
    });
    // Nothing set yet: no ports, no VIP, an empty pool.
    expect(dsrModel({})).toEqual({ pool: [] });
    // The port type is read in any case, as the daemon's enumerations are.
    expect(dsrModel({ ports: [{ name: "x", type: "frontend" }] }).frontend).toBe("x");
  });

  test("one FRONTEND and one BACKEND port, each with a type", () => {
    expect(refusal(() => dsrModel({ ports: [...ports, { name: "fe2", type: "FRONTEND" }] }))).toEqual({ message: "Frontend port already set (fe): an lbdsr has one FRONTEND port", field: "type" });
    expect(refusal(() => dsrModel({ ports: [...ports, { name: "be2", type: "BACKEND" }] }))).toEqual({ message: "Backend port already set (be): an lbdsr has one BACKEND port", field: "type" });
    expect(refusal(() => dsrModel({ ports: [{ name: "p" }] }))).toEqual({ message: "port p: type is FRONTEND or BACKEND, not ''", field: "type" });
  });

  test("the VIP: an IPv4 unicast address", () => {
    for (const [vip, why] of [
      ["10.0.0.300", "frontend vip '10.0.0.300' is not an IPv4 address"],
      ["010.0.0.1", "frontend vip '010.0.0.1' is not an IPv4 address"],
      ["224.0.0.5", "frontend vip 224.0.0.5 is a multicast address: the VIP must be a unicast address"],
      ["255.255.255.255", "frontend vip 255.255.255.255 is the broadcast address: the VIP must be a unicast address"],
      ["0.0.0.0", "frontend vip 0.0.0.0 is in 0.0.0.0/8 (this network): the VIP must be a unicast address"],
      ["127.0.0.1", "frontend vip 127.0.0.1 is a loopback address: the VIP must be a unicast address"],
      ["240.1.2.3", "frontend vip 240.1.2.3 is a reserved address (240.0.0.0/4): the VIP must be a unicast address"],
    ]) expect(refusal(() => dsrModel({ frontend: { vip } }))).toEqual({ message: why!, field: "vip" });
  });

  test("MACs: six hex pairs, one station's address", () => {
    expect(refusal(() => dsrModel({ frontend: { mac: "aa:bb:cc:dd:ee" } }))).toEqual({ message: "frontend mac 'aa:bb:cc:dd:ee' is not a MAC address", field: "mac" });
    expect(refusal(() => dsrModel({ frontend: { mac: "01:00:5e:00:00:01" } }))).toEqual({ message: "frontend mac 01:00:5e:00:00:01 is a multicast address: it must be one station's address", field: "mac" });
    expect(refusal(() => dsrModel({ frontend: { mac: "00:00:00:00:00:00" } })).field).toBe("mac");
    expect(refusal(() => dsrModel({ backend: { pool: [{ id: 1, mac: "ff:ff:ff:ff:ff:ff" }] } }))).toEqual({ message: "backend pool 1: mac ff:ff:ff:ff:ff:ff is the broadcast address: it must be one station's address", field: "mac" });
    expect(refusal(() => dsrModel({ backend: { pool: [{ id: 1, mac: "02-00-00-00-00-01" }] } }))).toEqual({ message: "backend pool 1: mac '02-00-00-00-00-01' is not a MAC address", field: "mac" });
    expect(refusal(() => dsrModel({ backend: { pool: [{ id: 4 }] } }))).toEqual({ message: "backend pool 4: mac is mandatory", field: "mac" });
  });

  test("at most MAX_BACKENDS backends", () => {
    const pool = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}` }));
    expect(dsrModel({ backend: { pool: pool(MAX_BACKENDS) } }).pool).toHaveLength(MAX_BACKENDS);
    expect(refusal(() => dsrModel({ backend: { pool: pool(MAX_BACKENDS + 1) } }))).toEqual({ message: `backend pool: ${MAX_BACKENDS + 1} backends, at most ${MAX_BACKENDS}`, field: "pool" });
  });

  test("a port's type is fixed once the port exists", () => {
    const before: JsonObject = { ports };
    expect(() => checkUpdate(before, { ports: [ports[0]!, { name: "be", type: "backend" }, { name: "x", type: "FRONTEND" }] })).not.toThrow();
    expect(refusal(() => checkUpdate(before, { ports: [{ name: "fe", type: "BACKEND" }] }))).toEqual({ message: "[Ports]: Type can be set only during port creation (port fe is FRONTEND)", field: "type" });
  });

  test("tables: port ids (none: all ones), the VIP and MAC (unset: zero), the pool's places", () => {
    const t = tables(dsrModel({ ports, frontend: { vip: "10.0.0.100", mac: "aa:bb:cc:dd:ee:01" }, backend: { pool: [{ id: 9, mac: "02:00:00:00:00:09" }, { id: 3, mac: "02:00:00:00:00:03" }] } }), [{ id: 4, name: "be" }, { id: 2, name: "fe" }]);
    expect(t).toEqual({
      config: { frontend: 2, backend: 4, vip: "10.0.0.100", backends: 2, mac: "aa:bb:cc:dd:ee:01", lbMac: LB_MAC },
      pool: [[0, { mac: "02:00:00:00:00:03", pad: 0 }], [1, { mac: "02:00:00:00:00:09", pad: 0 }]],
    });
    expect(tables(dsrModel({}), []).config).toEqual({ frontend: NO_PORT, backend: NO_PORT, vip: "0.0.0.0", backends: 0, mac: "00:00:00:00:00:00", lbMac: LB_MAC });
  });
});
