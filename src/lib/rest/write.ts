// What a write does to a cube's configuration: given the configuration before (a copy the
// caller owns), the target, the verb and the body, it edits the copy as the original's verbs
// do on that kind of node, or throws a RestError naming the field. Pure: no core, no lock.
import type { Json, JsonObject } from "../sdk/types.ts";
import { applyDefaults, entryKeys, normalise, type Operation, type SchemaNode, type ValidationError } from "../yang/index.ts";
import { RestError } from "./errors.ts";
import { keyText, type Target } from "./target.ts";
import { carryInitOnly, deleteAt, entryIndex, getAt, isObject, mergeEntry, mergeInto, setAt, type Journal } from "./tree.ts";

export function fail(errors: ValidationError[]): never {
  throw RestError.validation(errors);
}

export function notSupported(t: Target, method: string): never {
  throw RestError.tagged("operation-not-supported", t.words.slice(2).join("/") || t.words.join("/"), `${method} is not supported on ${t.words.join("/")}`);
}

/** A list node seen as one of its entries (an object with the list's children). */
export function entryNode(list: SchemaNode): SchemaNode {
  return { ...list, kind: "container" };
}

export function field(t: Target): string {
  return t.steps.map((s) => (s.keys ? `${s.node}[${Object.values(s.keys).join(",")}]` : s.node)).join(".");
}

/** One write in progress: the target, the verb, and the configuration being edited. */
class Edit {
  readonly f: string;
  readonly existing: Json | undefined;
  private readonly op: Operation;

  constructor(readonly t: Target, readonly method: string, readonly next: JsonObject, readonly journal?: Journal) {
    this.f = field(t);
    this.existing = getAt(t.schema.root, next, t.steps);
    this.op = method === "POST" ? "create" : method === "PUT" ? "replace" : "update";
  }

  /** The body normalised against a node (types, enum names), or the validation errors. */
  norm(node: SchemaNode, value: unknown): Json {
    if (value === undefined) value = node.kind === "list" ? [] : {};
    const n = normalise(node, value as Json, { op: this.op, before: this.existing, field: this.f });
    if (n.errors.length) fail(n.errors);
    return n.value!;
  }

  put(value: Json): void {
    if (!setAt(this.t.schema.root, this.next, this.t.steps, value, this.journal)) throw RestError.tagged("data-missing", this.f, `the parent of ${this.f} does not exist`);
  }

  /** Removes the target; returns whether something was there. */
  remove(): boolean {
    return deleteAt(this.t.schema.root, this.next, this.t.steps, this.journal);
  }
}

function container(e: Edit, body: unknown): number {
  const { t, method, existing, f } = e;
  if (method === "DELETE") {
    if (existing === undefined && t.node.presence) throw RestError.tagged("data-missing", f, `${f} does not exist`);
    e.remove();
    return 204;
  }
  if (method === "POST" && t.node.presence && existing !== undefined) throw RestError.tagged("data-exists", f, `${f} already exists`);
  const v = e.norm(t.node, body) as JsonObject;
  let c: JsonObject;
  if (method === "PUT") {
    c = v;
    carryInitOnly(t.node, existing, c);
  } else {
    c = isObject(existing) ? structuredClone(existing) : {};
    mergeInto(t.node, c, v);
  }
  applyDefaults(t.node, c);
  e.put(c);
  return 201;
}

