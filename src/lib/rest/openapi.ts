// An OpenAPI 3.0 document of the REST API, generated from the loaded services' YANG models:
// the daemon's own endpoints, then for each service its cube collection, the cube, and one path
// per data node (containers, lists and their entries, leaves, leaf-lists, actions), as
// src/lib/rest/target.ts resolves them. Served at GET /polycube/v1/openapi.json (app.ts), built
// from core.services() and cached by model text, so services added at run time (plug-ins,
// remote ones) are in it.
import { dataChildren, type ResolvedType, type Schema, type SchemaNode } from "../yang/index.ts";

type Obj = Record<string, unknown>;

export interface OpenApiService {
  name: string;
  version: string;
  description: string;
  schema: Schema;
}

const SMALL_INTEGERS = new Set(["int8", "int16", "int32", "uint8", "uint16", "uint32"]);
const INTEGER_BOUNDS: Record<string, [number, number]> = {
  int8: [-128, 127], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
  uint8: [0, 255], uint16: [0, 65535], uint32: [0, 4294967295],
};

/** The JSON Schema (OpenAPI 3.0 dialect) of a leaf's value as the API reads and writes it. */
export function typeSchema(t: ResolvedType | undefined): Obj {
  if (!t) return {};
  const described = (s: Obj): Obj => (t.name !== t.base ? { ...s, description: `YANG type ${t.name}` } : s);
  if (SMALL_INTEGERS.has(t.base)) {
    const [min, max] = INTEGER_BOUNDS[t.base]!;
    return described({ type: "integer", minimum: min, maximum: max });
  }
  switch (t.base) {
    case "int64":
    case "uint64":
      // Beyond 2^53 a JSON number loses digits: such values may come as text.
      return described({ anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] });
    case "decimal64":
      return described({ anyOf: [{ type: "number" }, { type: "string" }] });
    case "boolean":
      return described({ type: "boolean" });
    case "enumeration":
      return described({ type: "string", enum: (t.enums ?? []).map((e) => e.name) });
    case "union":
      return described({ anyOf: (t.union ?? []).map((u) => typeSchema(u)) });
    case "leafref":
      return t.target?.type ? typeSchema(t.target.type) : described({ type: "string" });
    case "empty":
      return described({});
    default:
      return described({ type: "string" });
  }
}

class Builder {
  readonly paths: Record<string, Obj> = {};
  readonly components: Record<string, Obj> = {};

  constructor(private readonly service: OpenApiService) {}

  private componentName(path: string[]): string {
    return [this.service.name, ...path].join("_").replace(/[^A-Za-z0-9._-]/g, "_");
  }

