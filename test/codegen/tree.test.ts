// The tree printer against the service trees of this repository, against libyang's yanglint on
// models that exercise every statement it prints, and against the original's trees.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { printTree } from "../../src/lib/codegen/tree.ts";
import { loadModule } from "../../src/lib/yang/index.ts";
import { modelFromTree } from "./tree-model.ts";

const ROOT = join(import.meta.dir, "..", "..");
const SERVICES = join(ROOT, "src", "services");
const MODELS = join(import.meta.dir, "models");
/** The original services' interface trees (copies of the project's reference material). */
const REFERENCE = join(import.meta.dir, "reference-trees");

function yanglintTree(file: string): string {
  const r = Bun.spawnSync(["yanglint", "-f", "tree", "-p", join(ROOT, "yang"), file], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`yanglint ${file}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** This repository's transparent base adds a read-only `parent`; the original's trees do not have it. */
function withoutParent(tree: string): string {
  return tree
    .split("\n")
    .filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l))
    .join("\n");
}

const services = readdirSync(SERVICES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(SERVICES, d.name, `${d.name}.yang`)))
  .map((d) => d.name);

describe("tree printer: this repository's services", () => {
  test("the four required ones are there", () => {
    expect(services).toEqual(expect.arrayContaining(["simplebridge", "helloworld", "router", "bridge"]));
  });

  for (const name of services) {
    test(`${name}: the tree in ${name}.tree, and yanglint's`, () => {
      const file = join(SERVICES, name, `${name}.yang`);
      const ours = printTree(loadModule(readFileSync(file, "utf8")));
      expect(ours).toBe(yanglintTree(file));
      const stored = join(SERVICES, name, `${name}.tree`);
      if (existsSync(stored)) expect(withoutParent(ours)).toBe(readFileSync(stored, "utf8"));
    });
  }

  test("simplebridge, helloworld, router, bridge: exactly the original's trees", () => {
    for (const name of ["simplebridge", "helloworld", "router", "bridge"]) {
      const ours = printTree(loadModule(readFileSync(join(SERVICES, name, `${name}.yang`), "utf8")));
      expect(ours).toBe(readFileSync(join(REFERENCE, `${name}.tree`), "utf8"));
    }
  });
});

describe("tree printer: yanglint on every construct", () => {
  for (const f of readdirSync(MODELS).filter((f) => f.endsWith(".yang"))) {
    test(f, () => {
      const file = join(MODELS, f);
      expect(printTree(loadModule(readFileSync(file, "utf8")))).toBe(yanglintTree(file));
    });
  }

  test("a module with no data nodes, and one with only rpcs", () => {
    const empty = loadModule('module e { yang-version 1.1; namespace "urn:e"; prefix e; }');
    expect(printTree(empty)).toBe("module: e\n");
    const rpcs = loadModule('module r { yang-version 1.1; namespace "urn:r"; prefix r; rpc go; }');
    expect(printTree(rpcs)).toBe("module: r\n\n  rpcs:\n    +---x go\n");
  });
});

describe("tree printer: the original's services, from models rebuilt from their trees", () => {
  const trees = readdirSync(REFERENCE).filter((f) => f.endsWith(".tree"));
  test("there are trees to check", () => expect(trees.length).toBeGreaterThan(10));
  for (const f of trees) {
    test(f, () => {
      const reference = readFileSync(join(REFERENCE, f), "utf8");
      const ours = printTree(loadModule(modelFromTree(reference)));
      expect(withoutParent(ours)).toBe(reference);
    });
  }
});
