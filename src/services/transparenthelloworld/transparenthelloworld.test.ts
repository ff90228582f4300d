// transparenthelloworld's model matches the original's tree (plus the base model's read-only
// `parent`); its control plane's datapath configuration.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import { datapathConfig, thwConfig } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "transparenthelloworld.yang");

describe("transparenthelloworld model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["uuid", "type", "loglevel", "parent", "ingress-action", "egress-action"]) expect(findDataChild(schema.root, t)).toBeDefined();
    for (const t of ["ports", "shadow", "span"]) expect(findDataChild(schema.root, t)).toBeUndefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    // yang/polycube-transparent-base.yang adds `parent`, which the original served without modelling it.
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "transparenthelloworld.tree"), "utf8"));
  });
});

describe("transparenthelloworld datapath configuration", () => {
  test("one action per direction, PASS by default, in any case", () => {
    expect(thwConfig.decode(datapathConfig({}))).toEqual({ ingress: 1, egress: 1 });
    expect(thwConfig.decode(datapathConfig({ "ingress-action": "drop", "egress-action": "SlowPath" }))).toEqual({ ingress: 0, egress: 2 });
  });

  test("an unknown action names its leaf", () => {
    expect(() => datapathConfig({ "egress-action": "EXPLODE" })).toThrow("egress-action");
  });
});
