// lbrp: the model matches the original's tree; the datapath tables the control plane computes.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { printTree } from "../../lib/codegen/tree.ts";
import { ServiceError } from "../../lib/sdk/types.ts";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import service, { expandServices, MAX_SLOTS, slotCounts, tables } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "lbrp.yang");
const model = readFileSync(file, "utf8");
const tree = readFileSync(join(import.meta.dir, "lbrp.tree"), "utf8");

describe("lbrp model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(model);
    expect(schema.module).toBe("lbrp");
    for (const t of ["uuid", "type", "loglevel", "ports", "shadow", "span", "port_mode", "src-ip-rewrite", "service"]) expect(findDataChild(schema.root, t)).toBeDefined();
    expect(printTree(schema)).toBe(tree);
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString()).toBe(tree);
  });

  test("index.ts serves it as a standard service", () => {
    expect(service.name).toBe("lbrp");
    expect(service.kind).toBe("standard");
    expect(service.yang).toBe(model);
  });
});

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

  test("refused: MULTI, a second FRONTEND or BACKEND port", () => {
    expect(refused(() => tables({ ...base, port_mode: "MULTI" }, ports)).message).toContain("MULTI");
    refused(() => tables({ ports: [...base.ports, { name: "fe2", type: "FRONTEND" }] }, ports));
    refused(() => tables({ ports: [...base.ports, { name: "be2", type: "BACKEND" }] }, ports));
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
