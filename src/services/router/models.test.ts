// The YANG models of the L2/L3 services load in our engine and in yanglint, with the original's names.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { metricSpecs } from "../../lib/rest/metrics.ts";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const services: Record<string, string[]> = {
  simpleforwarder: ["actions"],
  simplebridge: ["fdb"],
  router: ["route", "arp-table"],
  bridge: ["fdb", "stp-enabled", "mac", "stp"],
};

describe("L2/L3 service models", () => {
  for (const [name, tops] of Object.entries(services)) {
    const file = join(root, "src", "services", name, `${name}.yang`);
    test(`${name} loads with its top-level nodes`, () => {
      const schema = loadModule(readFileSync(file, "utf8"));
      for (const t of ["uuid", "type", "loglevel", "ports", "shadow", "span", ...tops]) expect(findDataChild(schema.root, t)).toBeDefined();
      const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
      const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
      expect(tree).toBe(readFileSync(join(root, "src", "services", name, `${name}.tree`), "utf8"));
    });
  }
});

describe("router metrics", () => {
  test("the families the original's model declares, router_ports (written on the ports augment) first", () => {
    const schema = loadModule(readFileSync(join(root, "src", "services", "router", "router.yang"), "utf8"));
    expect(metricSpecs(schema).map((m) => [m.name, m.path])).toEqual([
      ["router_ports", "$.ports[*]"],
      ["router_ip_ports", "$.ports[*].ip"],
      ["router_secondaryip_ports", "$.ports[*].secondaryip[*]"],
      ["router_route_routes", expect.any(String)],
      ["router_arp_table_entries", expect.any(String)],
    ]);
  });
});
