// helloworld's model matches the original's tree; its control plane's datapath configuration.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import { ServiceError } from "../../lib/sdk/types.ts";
import { datapathConfig, hwConfig } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "helloworld.yang");

describe("helloworld model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["uuid", "type", "loglevel", "ports", "shadow", "span", "action"]) expect(findDataChild(schema.root, t)).toBeDefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    expect(tree).toBe(readFileSync(join(import.meta.dir, "helloworld.tree"), "utf8"));
  });
});

describe("helloworld datapath configuration", () => {
  test("action and the two port ids, in any case; a missing port is all ones", () => {
    expect(hwConfig.decode(datapathConfig("forward", [{ id: 3 }, { id: 1 }]))).toEqual({ action: 2, port0: 1, port1: 3 });
    expect(hwConfig.decode(datapathConfig("SLOWPATH", [{ id: 0 }]))).toEqual({ action: 1, port0: 0, port1: 0xffffffff });
    expect(hwConfig.decode(datapathConfig("Drop", []))).toEqual({ action: 0, port0: 0xffffffff, port1: 0xffffffff });
  });

  test("a third port is refused with a 400 naming the limit", () => {
    let err: unknown;
    try {
      datapathConfig("FORWARD", [{ id: 0 }, { id: 1 }, { id: 2 }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).status).toBe(400);
    expect((err as ServiceError).message).toContain("at most 2 ports");
  });
});
