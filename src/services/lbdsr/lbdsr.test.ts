// lbdsr: the model matches the original's tree; index.ts serves it.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { printTree } from "../../lib/codegen/tree.ts";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import service from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "lbdsr.yang");
const model = readFileSync(file, "utf8");
const tree = readFileSync(join(import.meta.dir, "lbdsr.tree"), "utf8");

describe("lbdsr model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(model);
    expect(schema.module).toBe("lbdsr");
    for (const t of ["uuid", "type", "loglevel", "ports", "shadow", "span", "algorithm", "frontend", "backend"]) expect(findDataChild(schema.root, t)).toBeDefined();
    expect(printTree(schema)).toBe(tree);
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString()).toBe(tree);
  });

  test("index.ts serves it as a standard service", () => {
    expect(service.name).toBe("lbdsr");
    expect(service.kind).toBe("standard");
    expect(service.yang).toBe(model);
  });
});