  /** A container or list entry's schema as a component; returns its $ref. */
  private objectRef(node: SchemaNode, path: string[]): Obj {
    const name = this.componentName(path.length ? path : ["cube"]);
    if (!this.components[name]) {
      this.components[name] = {}; // placeholder: YANG trees are finite, but keep recursion safe
      const properties: Obj = {};
      for (const c of dataChildren(node)) {
        if (c.kind === "action" || c.kind === "notification" || c.kind === "input" || c.kind === "output") continue;
        properties[c.name] = this.nodeSchema(c, [...path, c.name]);
      }
      const s: Obj = { type: "object", properties };
      if (node.keys?.length) s.required = node.keys;
      if (node.description) s.description = node.description;
      this.components[name] = s;
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  nodeSchema(node: SchemaNode, path: string[]): Obj {
    const withMeta = (s: Obj): Obj => {
      const out: Obj = { ...s };
      if (!node.config) out.readOnly = true;
      if (node.description && !("$ref" in s)) out.description = node.description;
      if (node.default !== undefined && !("$ref" in s) && node.kind === "leaf") out["x-yang-default"] = node.default;
      return "$ref" in s ? (node.config ? s : { allOf: [s], readOnly: true }) : out;
    };
    switch (node.kind) {
      case "leaf":
        return withMeta(typeSchema(node.type));
      case "leaf-list":
        return withMeta({ type: "array", items: typeSchema(node.type) });
      case "list":
        return withMeta({ type: "array", items: this.objectRef(node, path) });
      default:
        return withMeta(this.objectRef(node, path));
    }
  }

  /** Walks the model: one path per addressable node. */
  walk(node: SchemaNode, url: string, path: string[], params: Obj[]): void {
    for (const c of dataChildren(node)) {
      if (node.keys?.includes(c.name) || c.kind === "notification" || c.kind === "input" || c.kind === "output") continue;
      const here = `${url}/${c.name}`;
      const cpath = [...path, c.name];
      const tag = this.service.name;
      if (c.kind === "action") {
        const input = c.children.find((x) => x.kind === "input");
        const output = c.children.find((x) => x.kind === "output");
        this.paths[here] = {
          parameters: params,
          post: {
            tags: [tag], operationId: this.opId("action", cpath), summary: c.description ?? `action ${c.name}`,
            ...(input ? { requestBody: { content: { "application/json": { schema: this.objectRef(input, [...cpath, "input"]) } } } } : {}),
            responses: {
              "201": { description: "done", ...(output ? { content: { "application/json": { schema: this.objectRef(output, [...cpath, "output"]) } } } : {}) },
              default: ERROR,
            },
          },
        };
        continue;
      }
      if (c.kind === "list") {
        const entry = this.objectRef(c, cpath);
        this.paths[here] = this.ops(params, cpath, c.config, {
          schema: { type: "array", items: { anyOf: [entry, LINKS_ELEMENT] }, description: "the entries, then [\"_links\", [...]]" },
          body: { type: "array", items: entry },
          what: `list ${c.name}`,
        });
        const keyParams = (c.keys ?? []).map((k) => {
          const leaf = c.children.find((x) => x.name === k);
          return { name: `${c.name}_${k}`, in: "path", required: true, description: `key ${k} of ${c.name}`, schema: { type: "string" } , "x-yang-type": leaf?.type?.name };
        });
        const entryUrl = `${here}/${(c.keys ?? []).map((k) => `{${c.name}_${k}}`).join("/")}`;
        this.paths[entryUrl] = this.ops([...params, ...keyParams], [...cpath, "entry"], c.config, { schema: entry, body: entry, what: `an entry of ${c.name}` });
        this.walk(c, entryUrl, cpath, [...params, ...keyParams]);
        continue;
      }
      const schema = this.nodeSchema(c, cpath);
      this.paths[here] = this.ops(params, cpath, c.config, { schema, body: schema, what: `${c.kind} ${c.name}` });
      if (c.kind === "container") this.walk(c, here, cpath, params);
    }
  }

  private opId(verb: string, path: string[]): string {
    return `${verb}_${this.componentName(path)}`;
  }

  ops(params: Obj[], path: string[], config: boolean, o: { schema: Obj; body: Obj; what: string }): Obj {
    const tag = this.service.name;
    const json = (schema: Obj) => ({ content: { "application/json": { schema } } });
    const p: Obj = {
      parameters: params,
      get: { tags: [tag], operationId: this.opId("read", path), summary: `Read ${o.what}`, responses: { "200": { description: o.what, ...json(o.schema) }, default: ERROR } },
    };
    if (config) {
      for (const [verb, status, id] of [["post", "201", "create"], ["put", "201", "replace"], ["patch", "200", "update"]] as const)
        p[verb] = { tags: [tag], operationId: this.opId(id, path), summary: `${id} ${o.what}`, requestBody: { required: true, ...json(o.body) }, responses: { [status]: { description: "done" }, default: ERROR } };
      p.delete = { tags: [tag], operationId: this.opId("delete", path), summary: `Delete ${o.what}`, responses: { "204": { description: "deleted" }, default: ERROR } };
    }
    return p;
  }
}

const ERROR: Obj = {
  description: "refused: a JSON error (RFC 8040 errors) or a plain text message",
  content: { "application/json": { schema: {} }, "text/plain": { schema: { type: "string" } } },
};
const LINKS_ELEMENT: Obj = { type: "array", description: "[\"_links\", [{rel, href}...]]" };
const CUBE_PARAM: Obj = { name: "cube", in: "path", required: true, description: "cube name", schema: { type: "string" } };
const anyJson = (description: string): Obj => ({ description, content: { "application/json": { schema: {} } } });
const ok = (description: string, schema: Obj = {}): Obj => ({ "200": { description, content: { "application/json": { schema } } }, default: ERROR });
const nameParam = (name: string, what: string): Obj => ({ name, in: "path", required: true, description: what, schema: { type: "string" } });
const bodyOf = (schema: Obj): Obj => ({ required: true, content: { "application/json": { schema } } });
const done = { "200": { description: "done" }, default: ERROR };

/** The daemon's own endpoints (app.ts), the same whatever services are loaded. */
function corePaths(): Record<string, Obj> {
  const t = ["polycubed"];
  return {
    "/services": {
      get: { tags: t, operationId: "listServices", summary: "Loaded services", responses: ok("services", { type: "array", items: { type: "object", properties: { name: { type: "string" }, servicecontroller: { type: "string" }, description: { type: "string" }, version: { type: "string" } } } }) },
      post: { tags: t, operationId: "addService", summary: "Load a service (lib: a plug-in package; grpc: a remote service)", requestBody: bodyOf({ type: "object", required: ["name", "type", "uri"], properties: { name: { type: "string" }, type: { type: "string", enum: ["lib", "grpc"] }, uri: { type: "string" } } }), responses: done },
    },
    "/services/{service}": {
      parameters: [nameParam("service", "service name")],
      get: { tags: t, operationId: "readService", summary: "A service and its YANG model", responses: ok("the service", { type: "array", items: { type: "object", properties: { name: { type: "string" }, servicecontroller: { type: "string" }, datamodel: { type: "string" } } } }) },
      delete: { tags: t, operationId: "deleteService", summary: "Unload a service", responses: { "204": { description: "unloaded" }, default: ERROR } },
    },
    "/cubes": {
      get: { tags: t, operationId: "listCubes", summary: "Cubes by service", responses: ok("cubes", { type: "object", additionalProperties: { type: "array", items: { $ref: "#/components/schemas/CubeSummary" } } }) },
      post: { tags: t, operationId: "createCubes", summary: "Create cubes (and connect their ports) at once", requestBody: bodyOf({ type: "array", items: { type: "object" } }), responses: done },
    },
    "/cubes/{cube}": { parameters: [CUBE_PARAM], get: { tags: t, operationId: "readCubeSummary", summary: "A cube's summary", responses: ok("the cube", { $ref: "#/components/schemas/CubeSummary" }) } },
    "/netdevs": { get: { tags: t, operationId: "listNetdevs", summary: "Network interfaces", responses: ok("netdevs", { type: "array", items: { type: "object" } }) } },
    "/netdevs/{netdev}": { parameters: [nameParam("netdev", "interface name")], get: { tags: t, operationId: "readNetdev", summary: "A network interface", responses: ok("netdev", { type: "array", items: { type: "object" } }) } },
    "/version": { get: { tags: t, operationId: "version", summary: "polycubed's version", responses: ok("version", { type: "object", properties: { polycubed: { type: "object", properties: { version: { type: "string" } } } } }) } },
    "/topology": { get: { tags: t, operationId: "topology", summary: "Every cube and its ports", responses: ok("topology", { type: "array", items: { $ref: "#/components/schemas/CubeSummary" } }) } },
    "/topology/{netdev}": { parameters: [nameParam("netdev", "interface name")], get: { tags: t, operationId: "netdevTopology", summary: "The service chains of an interface", responses: ok("chains", { type: "object" }) } },
    "/connect": { post: { tags: t, operationId: "connect", summary: "Connect two ports, or a port and a netdev", requestBody: bodyOf({ $ref: "#/components/schemas/PeerPair" }), responses: done } },
    "/disconnect": { post: { tags: t, operationId: "disconnect", summary: "Disconnect two peers", requestBody: bodyOf({ $ref: "#/components/schemas/PeerPair" }), responses: done } },
    "/attach": { post: { tags: t, operationId: "attach", summary: "Attach a transparent cube to a port or netdev", requestBody: bodyOf({ type: "object", required: ["cube", "port"], properties: { cube: { type: "string" }, port: { type: "string" }, position: { type: "string", enum: ["auto", "first", "last"] }, before: { type: "string" }, after: { type: "string" } } }), responses: done } },
    "/detach": { post: { tags: t, operationId: "detach", summary: "Detach a transparent cube", requestBody: bodyOf({ type: "object", required: ["cube", "port"], properties: { cube: { type: "string" }, port: { type: "string" } } }), responses: done } },
    "/metrics": { get: { tags: t, operationId: "metrics", summary: "Prometheus metrics", responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } } } } },
    "/openapi.json": { get: { tags: t, operationId: "openapi", summary: "This document", responses: { "200": anyJson("the OpenAPI document") } } },
  };
}

