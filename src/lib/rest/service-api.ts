// The YANG-driven resources of one service (§3.3): collection, cube, containers, lists, list
// entries, leaves and actions, with the verbs and semantics of the original.
//
// Every write computes the cube's whole next configuration from the stored one
// (core.cubeConfig), validates it against the model and hands it to the core, which diffs it
// and applies it; writes are serialised so that concurrent requests cannot lose each other's
// changes.
import type { DaemonCore } from "../../daemon/core-api.ts";
import type { Json, JsonObject } from "../sdk/types.ts";
import {
  applyDefaults, checkTree, diffConfig, entryKeys, findDataChild, normalise,
  type Operation, type Schema, type SchemaNode, type ValidationError,
} from "../yang/index.ts";
import { readJson, RestError } from "./errors.ts";
import { Linker } from "./links.ts";
import { WriteLock } from "./schemas.ts";
import { keyText, type Target } from "./target.ts";
import { carryInitOnly, deleteAt, entryIndex, getAt, isObject, mergeEntry, mergeInto, setAt } from "./tree.ts";

export const YANG_JSON = "application/yang.data+json; charset=utf-8";

export function jsonReply(body: Json, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": YANG_JSON } });
}

export function emptyReply(status: number): Response {
  return new Response(null, { status });
}

function fail(errors: ValidationError[]): never {
  throw RestError.validation(errors);
}

function notSupported(t: Target, method: string): never {
  throw RestError.tagged("operation-not-supported", t.words.slice(2).join("/") || t.words.join("/"), `${method} is not supported on ${t.words.join("/")}`);
}

/** A list node seen as one of its entries (an object with the list's children). */
function entryNode(list: SchemaNode): SchemaNode {
  return { ...list, kind: "container" };
}

function field(t: Target): string {
  return t.steps.map((s) => (s.keys ? `${s.node}[${Object.values(s.keys).join(",")}]` : s.node)).join(".");
}

export class ServiceApi {
  constructor(
    private core: DaemonCore,
    private links: Linker,
    private lock: WriteLock,
  ) {}

  async handle(req: Request, t: Target): Promise<Response> {
    const m = req.method;
    if (t.kind === "collection") return this.collection(req, t);
    if (t.kind === "cube") {
      if (m === "GET") return this.readCube(t);
      if (m === "POST" || m === "PUT") return this.createCube(t, await readJson(req));
      if (m === "PATCH") return this.updateCube(t, await readJson(req));
      if (m === "DELETE") return this.deleteCube(t);
      return notSupported(t, m);
    }
    this.mustExist(t);
    if (m === "GET") return this.read(t);
    if (t.kind === "action") {
      if (m !== "POST") return notSupported(t, m);
      return this.action(t, await readJson(req));
    }
    if (t.kind === "partial") return notSupported(t, m);
    if (!["POST", "PUT", "PATCH", "DELETE"].includes(m)) return notSupported(t, m);
    if (!t.node.config) return notSupported(t, m);
    return this.write(t, m, m === "DELETE" ? undefined : await readJson(req));
  }

  /** True when the service declares that creating an existing entry of this list replaces it. */
  private createReplaces(service: string, list: SchemaNode): boolean {
    const lists = this.core.service(service)?.createReplaces;
    if (!lists?.length) return false;
    const names: string[] = [];
    for (let n: SchemaNode | undefined = list; n && n.kind !== "module"; n = n.parent) names.unshift(n.name);
    return lists.includes(names.join("/"));
  }


  private mustExist(t: Target): void {
    if (this.core.cubeService(t.cube!) !== t.service) throw RestError.text(404, `Cube ${t.cube} does not exist`);
  }

  // --- service collection ------------------------------------------------------------------

  private async collection(req: Request, t: Target): Promise<Response> {
    const m = req.method;
    if (m === "GET") {
      // Bun drops the body of a GET, so its announced length is what tells.
      const announced = Number(req.headers.get("content-length") ?? 0) > 0 || req.headers.has("transfer-encoding");
      if (announced || (await req.text()).trim()) throw RestError.tagged("operation-not-supported", t.service, "GET takes no body");
      const names = this.core.cubeNames().filter((n) => this.core.cubeService(n) === t.service);
      const summaries = names.map((n) => this.core.cubeSummary(n)).filter((s) => s !== undefined) as unknown as Json[];
      const links = [{ rel: "self", href: this.links.href([t.service]) }, ...names.map((n) => ({ rel: n, href: this.links.href([t.service, n]) }))];
      return jsonReply(this.links.arrayWithLinks(summaries, links));
    }
    if (m === "POST" || m === "PATCH") {
      const body = await readJson(req);
      const name = isObject(body as Json) ? (body as JsonObject).name : undefined;
      if (typeof name !== "string" || !name) throw RestError.tagged("missing-attribute", "name", "the cube name (member name) is missing");
      const ct: Target = { ...t, kind: "cube", cube: name, words: [t.service, name] };
      return m === "POST" ? this.createCube(ct, body) : this.updateCube(ct, body);
    }
    return notSupported(t, m);
  }

