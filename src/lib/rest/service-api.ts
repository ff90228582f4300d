// The YANG-driven resources of one service (§3.3): collection, cube, containers, lists, list
// entries, leaves and actions, with the verbs and semantics of the original.
//
// Every write computes the cube's next configuration from the stored one, validates it against
// the model and hands it to the core with its diff; writes are serialised so that concurrent
// requests cannot lose each other's changes. A write to one entry, leaf or container costs what
// it changes: the next configuration shares everything off the written path with the stored
// one (copyPath), and only the written part is checked (checkPart) and diffed (diffPart), unless
// the write touched more (a choice's other case) or a leafref elsewhere may point into it; then
// the whole configuration is checked and diffed, as a cube-level write always is. Such a write
// does not copy the lists on its path either: it edits them in place and keeps a journal to undo
// the edits when the write is refused, so that one entry of a 100k-entry list costs O(1).
// Writes to different cubes run side by side, reads between a cube's writes (locks.ts).
import type { DaemonCore } from "./core-api.ts";
import type { Change, Json, JsonObject } from "../sdk/types.ts";
import {
  applyDefaults, checkPart, checkTree, diffConfig, diffPart, entryField, entryKeys, findDataChild, normalise, refersInto,
  type SchemaNode, type ValidationError,
} from "../yang/index.ts";
import { readJson, RestError } from "./errors.ts";
import { Linker } from "./links.ts";
import type { CubeLocks } from "./locks.ts";
import type { Target } from "./target.ts";
import { copyPath, forgetIndexes, getAt, isObject, Journal, mergeInto, setAt } from "./tree.ts";
import { applyWrite, entryNode, fail, field, notSupported } from "./write.ts";

/** The targets a write may check and diff alone (part()). */
const PART_KINDS = new Set<Target["kind"]>(["entry", "leaf", "leaf-list", "container"]);

/** Top-level nodes whose writes change the patch panel, and so other cubes: daemon-wide writes. */
const FRAMEWORK_NODES = new Set(["ports", "type", "shadow", "span", "parent"]);

/** Tells write() to do it again with copies: the write touched more than part() can handle. */
const WHOLE = Symbol("whole");

export const YANG_JSON = "application/yang.data+json; charset=utf-8";

export function jsonReply(body: Json, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": YANG_JSON } });
}

export function emptyReply(status: number): Response {
  return new Response(null, { status });
}

