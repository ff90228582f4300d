// lbrp tables: what the control plane writes to the datapath's maps for a configuration.
import { describe, expect, test } from "bun:test";
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";
import { expandServices, MAX_SLOTS, slotCounts, tables } from "./tables.ts";

const ports = [{ id: 0, name: "fe" }, { id: 1, name: "be" }];
const base = { ports: [{ name: "fe", type: "FRONTEND" }, { name: "be", type: "backend" }] };

function refused(f: () => unknown): ServiceError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as ServiceError).status).toBe(400);
    return e as ServiceError;
  }
  throw new Error("not refused");
}

describe("lbrp tables", () => {
  test("ports: frontend and backend ids, all ones when missing", () => {
    const t = tables(base, ports);
    const dv = new DataView(t.config.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true)]).toEqual([0, 1]);
    const none = new DataView(tables({}, []).config.buffer);
    expect([none.getUint32(0, true), none.getUint32(4, true)]).toEqual([0xffffffff, 0xffffffff]);
  });

  test("a service gets one slot per unit of weight (1 when unset), backends in address order", () => {
    const t = tables({ ...base, service: [{ vip: "10.0.0.1", vport: 80, proto: "tcp", backend: [{ ip: "10.1.0.2", port: 8080, weight: 3 }, { ip: "10.1.0.1", port: 8081 }] }] }, ports);
    expect(t.services.size).toBe(1);
    const [key, value] = [...t.services.values()][0]!;
    expect([...key]).toEqual([10, 0, 0, 1, 0, 80, 6, 0]);
    expect(new DataView(value.buffer).getUint32(0, true)).toBe(4);
    const slots = [...t.backends.values()].map(([k, v]) => [new DataView(k.buffer).getUint32(8, true), [...v.subarray(0, 4)].join("."), new DataView(v.buffer).getUint16(4, false)]);
    expect(slots).toEqual([[0, "10.1.0.1", 8081], [1, "10.1.0.2", 8080], [2, "10.1.0.2", 8080], [3, "10.1.0.2", 8080]]);
  });

  test("weights are scaled down to the slot limit; weight 0 gets no slot", () => {
    expect(slotCounts([1, 0, 2])).toEqual([1, 0, 2]);
    const big = slotCounts([60000, 1, 20000]);
    expect(big.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MAX_SLOTS);
    expect(big[1]).toBe(1);
    expect(big[0]! / big[2]!).toBeCloseTo(3, 1);
  });

  test("ICMP services use port 0", () => {
    const t = tables({ ...base, service: [{ vip: "10.0.0.1", vport: 0, proto: "ICMP", backend: [{ ip: "10.1.0.1", port: 80 }] }] }, ports);
    const [, v] = [...t.backends.values()][0]!;
    expect(new DataView(v.buffer).getUint16(4, false)).toBe(0);
    expect(refused(() => tables({ ...base, service: [{ vip: "10.0.0.1", vport: 80, proto: "ICMP" }] }, ports)).message).toContain("vport 0");
  });

  test("src-ip-rewrite: both ranges with one prefix length", () => {
    const t = tables({ ...base, "src-ip-rewrite": { "ip-range": "10.2.0.0/24", new_ip_range: "10.3.0.7/24" } }, ports);
    expect([...t.config.subarray(8, 20)]).toEqual([10, 2, 0, 0, 255, 255, 255, 0, 10, 3, 0, 0]);
    refused(() => tables({ ...base, "src-ip-rewrite": { "ip-range": "10.2.0.0/24" } }, ports));
    refused(() => tables({ ...base, "src-ip-rewrite": { "ip-range": "10.2.0.0/24", new_ip_range: "10.3.0.0/16" } }, ports));
  });

  test("refused: a second FRONTEND port in SINGLE mode, a second BACKEND port", () => {
    expect(refused(() => tables({ ports: [base.ports[0]!, { name: "fe2", type: "FRONTEND" }, base.ports[1]!] }, ports)).field).toBe("type");
    expect(refused(() => tables({ ports: [...base.ports, { name: "be2", type: "BACKEND" }] }, ports)).field).toBe("ports");
  });

  test("MULTI: no single frontend; each FRONTEND port's ip maps to its id", () => {
    const multi: JsonObject = { port_mode: "MULTI", ports: [{ name: "fe", type: "FRONTEND", ip: "10.0.0.1" }, { name: "be", type: "BACKEND" }, { name: "fe2", type: "FRONTEND", ip: "10.0.0.2" }] };
    const t = tables(multi, [...ports, { id: 2, name: "fe2" }]);
    const dv = new DataView(t.config.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(20, true)]).toEqual([0xffffffff, 1, 1]);
    expect([...t.frontends.values()].map(([k, v]) => [[...k].join("."), new DataView(v.buffer).getUint32(0, true)])).toEqual([["10.0.0.1", 0], ["10.0.0.2", 2]]);
    expect(new DataView(tables(base, ports).config.buffer).getUint32(20, true)).toBe(0);
    expect(tables(base, ports).frontends.size).toBe(0);
  });

  test("proto ALL: TCP and UDP on vport, ICMP on 0, each with the name and backends; over an existing entry 409", () => {
    const all = { vip: "10.0.0.1", vport: 80, proto: "all", name: "s", backend: [{ ip: "10.1.0.1", port: 8080 }] };
    const out = expandServices([all]);
    expect(out.map((e) => `${e.vport} ${e.proto} ${e.name} ${(e.backend as any[]).length}`)).toEqual(["80 TCP s 1", "80 UDP s 1", "0 ICMP s 1"]);
    expect(tables({ ...base, service: [all] }, ports).services.size).toBe(3);
    let err: unknown;
    try {
      expandServices([{ vip: "10.0.0.1", vport: 80, proto: "udp" }, all]);
    } catch (e) {
      err = e;
    }
    expect((err as ServiceError).status).toBe(409);
  });
});