  // --- cube ---------------------------------------------------------------------------------

  private async readCube(t: Target): Promise<Response> {
    this.mustExist(t);
    const data = await this.core.readCube(t.cube!);
    return jsonReply(this.links.withLinks(data, this.links.children(t.schema.root, t.words)));
  }

  /** Checks the members every cube body may carry besides the model's: name and service-name. */
  private cubeBody(t: Target, body: unknown): JsonObject {
    if (body === undefined || body === null) return {};
    if (!isObject(body as Json)) throw RestError.tagged("bad-attribute", t.cube!, "the cube body must be a JSON object");
    const b = { ...(body as JsonObject) };
    if (b.name !== undefined && b.name !== t.cube) throw RestError.tagged("invalid-value", "name", `name ${JSON.stringify(b.name)} differs from the cube name ${t.cube} in the path`);
    if (b["service-name"] !== undefined && b["service-name"] !== t.service)
      throw RestError.tagged("invalid-value", "service-name", `service-name ${JSON.stringify(b["service-name"])} differs from the service ${t.service}`);
    delete b.name;
    // Equal to the service by now; the REST layer sets it itself.
    delete b["service-name"];
    return b;
  }

  private createCube(t: Target, body: unknown): Promise<Response> {
    const name = t.cube!;
    return this.lock.run(async () => {
      if (!name.trim() || name.includes("/")) throw RestError.tagged("invalid-value", "name", `invalid cube name ${JSON.stringify(name)}`);
      if (this.core.cubeService(name) !== undefined) throw RestError.tagged("data-exists", name, `cube ${name} already exists`);
      const b = this.cubeBody(t, body);
      const n = normalise(t.schema.root, b, { op: "create" });
      if (n.errors.length) fail(n.errors);
      const config: JsonObject = { name, ...(n.value as JsonObject), "service-name": t.service };
      applyDefaults(t.schema.root, config);
      const errors = checkTree(t.schema.root, config);
      if (errors.length) fail(errors);
      await this.core.createCube(t.service, config);
      return emptyReply(201);
    });
  }

  private updateCube(t: Target, body: unknown): Promise<Response> {
    return this.lock.run(async () => {
      const stored = this.stored(t);
      const b = this.cubeBody(t, body);
      const n = normalise(t.schema.root, b, { op: "update", before: stored });
      if (n.errors.length) fail(n.errors);
      const next = structuredClone(stored);
      mergeInto(t.schema.root, next, n.value as JsonObject);
      await this.commit(t, stored, next);
      return emptyReply(200);
    });
  }

  private deleteCube(t: Target): Promise<Response> {
    return this.lock.run(async () => {
      if (this.core.cubeService(t.cube!) !== t.service) throw RestError.tagged("data-missing", t.cube!, `cube ${t.cube} does not exist`);
      await this.core.deleteCube(t.cube!);
      return emptyReply(200);
    });
  }

  private stored(t: Target): JsonObject {
    const c = this.core.cubeService(t.cube!) === t.service ? this.core.cubeConfig(t.cube!) : undefined;
    if (!c) throw RestError.tagged("data-missing", t.cube!, `cube ${t.cube} does not exist`);
    return { ...c, name: t.cube! }; // cubeConfig hands out a copy of its own
  }

  /** Validates the whole next configuration and hands it to the core. */
  private async commit(t: Target, stored: JsonObject, next: JsonObject): Promise<void> {
    const errors = checkTree(t.schema.root, next);
    if (errors.length) fail(errors);
    const changes = diffConfig(t.schema.root, stored, next);
    for (const c of changes) {
      let node: SchemaNode | undefined = t.schema.root;
      for (const s of c.path) node = node && findDataChild(node, s.node);
      if (node?.initOnly) throw RestError.tagged("invalid-value", c.where.slice(1), `${c.where.slice(1)} can be set only at creation`);
    }
    if (changes.length) await this.core.updateCube(t.cube!, next, changes);
  }

  // --- sub-resources ------------------------------------------------------------------------