const CORE_COMPONENTS: Record<string, Obj> = {
  CubeSummary: {
    type: "object",
    required: ["name"],
    properties: {
      name: { type: "string" }, uuid: { type: "string" }, "service-name": { type: "string" }, type: { type: "string" }, loglevel: { type: "string" },
      ports: { type: "array", items: { type: "object", properties: { name: { type: "string" }, peer: { type: "string" } } } },
      shadow: { type: "boolean" }, span: { type: "boolean" }, parent: { type: "string" },
    },
  },
  PeerPair: { type: "object", required: ["peer1", "peer2"], properties: { peer1: { type: "string" }, peer2: { type: "string" } } },
};

export function openapiDocument(services: OpenApiService[], opts: { version: string; server?: string }): Obj {
  const paths: Record<string, Obj> = { ...corePaths() };
  const schemas: Record<string, Obj> = { ...CORE_COMPONENTS };
  const tags: Obj[] = [{ name: "polycubed", description: "the daemon's own endpoints" }];
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    const b = new Builder(s);
    tags.push({ name: s.name, description: `${s.description || s.name} (service version ${s.version || "unknown"})` });
    const cube = b.nodeSchema(s.schema.root, []);
    paths[`/${s.name}`] = {
      get: { tags: [s.name], operationId: `listCubes_${s.name}`, summary: `The ${s.name} cubes`, responses: ok("cube summaries, then [\"_links\", [...]]", { type: "array", items: { anyOf: [{ $ref: "#/components/schemas/CubeSummary" }, LINKS_ELEMENT] } }) },
      post: { tags: [s.name], operationId: `createCube_${s.name}`, summary: `Create a ${s.name} cube (member name)`, requestBody: bodyOf(cube), responses: done },
    };
    paths[`/${s.name}/{cube}`] = b.ops([CUBE_PARAM], [], true, { schema: cube, body: cube, what: `a ${s.name} cube` });
    b.walk(s.schema.root, `/${s.name}/{cube}`, [], [CUBE_PARAM]);
    Object.assign(paths, b.paths);
    Object.assign(schemas, b.components);
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "polycubed REST API",
      version: opts.version,
      description: "Generated from the YANG models of the services loaded in this polycubed. Every path also answers OPTIONS with polycubectl's help.",
    },
    servers: [{ url: opts.server ?? "/polycube/v1" }],
    tags,
    paths,
    components: { schemas },
  };
}