function entry(e: Edit, body: unknown, createReplaces: boolean): number {
  const { t, method, existing, f } = e;
  if (method === "DELETE") {
    if (!e.remove()) throw RestError.tagged("data-missing", f, `${f} does not exist`);
    return 204;
  }
  // Services whose original replaced an existing entry on create keep doing so.
  if (method === "POST" && existing !== undefined && !createReplaces) throw RestError.tagged("data-exists", f, `${f} already exists`);
  const raw = body === undefined || body === null ? {} : body;
  if (!isObject(raw as Json)) throw RestError.tagged("bad-attribute", f, `${f}: a JSON object is expected`);
  const withKeys: JsonObject = { ...(raw as JsonObject) };
  for (const [k, text] of Object.entries(t.steps.at(-1)!.keys!)) {
    const given = withKeys[k];
    if (given !== undefined && keyText(t.node, k, typeof given === "string" ? given : JSON.stringify(given)) !== text)
      throw RestError.tagged("invalid-value", `${f}.${k}`, `${k} in the body differs from the key in the path`);
    withKeys[k] = text;
  }
  const v = e.norm(entryNode(t.node), withKeys) as JsonObject;
  let out: JsonObject;
  if (method === "PATCH" && isObject(existing)) {
    out = structuredClone(existing);
    mergeInto(t.node, out, v);
  } else {
    out = v;
    if (method === "PUT") carryInitOnly(t.node, existing, out);
    applyDefaults(entryNode(t.node), out);
  }
  e.put(out);
  return 201;
}

function list(e: Edit, body: unknown): number {
  const { t, method, existing, f } = e;
  if (method === "DELETE") {
    e.remove();
    return 204;
  }
  if (!Array.isArray(body)) throw RestError.tagged("bad-attribute", f, `${f}: a JSON array of entries is expected`);
  const v = e.norm(t.node, body) as Json[];
  const cur: Json[] = method === "PUT" ? [] : Array.isArray(existing) ? structuredClone(existing) : [];
  const index = entryIndex(t.node, cur);
  const before = method === "PUT" && Array.isArray(existing) ? entryIndex(t.node, existing) : undefined;
  const seen = new Set<string>();
  for (const x of v) {
    const ks = entryKeys(t.node, x);
    if (!ks) fail(t.node.keys!.filter((k) => (x as JsonObject)[k] === undefined).map((k) => ({ tag: "missing-attribute", field: `${f}.${k}`, message: `${f}: key ${k} is missing in an entry` })));
    const id = JSON.stringify(ks);
    if (seen.has(id) || (method === "POST" && index.has(id))) throw RestError.tagged("data-exists", `${f}[${ks!.join(",")}]`, `${f}[${ks!.join(",")}] already exists`);
    seen.add(id);
    if (before) {
      const at = before.get(id);
      carryInitOnly(t.node, at === undefined ? undefined : (existing as Json[])[at], x);
    }
    mergeEntry(t.node, cur, x, index);
  }
  e.put(cur);
  return 201;
}

function leaf(e: Edit, body: unknown): number {
  const { t, method, existing, f } = e;
  const parent = t.node.parent;
  if (parent?.kind === "list" && parent.keys?.includes(t.node.name)) throw RestError.tagged("invalid-value", f, `${f} is a list key and cannot change`);
  if (t.node.initOnly) throw RestError.tagged("invalid-value", f, `${f} can be set only at creation`);
  if (method === "DELETE") {
    e.remove();
    return 204;
  }
  if (body === undefined) throw RestError.tagged("missing-attribute", f, `${f}: the body must hold the new value`);
  if (t.kind === "leaf-list" && method === "POST") {
    const add = e.norm(t.node, Array.isArray(body) ? body : [body]) as Json[];
    const cur = Array.isArray(existing) ? [...existing] : [];
    for (const x of add) if (!cur.some((y) => JSON.stringify(y) === JSON.stringify(x))) cur.push(x);
    e.put(cur);
    return 201;
  }
  if (method === "POST") notSupported(t, method);
  e.put(e.norm(t.node, body));
  return 200;
}

/**
 * Applies a write to `next` (the cube's configuration, edited in place) and returns the reply's
 * status. `createReplaces`: a POST of an existing list entry replaces it (ServiceModule.createReplaces).
 * `journal`: `next` shares its lists with the stored configuration (copyPath); list edits are recorded.
 */
export function applyWrite(t: Target, method: string, body: unknown, next: JsonObject, createReplaces: boolean, journal?: Journal): number {
  const e = new Edit(t, method, next, journal);
  switch (t.kind) {
    case "container": return container(e, body);
    case "entry": return entry(e, body, createReplaces);
    case "list": return list(e, body);
    case "leaf":
    case "leaf-list": return leaf(e, body);
    default: notSupported(t, method);
  }
}