  private async read(t: Target): Promise<Response> {
    const data = await this.core.readCube(t.cube!);
    const v = getAt(t.schema.root, data, t.steps);
    switch (t.kind) {
      case "container":
        return jsonReply(this.links.withLinks(isObject(v) ? v : {}, this.links.children(t.node, t.words)));
      case "entry":
        if (!isObject(v)) throw RestError.tagged("data-missing", field(t), `${field(t)} does not exist`);
        return jsonReply(this.links.withLinks(v, this.links.children(t.node, t.words)));
      case "list": {
        const arr = Array.isArray(v) ? v : [];
        return jsonReply(this.links.arrayWithLinks(arr, this.links.entries(t.node, arr, t.words)));
      }
      case "partial": {
        const arr = (Array.isArray(v) ? v : []).filter((e) => {
          const ks = entryKeys(t.node, e);
          return ks && t.givenKeys!.every((g, i) => ks[i] === g);
        });
        return jsonReply(arr);
      }
      case "leaf": {
        if (v !== undefined) return jsonReply(v);
        if (t.node.default !== undefined) return jsonReply(t.node.default);
        if (t.node.type?.base === "string") return jsonReply("");
        throw RestError.tagged("data-missing", field(t), `${field(t)} is not set`);
      }
      case "leaf-list":
        return jsonReply(Array.isArray(v) ? v : []);
    }
    return notSupported(t, "GET");
  }

  private action(t: Target, body: unknown): Promise<Response> {
    return (async () => {
      const input = t.node.children.find((c) => c.kind === "input")!;
      const n = normalise(input, (body ?? {}) as Json, { op: "create", field: field(t) });
      if (n.errors.length) fail(n.errors);
      const value = n.value as JsonObject;
      applyDefaults(input, value);
      const errors = checkTree(input, value, { field: field(t), actionInput: true });
      if (errors.length) fail(errors);
      const out = await this.core.action(t.cube!, t.steps, value);
      if (out === undefined || out === null) return emptyReply(201);
      return jsonReply(out, 201);
    })();
  }

  /**
   * List entries above the target that the service keeps by itself (the bridge's active
   * spanning-tree instances, as in the original) are written like configured ones: they join
   * the configuration with their keys and defaults.
   */
  private async adoptLiveEntries(t: Target, next: JsonObject): Promise<void> {
    let live: JsonObject | undefined;
    let node: SchemaNode | undefined = t.schema.root;
    for (let i = 0; i < t.steps.length - 1; i++) {
      node = node && findDataChild(node, t.steps[i]!.node);
      if (!node || !t.steps[i]!.keys) continue;
      const path = t.steps.slice(0, i + 1);
      if (getAt(t.schema.root, next, path) !== undefined) continue;
      live ??= await this.core.readCube(t.cube!);
      const e = getAt(t.schema.root, live, path);
      if (!isObject(e)) return;
      const entry: JsonObject = {};
      for (const k of node.keys ?? []) entry[k] = (e as JsonObject)[k]!;
      applyDefaults(entryNode(node), entry);
      if (!setAt(t.schema.root, next, path, entry)) return;
    }
  }

