// simplebridge as a remote service: its own process, reached by polycubed over gRPC.
// Users see the same REST paths and CLI commands as for a local service.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { Daemon, freePort } from "../lib/daemon.ts";
import { startRemoteService } from "../lib/remote-service.ts";
import { Topology } from "../lib/netns.ts";

const topo = new Topology("trem");
const daemon = new Daemon();
const servicePort = freePort();
let service: Subprocess | undefined;
let h1: ReturnType<Topology["host"]>;
let h2: ReturnType<Topology["host"]>;

async function startService(): Promise<void> {
  service = await startRemoteService("simplebridge", `127.0.0.1:${servicePort}`);
}

async function killService(): Promise<void> {
  service?.kill("SIGKILL");
  await service?.exited;
  service = undefined;
}

beforeAll(async () => {
  h1 = topo.host(1, "10.203.0.1/24");
  h2 = topo.host(2, "10.203.0.2/24");
  await daemon.start();
  await startService();
});

afterAll(async () => {
  await killService();
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("remote service over gRPC", () => {
  test("services add type=grpc registers it under its own name", async () => {
    // The built-in simplebridge occupies the name in this daemon; register the remote one under it
    // after removing the local one, as a user moving a service out of process would.
    expect((await daemon.cli(["services", "del", "simplebridge"])).code).toBe(0);
    const add = await daemon.cli(["services", "add", "name=simplebridge", "type=grpc", `uri=127.0.0.1:${servicePort}`]);
    expect(add.err).toBe("");
    expect(add.code).toBe(0);
    const list = await daemon.request("GET", "/services/");
    const sb = list.json().find((s: { name: string }) => s.name === "simplebridge");
    expect(sb.servicecontroller).toContain(`127.0.0.1:${servicePort}`);
  });

  test("a cube created through REST and the CLI forwards pings", async () => {
    expect((await daemon.request("POST", "/simplebridge/rsb1/", {})).status).toBe(201);
    expect((await daemon.cli(["rsb1", "ports", "add", "p1", `peer=${h1.outer}`])).code).toBe(0);
    expect((await daemon.cli(["rsb1", "ports", "add", "p2", `peer=${h2.outer}`])).code).toBe(0);
    expect(topo.ping(h1, h2.ip, 3)).toBe(true);
    const fdb = await daemon.request("GET", "/simplebridge/rsb1/fdb/entry/");
    expect(fdb.status).toBe(200);
  });

  test("when the service dies, requests fail with a clear error", async () => {
    await killService();
    await Bun.sleep(200);
    const r = await daemon.request("GET", "/simplebridge/rsb1/");
    expect(r.status).toBe(503);
    expect(r.text).toContain("unreachable");
    const cli = await daemon.cli(["rsb1", "show"]);
    expect(cli.code).not.toBe(0);
    expect(cli.err).toContain("unreachable");
  });

  test("when it comes back, it re-registers, its cube is restored and pings pass again", async () => {
    await startService();
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await daemon.request("GET", "/simplebridge/rsb1/")).status === 200;
      if (!ok) await Bun.sleep(100);
    }
    expect(ok).toBe(true);
    expect(topo.ping(h1, h2.ip, 3)).toBe(true);
  });
});
