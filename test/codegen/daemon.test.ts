// A generated skeleton behind the real daemon: simplebridge's model under another name
// (skelbridge, beside the built-in simplebridge), its control plane served as a
// remote service with its own datapath (the skeleton's .bpf.c, compiled as `polycube service
// build` does), takes cubes, configuration, reads and actions through REST and the CLI, and
// reads its datapath's counters through a typed map.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSkeleton } from "../../src/lib/codegen/writer.ts";
import { buildPlugin } from "../../src/lib/plugin/build.ts";
import { unpackBytes } from "../../src/lib/plugin/package.ts";
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
  const yang = readFileSync(join(ROOT, "src", "services", "simplebridge", "simplebridge.yang"), "utf8").replaceAll("simplebridge", "skelbridge");
  writeFileSync(join(TMP, "skelbridge.yang"), yang);
  writeSkeleton({ input: join(TMP, "skelbridge.yang"), outDir: join(TMP, "skelbridge") });
  const module = ((await import(join(TMP, "skelbridge", "index.ts"))) as { default: ServiceModule }).default;
  const built = await buildPlugin({ dir: join(TMP, "skelbridge"), out: join(TMP, "skelbridge.pcn") });
  const pkg = await unpackBytes(new Uint8Array(await Bun.file(built.file).arrayBuffer()));
  const objects = [...pkg.objects].map(([name, data]) => ({ name, data }));
  server = await serveRemoteService(module, `127.0.0.1:${port}`, { log: () => {}, objects });
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  await server?.stop();
  daemon.cleanup();
  rmSync(TMP, { recursive: true, force: true });
});

describe("a generated skeleton behind the daemon", () => {
  test("registers as a service", async () => {
    const add = await daemon.cli(["services", "add", "name=skelbridge", "type=grpc", `uri=127.0.0.1:${port}`]);
    expect(add.err).toBe("");
    expect(add.code).toBe(0);
  });

  test("cubes, ports and configuration go through its handlers; reads show its state", async () => {
    expect((await daemon.request("POST", "/skelbridge/gsb1/", { fdb: { "aging-time": 100 } })).status).toBe(201);
    expect((await daemon.cli(["gsb1", "ports", "add", "p1"])).code).toBe(0);
    const entry = await daemon.cli(["gsb1", "fdb", "entry", "add", "aa:bb:cc:dd:ee:ff", "port=p1"]);
    expect(entry.err).toBe("");
    expect(entry.code).toBe(0);
    const r = await daemon.request("GET", "/skelbridge/gsb1/fdb/");
    expect(r.status).toBe(200);
    expect(r.json()["aging-time"]).toBe(100);
    expect(r.json().entry).toEqual([{ address: "aa:bb:cc:dd:ee:ff", port: "p1", age: 0 }]);
    const ports = await daemon.request("GET", "/skelbridge/gsb1/ports/p1/");
    expect(ports.json().name).toBe("p1");
  });

  test("its action answers with the placeholder output; an unknown path is refused by the daemon", async () => {
    const r = await daemon.request("POST", "/skelbridge/gsb1/fdb/flush/", {});
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ flushed: false });
    expect((await daemon.request("POST", "/skelbridge/gsb1/fdb/nosuch/", {})).status).toBe(404);
  });

  test("the cube goes away cleanly, reading its packet counters on the way (typed map of the skeleton's datapath)", async () => {
    expect((await daemon.cli(["skelbridge", "del", "gsb1"])).code).toBe(0);
    expect(daemon.log()).toContain("0 packets counted on port id 0");
    expect((await daemon.request("GET", "/skelbridge/gsb1/")).status).toBe(404);
  });
});