export class ServiceApi {
  constructor(
    private core: DaemonCore,
    private links: Linker,
    private lock: CubeLocks,
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
    if (m === "GET") return this.lock.read(t.cube!, () => this.read(t));
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
    const data = await this.lock.read(t.cube!, () => this.core.readCube(t.cube!));
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
    return this.lock.exclusive(async () => {
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
    return this.lock.exclusive(async () => {
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
    return this.lock.exclusive(async () => {
      if (this.core.cubeService(t.cube!) !== t.service) throw RestError.tagged("data-missing", t.cube!, `cube ${t.cube} does not exist`);
      await this.core.deleteCube(t.cube!);
      return emptyReply(200);
    });
  }

  /** The stored configuration; `shared`: the core's own when it hands it out (never to be changed), else a copy. */
  private stored(t: Target, shared = false): JsonObject {
    const mine = this.core.cubeService(t.cube!) === t.service;
    const c = mine ? ((shared && this.core.cubeConfigShared?.(t.cube!)) || this.core.cubeConfig(t.cube!)) : undefined;
    if (!c) throw RestError.tagged("data-missing", t.cube!, `cube ${t.cube} does not exist`);
    return { ...c, name: t.cube! };
  }

  /** Validates the whole next configuration and hands it to the core. */
  private async commit(t: Target, stored: JsonObject, next: JsonObject): Promise<void> {
    const errors = checkTree(t.schema.root, next);
    if (errors.length) fail(errors);
    await this.hand(t, next, diffConfig(t.schema.root, stored, next));
  }

  /**
   * A write that changed one member of one object (`t`'s last step; one entry for a list entry):
   * its checks and its changes, computed from that member alone. Undefined when the write may
   * have changed more, or a constraint elsewhere may refer to it: then commit() checks it all.
   * `before`: the object that held the target before the write; `was`: the entry before the
   * write, for an entry (both read before the write began: it may edit lists in place).
   */
  private part(t: Target, before: Json | undefined, next: JsonObject, was: Json | undefined): { errors: ValidationError[]; changes: Change[] } | undefined {
    if (!PART_KINDS.has(t.kind)) return undefined;
    const root = t.schema.root;
    const up = t.steps.slice(0, -1);
    const after = getAt(root, next, up);
    if (!isObject(before) || !isObject(after)) return undefined;
    const last = t.steps.at(-1)!;
    for (const k of Object.keys(before)) if (k !== last.node && before[k] !== after[k]) return undefined;
    for (const k of Object.keys(after)) if (k !== last.node && !(k in before)) return undefined;
    if (refersInto(root, t.node)) return undefined;
    // The field of the parent object as the whole-tree check names it.
    let field = "";
    let node = root;
    for (const [i, s] of up.entries()) {
      node = findDataChild(node, s.node)!;
      field = field ? `${field}.${s.node}` : s.node;
      if (s.keys) field = entryField(node, field, getAt(root, next, up.slice(0, i + 1))!, 0);
    }
    const f = field ? `${field}.${last.node}` : last.node;
    if (!last.keys) {
      return {
        errors: checkPart(root, next, t.node, { obj: after, field }),
        changes: diffPart(t.node, up, before[last.node], after[last.node]),
      };
    }
    const arr = Array.isArray(after[last.node]) ? (after[last.node] as Json[]) : [];
    const entry = getAt(root, next, t.steps);
    return {
      errors: checkPart(root, next, t.node, { arr, index: entry === undefined ? -1 : arr.indexOf(entry), field: f }),
      changes: diffPart(t.node, up, was, entry, true),
    };
  }

  /** Refuses changes of init-only nodes, and hands the changes to the core. */
  private async hand(t: Target, next: JsonObject, changes: Change[], handOver = false): Promise<void> {
    for (const c of changes) {
      let node: SchemaNode | undefined = t.schema.root;
      for (const s of c.path) node = node && findDataChild(node, s.node);
      if (node?.initOnly) throw RestError.tagged("invalid-value", c.where.slice(1), `${c.where.slice(1)} can be set only at creation`);
    }
    if (changes.length) await this.core.updateCube(t.cube!, next, changes, handOver ? { handOver } : undefined);
  }

  // --- sub-resources ------------------------------------------------------------------------

  /** The value at the target: from its list entry alone when the core can read it so, else from the whole cube. */
  private async valueAt(t: Target): Promise<Json | undefined> {
    let j = -1;
    if (t.kind !== "partial" && this.core.readEntry) for (const [i, s] of t.steps.entries()) if (s.keys) j = i;
    if (j >= 0) {
      const upTo = t.steps.slice(0, j + 1);
      const r = await this.core.readEntry!(t.cube!, upTo, (config) => getAt(t.schema.root, config, upTo));
      if (r) {
        if (j === t.steps.length - 1 || !isObject(r.value)) return j === t.steps.length - 1 ? r.value : undefined;
        let list: SchemaNode = t.schema.root;
        for (const s of upTo) list = findDataChild(list, s.node)!;
        return getAt(list, r.value, t.steps.slice(j + 1));
      }
    }
    return getAt(t.schema.root, await this.core.readCube(t.cube!, t.steps), t.steps);
  }

  private async read(t: Target): Promise<Response> {
    const v = await this.valueAt(t);
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
      const out = await this.lock.write(t.cube!, () => this.core.action(t.cube!, t.steps, value));
      if (out === undefined || out === null) return emptyReply(201);
      return jsonReply(out, 201);
    })();
  }

  /**
   * List entries above the target that the service keeps by itself (the bridge's active
   * spanning-tree instances, as in the original) are written like configured ones: they join
   * the configuration with their keys and defaults.
   */
  private async adoptLiveEntries(t: Target, next: JsonObject, journal?: Journal): Promise<void> {
    let live: JsonObject | undefined;
    let node: SchemaNode | undefined = t.schema.root;
    for (let i = 0; i < t.steps.length - 1; i++) {
      node = node && findDataChild(node, t.steps[i]!.node);
      if (!node || !t.steps[i]!.keys) continue;
      const path = t.steps.slice(0, i + 1);
      if (getAt(t.schema.root, next, path) !== undefined) continue;
      live ??= await this.core.readCube(t.cube!, t.steps);
      const e = getAt(t.schema.root, live, path);
      if (!isObject(e)) return;
      const entry: JsonObject = {};
      for (const k of node.keys ?? []) entry[k] = (e as JsonObject)[k]!;
      applyDefaults(entryNode(node), entry);
      if (!setAt(t.schema.root, next, path, entry, journal)) return;
    }
  }

  private write(t: Target, method: string, body: unknown): Promise<Response> {
    const framework = FRAMEWORK_NODES.has(t.steps[0]?.node ?? "");
    const run = async () => {
      // In place (with a journal) when part() can check and diff the write alone; a write that
      // turns out to touch more is undone and done again on copies.
      const inPlace = PART_KINDS.has(t.kind) && !framework && !refersInto(t.schema.root, t.node);
      const done = await this.attempt(t, method, body, inPlace);
      return done === WHOLE ? ((await this.attempt(t, method, body, false)) as Response) : done;
    };
    return framework ? this.lock.exclusive(run) : this.lock.write(t.cube!, run);
  }

  private async attempt(t: Target, method: string, body: unknown, inPlace: boolean): Promise<Response | typeof WHOLE> {
    const root = t.schema.root;
    // The stored configuration is not copied: the write edits copies of the objects on its path.
    const stored = this.stored(t, true);
    // What part() compares with, read before the write edits anything.
    const before = getAt(root, stored, t.steps.slice(0, -1));
    const was = t.kind === "entry" ? getAt(root, stored, t.steps) : undefined;
    const journal = inPlace ? new Journal() : undefined;
    const { next, copied } = copyPath(root, stored, t.steps, journal);
    try {
      if (method !== "DELETE") await this.adoptLiveEntries(t, next, journal);
      const replaces = method === "POST" && t.kind === "entry" && this.createReplaces(t.service, t.node);
      const status = applyWrite(t, method, body, next, replaces, journal);
      const part = this.part(t, before, next, was);
      if (!part) {
        if (journal) {
          journal.rollback();
          return WHOLE;
        }
        await this.commit(t, stored, next);
      } else {
        if (part.errors.length) fail(part.errors);
        await this.hand(t, next, part.changes, true);
      }
      return emptyReply(status);
    } catch (e) {
      journal?.rollback();
      forgetIndexes(copied);
      throw e;
    }
  }
}