  private write(t: Target, method: string, body: unknown): Promise<Response> {
    return this.lock.run(async () => {
      const stored = this.stored(t);
      const next = structuredClone(stored);
      if (method !== "DELETE") await this.adoptLiveEntries(t, next);
      const existing = getAt(t.schema.root, next, t.steps);
      const f = field(t);
      const op: Operation = method === "POST" ? "create" : method === "PUT" ? "replace" : "update";
      const norm = (node: SchemaNode, value: unknown, before: Json | undefined): Json => {
        if (value === undefined) value = node.kind === "list" ? [] : {};
        const n = normalise(node, value as Json, { op, before, field: f });
        if (n.errors.length) fail(n.errors);
        return n.value!;
      };
      const put = (value: Json) => {
        if (!setAt(t.schema.root, next, t.steps, value)) throw RestError.tagged("data-missing", f, `the parent of ${f} does not exist`);
      };
      let status = 201;
      switch (t.kind) {
        case "container": {
          if (method === "DELETE") {
            if (existing === undefined && t.node.presence) throw RestError.tagged("data-missing", f, `${f} does not exist`);
            deleteAt(t.schema.root, next, t.steps);
            status = 204;
            break;
          }
          if (method === "POST" && t.node.presence && existing !== undefined) throw RestError.tagged("data-exists", f, `${f} already exists`);
          const v = norm(t.node, body, existing) as JsonObject;
          let c: JsonObject;
          if (method === "PUT") {
            c = v;
            carryInitOnly(t.node, existing, c);
            applyDefaults(t.node, c);
          } else {
            c = isObject(existing) ? structuredClone(existing) : {};
            mergeInto(t.node, c, v);
            applyDefaults(t.node, c);
          }
          put(c);
          break;
        }
        case "entry": {
          if (method === "DELETE") {
            if (!deleteAt(t.schema.root, next, t.steps)) throw RestError.tagged("data-missing", f, `${f} does not exist`);
            status = 204;
            break;
          }
          // Services whose original replaced an existing entry on create keep doing so.
          const replaces = method === "POST" && existing !== undefined && this.createReplaces(t.service, t.node);
          if (method === "POST" && existing !== undefined && !replaces) throw RestError.tagged("data-exists", f, `${f} already exists`);
          const keys = t.steps.at(-1)!.keys!;
          const raw = body === undefined || body === null ? {} : body;
          if (!isObject(raw as Json)) throw RestError.tagged("bad-attribute", f, `${f}: a JSON object is expected`);
          const withKeys: JsonObject = { ...(raw as JsonObject) };
          for (const [k, text] of Object.entries(keys)) {
            const given = withKeys[k];
            if (given !== undefined && keyText(t.node, k, typeof given === "string" ? given : JSON.stringify(given)) !== text)
              throw RestError.tagged("invalid-value", `${f}.${k}`, `${k} in the body differs from the key in the path`);
            withKeys[k] = text;
          }
          const v = norm(entryNode(t.node), withKeys, existing) as JsonObject;
          let e: JsonObject;
          if (method === "PATCH" && isObject(existing)) {
            e = structuredClone(existing);
            mergeInto(t.node, e, v);
          } else {
            e = v;
            if (method === "PUT") carryInitOnly(t.node, existing, e);
            applyDefaults(entryNode(t.node), e);
          }
          put(e);
          break;
        }
        case "list": {
          if (method === "DELETE") {
            deleteAt(t.schema.root, next, t.steps);
            status = 204;
            break;
          }
          if (!Array.isArray(body)) throw RestError.tagged("bad-attribute", f, `${f}: a JSON array of entries is expected`);
          const v = norm(t.node, body, existing) as Json[];
          const cur: Json[] = method === "PUT" ? [] : Array.isArray(existing) ? structuredClone(existing) : [];
          const index = entryIndex(t.node, cur);
          const before = method === "PUT" && Array.isArray(existing) ? entryIndex(t.node, existing) : undefined;
          const seen = new Set<string>();
          for (const e of v) {
            const ks = entryKeys(t.node, e);
            if (!ks) fail(t.node.keys!.filter((k) => (e as JsonObject)[k] === undefined).map((k) => ({ tag: "missing-attribute", field: `${f}.${k}`, message: `${f}: key ${k} is missing in an entry` })));
            const id = JSON.stringify(ks);
            const dup = seen.has(id) || (method === "POST" && index.has(id));
            if (dup) throw RestError.tagged("data-exists", `${f}[${ks!.join(",")}]`, `${f}[${ks!.join(",")}] already exists`);
            seen.add(id);
            if (before) {
              const at = before.get(id);
              carryInitOnly(t.node, at === undefined ? undefined : (existing as Json[])[at], e);
            }
            mergeEntry(t.node, cur, e, index);
          }
          put(cur);
          break;
        }
        case "leaf":
        case "leaf-list": {
          const parent = t.node.parent;
          const isKey = parent?.kind === "list" && parent.keys?.includes(t.node.name);
          if (isKey) throw RestError.tagged("invalid-value", f, `${f} is a list key and cannot change`);
          if (t.node.initOnly) throw RestError.tagged("invalid-value", f, `${f} can be set only at creation`);
          if (method === "DELETE") {
            deleteAt(t.schema.root, next, t.steps);
            status = 204;
            break;
          }
          if (body === undefined) throw RestError.tagged("missing-attribute", f, `${f}: the body must hold the new value`);
          if (t.kind === "leaf-list" && method === "POST") {
            const add = norm(t.node, Array.isArray(body) ? body : [body], existing) as Json[];
            const cur = Array.isArray(existing) ? [...existing] : [];
            for (const x of add) if (!cur.some((y) => JSON.stringify(y) === JSON.stringify(x))) cur.push(x);
            put(cur);
          } else {
            if (method === "POST") return notSupported(t, method);
            put(norm(t.node, body, existing));
            status = 200;
          }
          break;
        }
        default:
          return notSupported(t, method);
      }
      await this.commit(t, stored, next);
      return emptyReply(status);
    });
  }
}
