// nat's model matches the original's tree (plus the base model's read-only `parent`). Rules:
// rules.test.ts; sessions: sessions.test.ts.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import nat from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "nat.yang");

describe("nat model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["rule", "natting-table"]) expect(findDataChild(schema.root, t)).toBeDefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "nat.tree"), "utf8"));
    expect(ours).toBe(readFileSync(join(root, "..", "shared", "reference", "yang-trees", "nat.tree"), "utf8"));
    expect(nat.kind).toBe("transparent");
    expect(nat.ownsConfig).toBe(true);
  });
});
