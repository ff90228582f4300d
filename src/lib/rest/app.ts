// The REST API of polycubed under /polycube/v1/ (§3): hand-written top-level endpoints,
// YANG-driven service resources, and the cube-name redirect. It talks only to a DaemonCore.
//
// Service resources are dispatched dynamically: the URL is walked against the service's
// compiled schema on each request (src/lib/rest/target.ts), so services loaded or unloaded at
// run time need no route registration.
import { Hono, type Context } from "hono";
import type { DaemonCore } from "./core-api.ts";
import { ServiceError, type Json, type JsonObject } from "../sdk/types.ts";
import { normalise, applyDefaults, checkTree } from "../yang/index.ts";
import { VERSION } from "../../version.ts";
import { errorResponse, readJson, RestError } from "./errors.ts";
import { Helper, parseHelpQuery } from "./help.ts";
import { Linker, linkHostPort } from "./links.ts";
import { Metrics } from "./metrics.ts";
import { openapiDocument, type OpenApiService } from "./openapi.ts";
import { CubeLocks } from "./locks.ts";
import { SchemaCache } from "./schemas.ts";
import { emptyReply, jsonReply, ServiceApi } from "./service-api.ts";
import { resolveTarget } from "./target.ts";
import { isObject } from "./tree.ts";

export const BASE = "/polycube/v1";
/** The response header that carries polycubed's version. */
export const VERSION_HEADER = "x-polycubed-version";

export interface RestOptions {
  /** The daemon's listen address, used in HATEOAS hrefs (//host:port/polycube/v1/...). */
  host: string;
  port: number;
  /** polycubed version for GET /version (default: the package's). */
  version?: string;
}

function text(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function plainJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** Top-level handlers answer errors as plain text 400, as the original's catch blocks do. */
async function topLevel(fn: () => Promise<Response> | Response): Promise<Response> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RestError) return errorResponse(e);
    // A conflict with the environment (a netdev in use by another program) or a service that does not answer keeps its status.
    if (e instanceof ServiceError && [409, 503, 504].includes(e.status)) return errorResponse(e);
    return text(e instanceof Error ? e.message : String(e), 400);
  }
}

function stringMember(body: unknown, name: string): string {
  const v = isObject(body as Json) ? (body as JsonObject)[name] : undefined;
  if (v === undefined || v === null) throw RestError.tagged("missing-attribute", name, `member ${name} is missing`);
  if (typeof v !== "string") throw RestError.tagged("bad-attribute", name, `member ${name} must be a string`);
  return v;
}

/** Path words after /polycube/v1/, URL-decoded one by one (so %2F stays inside its word). */
function pathWords(url: URL): string[] {
  const rest = url.pathname.slice(BASE.length);
  return rest
    .split("/")
    .filter((w) => w !== "")
    .map((w) => {
      try {
        return decodeURIComponent(w);
      } catch {
        throw RestError.text(400, `Malformed URL-encoding in ${JSON.stringify(w)}`);
      }
    });
}

