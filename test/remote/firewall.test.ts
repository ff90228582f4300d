// A service that keeps configuration of its own (the firewall: rules added by actions) behind
// gRPC: the daemon learns that at registration, so rules appended remotely can be addressed
// and deleted through REST like local ones.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { Daemon, freePort } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { startRemoteService } from "../lib/remote-service.ts";

const daemon = new Daemon();
const ok = okRequester(daemon);
const port = freePort();
let service: Subprocess | undefined;

beforeAll(async () => {
  await daemon.start();
  service = await startRemoteService("firewall", `127.0.0.1:${port}`);
});

afterAll(async () => {
  service?.kill("SIGKILL");
  await daemon.stop();
  daemon.cleanup();
});

describe("a remote service that owns its configuration", () => {
  test("rules appended by an action are in the configuration and can be deleted by id", async () => {
    await ok("DELETE", "/services/firewall/");
    expect((await daemon.request("POST", "/services/", { name: "firewall", type: "grpc", uri: `127.0.0.1:${port}` })).status).toBe(200);
    await ok("POST", "/firewall/rfw/", {});
    const appended = await ok("POST", "/firewall/rfw/chain/INGRESS/append/", { src: "10.1.1.1/32", action: "DROP" });
    expect(appended.id).toBe(0);
    expect(await ok("GET", "/firewall/rfw/chain/INGRESS/rule/0/src/")).toBe("10.1.1.1/32");
    expect((await daemon.request("DELETE", "/firewall/rfw/chain/INGRESS/rule/0/")).status).toBe(204);
    expect((await daemon.request("GET", "/firewall/rfw/chain/INGRESS/rule/0/")).status).toBeGreaterThanOrEqual(400);
  });
});
