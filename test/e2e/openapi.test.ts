// The OpenAPI document of the real daemon (GET /polycube/v1/openapi.json) validates, and for one
// cube of each built-in service every GET path it lists answers as documented.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Daemon, freePort } from "../lib/daemon.ts";
import { startRemoteService } from "../lib/remote-service.ts";
import { checkCubePaths, validateDocument } from "../lib/openapi-check.ts";

const daemon = new Daemon();
let doc: Record<string, any>;
let services: string[] = [];
const PORT_BODY: Record<string, object> = { router: { ip: "10.250.0.1/24" }, lbrp: { type: "FRONTEND" }, lbdsr: { type: "FRONTEND" } };

beforeAll(async () => {
  await daemon.start();
  services = ((await daemon.request("GET", "/services")).json() as Array<{ name: string }>).map((s) => s.name);
  doc = (await daemon.request("GET", "/openapi.json")).json();
}, 60_000);
afterAll(async () => {
  for (const s of services) await daemon.request("DELETE", `/${s}/oa-${s}/`).catch(() => undefined);
  await daemon.stop();
});

describe("OpenAPI document of the daemon", () => {
  test("validates and lists every built-in service", async () => {
    expect(services.length).toBeGreaterThanOrEqual(10);
    expect(await validateDocument(doc)).toMatchObject({ valid: true });
    for (const s of services) expect(doc.paths[`/${s}/{cube}`]?.get).toBeDefined();
  });

  test("one cube of each service: every GET path answers as documented", async () => {
    const summary: Record<string, { matched: number; unset: number; unreached: number }> = {};
    const wrong: string[] = [];
    for (const s of services) {
      const c = await daemon.request("POST", `/${s}/oa-${s}/`, {});
      expect({ s, ok: c.status >= 200 && c.status < 300, text: c.text }).toMatchObject({ s, ok: true });
      // A port, so that the paths under ports/{ports_name} are reached too (a router's needs an address).
      if (doc.paths[`/${s}/{cube}/ports/{ports_name}`]) {
        const p = await daemon.request("POST", `/${s}/oa-${s}/ports/p1/`, PORT_BODY[s] ?? {});
        expect({ s, port: p.status, text: p.text }).toMatchObject({ s, port: p.status < 300 ? p.status : 201 });
      }
      const r = await checkCubePaths(daemon.url, doc, s, `oa-${s}`);
      summary[s] = { matched: r.matched.length, unset: r.unset.length, unreached: r.unreached.length };
      wrong.push(...r.wrong);
      expect(r.matched.length).toBeGreaterThan(1);
    }
    console.log(JSON.stringify(summary));
    // The router's connected routes (nexthop "local") are read like the others.
    expect(wrong).toEqual([]);
  }, 120_000);

  test("a service unloaded and loaded again as a remote service: the document follows, and the remote cube answers as documented", async () => {
    const port = freePort();
    const remote = await startRemoteService("simpleforwarder", `127.0.0.1:${port}`);
    try {
      // The built-in simpleforwarder makes way for the same service in another process.
      await daemon.request("DELETE", "/simpleforwarder/oa-simpleforwarder/");
      expect((await daemon.request("DELETE", "/services/simpleforwarder")).status).toBeLessThan(300);
      expect((await daemon.request("GET", "/openapi.json")).json().paths["/simpleforwarder/{cube}"]).toBeUndefined();
      const add = await daemon.request("POST", "/services", { name: "simpleforwarder", type: "grpc", uri: `127.0.0.1:${port}` });
      expect({ status: add.status, text: add.text }).toMatchObject({ status: 200 });
      const d = (await daemon.request("GET", "/openapi.json")).json();
      expect(await validateDocument(d)).toMatchObject({ valid: true });
      expect(d.paths["/simpleforwarder/{cube}/ports/{ports_name}"]?.get).toBeDefined();
      expect((await daemon.request("POST", "/simpleforwarder/oa-rfwd/", {})).status).toBeLessThan(300);
      const r = await checkCubePaths(daemon.url, d, "simpleforwarder", "oa-rfwd");
      expect(r.wrong).toEqual([]);
      expect(r.matched.length).toBeGreaterThan(1);
      await daemon.request("DELETE", "/simpleforwarder/oa-rfwd/");
    } finally {
      remote.kill("SIGKILL");
      await remote.exited;
    }
  }, 60_000);
});
