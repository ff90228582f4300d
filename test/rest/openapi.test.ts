// src/lib/rest/openapi.ts: the OpenAPI document of the REST layer, served in front of the
// in-memory core: it validates, follows the services loaded at run time, and matches the API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRestApp } from "../../src/lib/rest/index.ts";
import { openapiDocument, typeSchema } from "../../src/lib/rest/openapi.ts";
import { loadModule } from "../../src/lib/yang/index.ts";
import { checkCubePaths, validateDocument } from "../lib/openapi-check.ts";
import { MemoryCore } from "./memory-core.ts";

const MODEL = readFileSync(join(import.meta.dir, "..", "yang", "models", "tyr-rest.yang"), "utf8");
// A second service loaded at run time: tyr-everything.yang (every YANG construct the engine knows).
const SECOND = readFileSync(join(import.meta.dir, "..", "yang", "models", "tyr-everything.yang"), "utf8");

let server: ReturnType<typeof Bun.serve>;
let core: MemoryCore;
let base: string;

beforeAll(() => {
  core = new MemoryCore();
  core.addModel("tyrrest", MODEL);
  let app: ReturnType<typeof createRestApp> | undefined;
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => app!.fetch(r) });
  app = createRestApp(core, { host: "127.0.0.1", port: server.port! });
  base = `http://127.0.0.1:${server.port}/polycube/v1`;
});
afterAll(() => server.stop(true));

const doc = async () => (await (await fetch(`${base}/openapi.json`)).json()) as Record<string, any>;

describe("OpenAPI document", () => {
  test("leaf types map to JSON Schema", () => {
    expect(typeSchema({ base: "uint16", name: "uint16", ranges: [], lengths: [], patterns: [] })).toEqual({ type: "integer", minimum: 0, maximum: 65535 });
    expect(typeSchema({ base: "boolean", name: "boolean", ranges: [], lengths: [], patterns: [] })).toEqual({ type: "boolean" });
    expect(typeSchema({ base: "enumeration", name: "enumeration", ranges: [], lengths: [], patterns: [], enums: [{ name: "DROP", value: 0 }, { name: "PASS", value: 1 }] })).toEqual({ type: "string", enum: ["DROP", "PASS"] });
  });

  test("generated from a model alone, it validates; every data node has a path", async () => {
    const schema = loadModule(MODEL);
    const d = openapiDocument([{ name: "tyrrest", version: "1", description: "t", schema }], { version: "0" }) as Record<string, any>;
    expect(await validateDocument(d)).toEqual({ valid: true, errors: undefined });
    expect(Object.keys(d.paths)).toEqual(expect.arrayContaining(["/tyrrest", "/tyrrest/{cube}", "/version", "/openapi.json"]));
    const ids = Object.values(d.paths).flatMap((p: any) => Object.values(p).map((o: any) => o?.operationId).filter(Boolean));
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("served at /openapi.json, it validates and follows services loaded at run time", async () => {
    const first = await doc();
    expect(await validateDocument(first)).toMatchObject({ valid: true });
    expect(Object.keys(first.paths).some((p) => p.startsWith("/tyrlate"))).toBe(false);
    core.addModel("tyrlate", SECOND);
    const second = await doc();
    expect(await validateDocument(second)).toMatchObject({ valid: true });
    expect(Object.keys(second.paths).filter((p) => p.startsWith("/tyrlate/{cube}/")).length).toBeGreaterThan(5);
  });

  test("every GET path of a cube answers as documented", async () => {
    const r = await fetch(`${base}/tyrrest/oa1/`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(r.status).toBeLessThan(300);
    const report = await checkCubePaths(base, await doc(), "tyrrest", "oa1");
    expect(report.wrong).toEqual([]);
    expect(report.matched.length).toBeGreaterThan(3);
  });
});
