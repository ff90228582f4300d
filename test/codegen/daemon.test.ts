// A generated control plane behind the real daemon: simplebridge's skeleton, served as a remote
// service, takes cubes, configuration, reads and actions through REST and the CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeSkeleton } from "../../src/lib/codegen/writer.ts";
import { serveRemoteService } from "../../src/lib/remote/service-host.ts";
import type { ServiceModule } from "../../src/lib/sdk/types.ts";
import { Daemon, freePort } from "../lib/daemon.ts";

const ROOT = join(import.meta.dir, "..", "..");
const TMP = join(ROOT, "build", `tmp-codegen-${process.pid}-daemon`);
const daemon = new Daemon();
const port = freePort();
let server: { stop(): Promise<void> } | undefined;

beforeAll(async () => {
  mkdirSync(TMP, { recursive: true });
  writeSkeleton({ input: join(ROOT, "src", "services", "simplebridge", "simplebridge.yang"), outDir: join(TMP, "simplebridge") });
  const module = ((await import(join(TMP, "simplebridge", "index.ts"))) as { default: ServiceModule }).default;
  server = await serveRemoteService(module, `127.0.0.1:${port}`, { log: () => {} });
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  await server?.stop();
  daemon.cleanup();
  rmSync(TMP, { recursive: true, force: true });
});

describe("a generated skeleton behind the daemon", () => {
  test("registers in place of the built-in service", async () => {
    expect((await daemon.cli(["services", "del", "simplebridge"])).code).toBe(0);
    const add = await daemon.cli(["services", "add", "name=simplebridge", "type=grpc", `uri=127.0.0.1:${port}`]);
    expect(add.err).toBe("");
    expect(add.code).toBe(0);
  });

  test("cubes, ports and configuration go through its handlers; reads show its state", async () => {
    expect((await daemon.request("POST", "/simplebridge/gsb1/", { fdb: { "aging-time": 100 } })).status).toBe(201);
    expect((await daemon.cli(["gsb1", "ports", "add", "p1"])).code).toBe(0);
    const entry = await daemon.cli(["gsb1", "fdb", "entry", "add", "aa:bb:cc:dd:ee:ff", "port=p1"]);
    expect(entry.err).toBe("");
    expect(entry.code).toBe(0);
    const r = await daemon.request("GET", "/simplebridge/gsb1/fdb/");
    expect(r.status).toBe(200);
    expect(r.json()["aging-time"]).toBe(100);
    expect(r.json().entry).toEqual([{ address: "aa:bb:cc:dd:ee:ff", port: "p1", age: 0 }]);
    const ports = await daemon.request("GET", "/simplebridge/gsb1/ports/p1/");
    expect(ports.json().name).toBe("p1");
  });

  test("its action answers with the placeholder output; an unknown path is refused by the daemon", async () => {
    const r = await daemon.request("POST", "/simplebridge/gsb1/fdb/flush/", {});
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ flushed: false });
    expect((await daemon.request("POST", "/simplebridge/gsb1/fdb/nosuch/", {})).status).toBe(404);
  });

  test("the cube goes away cleanly", async () => {
    expect((await daemon.cli(["simplebridge", "del", "gsb1"])).code).toBe(0);
    expect((await daemon.request("GET", "/simplebridge/gsb1/")).status).toBe(404);
  });
});