export function createRestApp(core: DaemonCore, opts: RestOptions): Hono {
  const app = new Hono({ strict: false });
  const linker = new Linker(linkHostPort(opts.host, opts.port));
  const schemas = new SchemaCache(core);
  const lock = new CubeLocks();
  const api = new ServiceApi(core, linker, lock);
  const helper = new Helper(core);
  const metrics = new Metrics(core, schemas);
  const version = opts.version ?? VERSION;
  const query = (c: Context) => new URL(c.req.url).searchParams;

  // Every reply names the daemon's version, so that polycubectl can tell a mismatch without a request of its own.
  app.use("*", async (c, next) => {
    await next();
    try {
      c.res.headers.set(VERSION_HEADER, version);
    } catch {
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set(VERSION_HEADER, version);
    }
  });

  const cubesHelp = (c: Context, elements: Array<Record<string, string>>, what: string) =>
    topLevel(() => {
      const { help, completion } = parseHelpQuery(query(c));
      if (help === undefined) return emptyReply(200);
      if (completion) return plainJson(elements.map((e) => Object.values(e)[0]));
      return plainJson({
        params: { name: { name: "name", type: "key", simpletype: "string", description: `${what} name`, example: "" } },
        elements,
        commands: ["show"],
      });
    });

  // --- root ---------------------------------------------------------------------------------
  app.get(BASE, () => {
    const rels = ["services", "cubes", "netdevs", "version", "connect", "disconnect", "attach", "detach", "topology"];
    const names = [...core.services().map((s) => s.name), ...core.cubeNames()];
    const links = [{ rel: "self", href: linker.href([]) }, ...[...rels, ...names].map((r) => ({ rel: r, href: linker.href([r]) }))];
    return plainJson({ _links: links });
  });
  app.options(BASE, (c) =>
    topLevel(() => {
      const q = query(c);
      if (!q.has("help")) return emptyReply(200);
      const { help, completion } = parseHelpQuery(q);
      if (help !== "NONE") throw RestError.text(400, `Invalid help type ${q.get("help")} for the root`);
      if (completion)
        return plainJson(["connect", "disconnect", "attach", "detach", "services", "cubes", "topology", "netdevs", ...core.services().map((s) => s.name), ...core.cubeNames()]);
      const params: Record<string, unknown> = {};
      for (const s of core.services())
        params[s.name] = { name: s.name, simpletype: "service", type: "leaf", description: s.description, version: s.version, pyang_repo_id: "Unknown", swagger_codegen_repo_id: "Unknown" };
      return plainJson({ params });
    }),
  );

  // --- services -----------------------------------------------------------------------------
  app.post(`${BASE}/services`, (c) =>
    topLevel(async () => {
      const body = await readJson(c.req.raw);
      const name = stringMember(body, "name");
      const type = stringMember(body, "type");
      const uri = stringMember(body, "uri");
      if (type !== "lib" && type !== "grpc") throw RestError.tagged("bad-attribute", "type", `type must be lib or grpc, not ${type}`);
      if (core.service(name)) throw RestError.text(400, "Service Controller already exists");
      await core.addService({ name, type, uri });
      return emptyReply(200);
    }),
  );
  app.get(`${BASE}/services`, () =>
    plainJson(
      core.services().map((s) => ({
        name: s.name, servicecontroller: s.uri, description: s.description || "Unknown", version: s.version || "Unknown",
        pyang_repo_id: "Unknown", swagger_codegen_repo_id: "Unknown",
      })),
    ),
  );
  app.get(`${BASE}/services/:name`, (c) =>
    topLevel(() => {
      const s = core.service(c.req.param("name"));
      if (!s) throw RestError.text(400, "Service Controller does not exist");
      return plainJson([{ name: s.name, servicecontroller: s.uri, datamodel: s.yang }]);
    }),
  );
  app.delete(`${BASE}/services/:name`, (c) =>
    topLevel(() =>
      lock.exclusive(async () => {
        const name = c.req.param("name");
        if (!core.service(name)) throw RestError.text(400, "Service Controller does not exist");
        await core.deleteService(name);
        return emptyReply(204);
      }),
    ),
  );
  app.options(`${BASE}/services`, (c) =>
    cubesHelp(c, core.services().map((s) => ({ name: s.name })), "Service"),
  );

  // --- cubes --------------------------------------------------------------------------------
  app.get(`${BASE}/cubes`, () => {
    const out: Record<string, unknown[]> = {};
    for (const n of core.cubeNames()) {
      const svc = core.cubeService(n);
      const s = core.cubeSummary(n);
      if (!svc || !s) continue;
      (out[svc] ??= []).push(s);
    }
    return plainJson(out);
  });
  app.get(`${BASE}/cubes/:name`, (c) =>
    topLevel(() => {
      const s = core.cubeSummary(c.req.param("name"));
      if (!s) throw RestError.text(400, "Cube does not exist");
      return plainJson(s);
    }),
  );
  app.post(`${BASE}/cubes`, (c) => topLevel(async () => createCubes(await readJson(c.req.raw))));
  app.options(`${BASE}/cubes`, (c) => cubesHelp(c, core.cubeNames().map((n) => ({ cube: n })), "Cube"));
  app.options(`${BASE}/cubes/:name`, () => plainJson({ commands: ["show"] }));

  /** POST /cubes: every cube validated first, created without peers, then peers set. */
  async function createCubes(body: unknown): Promise<Response> {
    if (!Array.isArray(body)) throw RestError.text(400, "the body must be a JSON array of cubes");
    return lock.exclusive(async () => {
      const plan: Array<{ service: string; config: JsonObject; peers: Array<[string, string]> }> = [];
      const names = new Set<string>();
      for (const [i, raw] of body.entries()) {
        if (!isObject(raw as Json)) throw RestError.text(400, `cube #${i} is not a JSON object`);
        const cube = { ...(raw as JsonObject) };
        const name = cube.name;
        const service = cube["service-name"];
        if (typeof name !== "string" || !name) throw RestError.tagged("missing-attribute", "name", `cube #${i} has no name`);
        if (typeof service !== "string") throw RestError.tagged("missing-attribute", "service-name", `cube ${name} has no service-name`);
        const schema = schemas.get(service);
        if (!schema) throw RestError.text(400, `cube ${name}: service ${service} does not exist`);
        if (core.cubeService(name) !== undefined || names.has(name)) throw RestError.tagged("data-exists", name, `cube ${name} already exists`);
        names.add(name);
        delete cube.name;
        const peers: Array<[string, string]> = [];
        if (Array.isArray(cube.ports))
          cube.ports = cube.ports.map((p) => {
            if (!isObject(p)) return p;
            const { peer, ...rest } = p;
            if (typeof peer === "string" && peer && typeof p.name === "string") peers.push([p.name, peer]);
            return rest;
          });
        const n = normalise(schema.root, cube, { op: "create" });
        if (n.errors.length) throw RestError.validation(n.errors);
        const config: JsonObject = { name, ...(n.value as JsonObject), "service-name": service };
        applyDefaults(schema.root, config);
        const errors = checkTree(schema.root, config);
        if (errors.length) throw RestError.validation(errors);
        plan.push({ service, config, peers });
      }
      const created: string[] = [];
      try {
        for (const p of plan) {
          await core.createCube(p.service, p.config);
          created.push(p.config.name as string);
        }
        for (const p of plan) {
          if (!p.peers.length) continue;
          const name = p.config.name as string;
          const next = structuredClone(core.cubeConfig(name) ?? p.config);
          for (const [port, peer] of p.peers) {
            const entry = (next.ports as Json[]).find((x) => isObject(x) && x.name === port) as JsonObject | undefined;
            if (entry) entry.peer = peer;
          }
          await core.updateCube(name, next);
        }
      } catch (e) {
        for (const n of created.reverse()) await core.deleteCube(n).catch(() => undefined);
        throw e;
      }
      return emptyReply(200);
    });
  }

  // --- netdevs, version, topology -------------------------------------------------------------
  app.get(`${BASE}/netdevs`, () => plainJson(core.netdevs()));
  app.get(`${BASE}/netdevs/:name`, (c) =>
    topLevel(() => {
      const name = c.req.param("name");
      const d = core.netdevs().find((n) => n.name === name);
      if (!d) throw RestError.text(400, `netdev ${name}does not exist`);
      return plainJson([d]);
    }),
  );
  app.options(`${BASE}/netdevs`, (c) => cubesHelp(c, core.netdevs().map((d) => ({ netdev: d.name })), "Netdev"));
  app.options(`${BASE}/netdevs/:name`, () => plainJson({ commands: ["show"] }));
  app.get(`${BASE}/version`, () => plainJson({ polycubed: { version } }));
  // Built from the services loaded now (plug-ins and remote ones too), again only when a model changed.
  let openapi: { key: string; text: string } | undefined;
  app.get(`${BASE}/openapi.json`, () =>
    topLevel(() => {
      const loaded = core.services();
      const key = JSON.stringify(loaded.map((s) => [s.name, s.version, s.yang]));
      if (openapi?.key !== key) {
        const services: OpenApiService[] = [];
        for (const s of loaded) {
          const schema = schemas.get(s.name);
          if (schema) services.push({ name: s.name, version: s.version, description: s.description, schema });
        }
        openapi = { key, text: JSON.stringify(openapiDocument(services, { version })) };
      }
      return new Response(openapi.text, { headers: { "content-type": "application/json" } });
    }),
  );
  app.get(`${BASE}/topology`, () => plainJson(core.cubeNames().map((n) => core.cubeSummary(n)).filter(Boolean)));
  app.get(`${BASE}/topology/:ifname`, (c) => topLevel(() => plainJson(core.netdevTopology(c.req.param("ifname")))));
  app.options(`${BASE}/topology`, () => plainJson({ commands: ["show"] }));
  app.options(`${BASE}/topology/:ifname`, () => plainJson({ commands: ["show"] }));
  app.get(`${BASE}/metrics`, async () => new Response(await metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } }));

  // --- connect, disconnect, attach, detach ----------------------------------------------------
  const peerPair = (verb: "connect" | "disconnect") =>
    app.post(`${BASE}/${verb}`, (c) =>
      topLevel(async () => {
        const body = await readJson(c.req.raw);
        const p1 = stringMember(body, "peer1");
        const p2 = stringMember(body, "peer2");
        await lock.exclusive(() => core[verb](p1, p2));
        return emptyReply(200);
      }),
    );
  peerPair("connect");
  peerPair("disconnect");
  const portWords = () =>
    core.cubeNames().flatMap((n) => (core.cubeSummary(n)?.ports ?? []).map((p) => `${n}:${p.name}`));
  for (const verb of ["connect", "disconnect"]) {
    app.options(`${BASE}/${verb}`, (c) =>
      topLevel(() => {
        const q = query(c);
        if (q.has("completion")) return plainJson(portWords());
        return plainJson("not implemented");
      }),
    );
  }
  app.post(`${BASE}/attach`, (c) =>
    topLevel(async () => {
      const body = await readJson(c.req.raw);
      const cube = stringMember(body, "cube");
      const port = stringMember(body, "port");
      const b = body as JsonObject;
      const req: Parameters<DaemonCore["attach"]>[0] = { cube, port };
      if (b.position !== undefined) {
        if (b.position !== "auto" && b.position !== "first" && b.position !== "last")
          throw RestError.text(400, `position must be auto, first or last, not ${JSON.stringify(b.position)}`);
        req.position = b.position;
      }
      if (b.before !== undefined) req.before = String(b.before);
      if (b.after !== undefined) req.after = String(b.after);
      const set = [req.position, req.before, req.after].filter((x) => x !== undefined).length;
      if (set > 1) throw RestError.text(400, "only one of position, before and after may be given");
      await lock.exclusive(() => core.attach(req));
      return emptyReply(200);
    }),
  );
  app.post(`${BASE}/detach`, (c) =>
    topLevel(async () => {
      const body = await readJson(c.req.raw);
      const cube = stringMember(body, "cube");
      const port = stringMember(body, "port");
      await lock.exclusive(() => core.detach({ cube, port }));
      return emptyReply(200);
    }),
  );
  for (const verb of ["attach", "detach"]) {
    app.options(`${BASE}/${verb}`, (c) =>
      topLevel(() => {
        if (query(c).has("completion")) return plainJson([...core.cubeNames(), ...portWords(), ...core.netdevs().map((d) => d.name)]);
        return plainJson("not implemented");
      }),
    );
  }

  // --- services' YANG resources and the cube-name redirect --------------------------------------
  app.all(`${BASE}/*`, async (c) => {
    try {
      const url = new URL(c.req.url);
      const words = pathWords(url);
      const first = words[0];
      const schema = first !== undefined ? schemas.get(first) : undefined;
      if (first !== undefined && schema) {
        const t = resolveTarget(first, schema, words.slice(1), c.req.method === "GET" || c.req.method === "OPTIONS");
        if (c.req.method === "OPTIONS") return await helper.options(t, url.searchParams);
        return await api.handle(c.req.raw, t);
      }
      return notFound(c.req.raw, url, words);
    } catch (e) {
      return errorResponse(e);
    }
  });
  app.notFound((c) => {
    const url = new URL(c.req.url);
    if (!url.pathname.startsWith(BASE)) return text("Cannot find a matching route.", 404);
    try {
      return notFound(c.req.raw, url, pathWords(url));
    } catch (e) {
      return errorResponse(e);
    }
  });
  app.onError((e) => errorResponse(e));

  /** §3.2: /polycube/v1/<cube>/rest... is redirected (308) to /polycube/v1/<service>/<cube>/rest... */
  function notFound(req: Request, url: URL, words: string[]): Response {
    if (req.headers.get("referer")) return text("Cannot find a matching route.", 404);
    const cube = words[0];
    const service = cube === undefined ? undefined : core.cubeService(cube);
    if (cube === undefined || !service) return text(`No cube found named ${cube ?? ""}`, 404);
    const rest = url.pathname.slice(BASE.length).replace(/^\/+/, "");
    return new Response(null, { status: 308, headers: { location: `${BASE}/${encodeURIComponent(service)}/${rest}${url.search}` } });
  }

  return app;
}
