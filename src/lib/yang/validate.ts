// Validation of JSON data against a compiled schema, in two passes:
//  - normalise(): a request body or document against the node it is written to: unknown
//    members, read-only members, init-only members on update, JSON types, ranges, patterns.
//    Returns the value in normalised form (canonical enum names, numbers...).
//  - checkTree(): a whole configuration: mandatory nodes, list keys, duplicate entries,
//    unique, min/max-elements, one case per choice, leafref instances.
// Error tags are the RESTCONF ones the original polycubed reports (§3.3).
import type { Json, JsonObject } from "../sdk/types.ts";
import { dataChildren, type SchemaNode } from "./schema.ts";
import { checkValue, valueText } from "./value.ts";
import { dataParent } from "./compile.ts";

export type ErrorTag =
  | "invalid-value"
  | "missing-attribute"
  | "missing-element"
  | "bad-attribute"
  | "bad-element"
  | "data-exists"
  | "data-missing"
  | "operation-not-supported";

export interface ValidationError {
  tag: ErrorTag;
  /** Where: e.g. "ports[p1].peer", "route[10.0.0.0/24,1.1.1.1]", "action". */
  field: string;
  message: string;
}

export type Operation = "create" | "replace" | "update";

export interface NormaliseOptions {
  op: Operation;
  /** Polycube REST JSON rules (default true); false for strict RFC 7951. */
  lenient?: boolean;
  /** The stored value at this node, if any: init-only members of an existing entity are refused on update. */
  before?: Json;
  /** Accept config false members (documents with state, action output). */
  allowState?: boolean;
  /** Field path of the node, for error messages. */
  field?: string;
  /** A member accepted at the top of an object besides the schema's (the cube's implicit key "name"). */
  extraRootMembers?: string[];
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function join(field: string, name: string): string {
  return field ? `${field}.${name}` : name;
}

/** The key values of a list entry as text, in key order; undefined when a key is missing. */
export function entryKeys(list: SchemaNode, entry: Json): string[] | undefined {
  if (!isObject(entry)) return undefined;
  const out: string[] = [];
  for (const k of list.keys ?? []) {
    const v = entry[k];
    if (v === undefined || v === null) return undefined;
    out.push(valueText(v));
  }
  return out;
}

export function entryField(list: SchemaNode, field: string, entry: Json, index: number): string {
  const keys = entryKeys(list, entry);
  return `${field}[${keys ? keys.join(",") : index}]`;
}

/** Finds the entry of `arr` whose keys equal `keys` (texts). */
export function findEntry(list: SchemaNode, arr: Json | undefined, keys: string[]): JsonObject | undefined {
  if (!Array.isArray(arr)) return undefined;
  return arr.find((e) => {
    const k = entryKeys(list, e);
    return k !== undefined && k.every((v, i) => v === keys[i]);
  }) as JsonObject | undefined;
}

function memberChild(node: SchemaNode, member: string): SchemaNode | undefined {
  const i = member.indexOf(":");
  const name = i >= 0 ? member.slice(i + 1) : member;
  const c = dataChildren(node).find((c) => c.name === name && c.kind !== "notification");
  if (!c) return undefined;
  if (i >= 0 && member.slice(0, i) !== c.module) return undefined;
  return c;
}

export class Normaliser {
  errors: ValidationError[] = [];
  constructor(private o: NormaliseOptions) {}

  private err(tag: ErrorTag, field: string, message: string): void {
    this.errors.push({ tag, field, message });
  }

  value(node: SchemaNode, v: Json, before: Json | undefined, field: string): Json | undefined {
    switch (node.kind) {
      case "leaf": {
        const r = checkValue(node.type!, v, { lenient: this.o.lenient ?? true }, node.module);
        if (!r.ok) return this.err("bad-attribute", field, `${field}: ${r.message}`), undefined;
        return r.value;
      }
      case "leaf-list": {
        if (!Array.isArray(v)) return this.err("bad-attribute", field, `${field}: a JSON array is expected`), undefined;
        const out: Json[] = [];
        v.forEach((x, i) => {
          const r = checkValue(node.type!, x, { lenient: this.o.lenient ?? true }, node.module);
          if (!r.ok) this.err("bad-attribute", `${field}[${i}]`, `${field}: ${r.message}`);
          else out.push(r.value);
        });
        return out;
      }
      case "list": {
        if (!Array.isArray(v)) return this.err("bad-attribute", field, `${field}: a JSON array of entries is expected`), undefined;
        return v.map((e, i) => {
          const f = entryField(node, field, e, i);
          const keys = entryKeys(node, e);
          const prev = keys ? findEntry(node, before, keys) : undefined;
          return this.object(node, e, prev, f) ?? null;
        });
      }
      case "action":
        return this.err("invalid-value", field, `${field} is an action: invoke it with POST`), undefined;
      default:
        return this.object(node, v, before, field);
    }
  }

  /** Members of a container-like node (module root, container, list entry, input, output). */
  object(node: SchemaNode, v: Json, before: Json | undefined, field: string, root = false): JsonObject | undefined {
    if (!isObject(v)) {
      this.err("bad-attribute", field || node.name, `${field || node.name}: a JSON object is expected`);
      return undefined;
    }
    const out: JsonObject = {};
    const existed = isObject(before);
    for (const [member, mv] of Object.entries(v)) {
      const f = join(field, member);
      if (root && this.o.extraRootMembers?.includes(member)) {
        out[member] = mv;
        continue;
      }
      const c = memberChild(node, member);
      if (!c) {
        this.err("invalid-value", f, `unknown member ${member}${field ? ` in ${field}` : ""}`);
        continue;
      }
      if (c.kind === "action") {
        this.err("invalid-value", f, `${f} is an action, not data`);
        continue;
      }
      if (!c.config && !this.o.allowState && node.kind !== "input" && !isInAction(c)) {
        this.err("invalid-value", f, `${f} is read-only`);
        continue;
      }
      if (c.initOnly && this.o.op === "update" && existed) {
        this.err("invalid-value", f, `${f} can be set only at creation`);
        continue;
      }
      // Polycube's REST rules: the original's daemon dropped the empty objects of a request body
      // before checking it, so a presence container written as {} (dynmon's "egress-path": {})
      // is as if absent. Strict RFC 7951 documents keep YANG's meaning: it is there.
      if ((this.o.lenient ?? true) && c.kind === "container" && c.presence && isObject(mv) && Object.keys(mv).length === 0) continue;
      const nv = this.value(c, mv, existed ? (before as JsonObject)[c.name] : undefined, f);
      if (nv !== undefined) out[c.name] = nv;
    }
    return out;
  }
}

function isInAction(n: SchemaNode): boolean {
  for (let p: SchemaNode | undefined = n; p; p = p.parent) if (p.kind === "input" || p.kind === "output") return true;
  return false;
}

/** Checks a value written at `node` and returns it normalised (no defaults added). */
export function normalise(node: SchemaNode, value: Json, o: NormaliseOptions): { value?: Json; errors: ValidationError[] } {
  const n = new Normaliser(o);
  const v =
    node.kind === "module" || node.kind === "container" || node.kind === "input" || node.kind === "output"
      ? n.object(node, value, o.before, o.field ?? "", node.kind === "module")
      : node.kind === "list" && !Array.isArray(value)
        ? n.object(node, value, o.before, o.field ?? node.name)
        : n.value(node, value, o.before, o.field ?? node.name);
  return { value: n.errors.length ? undefined : v, errors: n.errors };
}

// ---------------------------------------------------------------------------------------------
// Defaults

function defaultValue(n: SchemaNode, text: string): Json | undefined {
  const r = checkValue(n.type!, text, { lenient: false, text: true }, n.module);
  return r.ok ? r.value : undefined;
}

/** Children of `node` that belong to the active case of each choice (or the default case). */
function activeChildren(node: SchemaNode, obj: JsonObject): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const c of node.children) {
    if (c.kind === "choice") {
      const present = c.children.find((cs) => dataChildren(cs).some((d) => obj[d.name] !== undefined));
      const cs = present ?? c.children.find((x) => x.name === c.defaultCase);
      if (cs) out.push(...activeChildren(cs, obj));
    } else if (c.kind === "case") out.push(...activeChildren(c, obj));
    else out.push(c);
  }
  return out;
}

/**
 * Adds the YANG defaults of config nodes under `node` to `value` (in place; returns it).
 * Non-presence containers are created when they end up holding a default. Keys never get one.
 */
export function applyDefaults(node: SchemaNode, value: Json): Json {
  if (node.kind === "list") {
    if (Array.isArray(value)) for (const e of value) if (isObject(e)) applyDefaults({ ...node, kind: "container" }, e);
    return value;
  }
  if (!isObject(value)) return value;
  for (const c of activeChildren(node, value)) {
    if (!c.config || c.kind === "action" || c.kind === "notification") continue;
    if (node.keys?.includes(c.name)) continue;
    const cur = value[c.name];
    if (c.kind === "leaf" && cur === undefined && c.default !== undefined) {
      const d = defaultValue(c, c.default);
      if (d !== undefined) value[c.name] = d;
    } else if (c.kind === "leaf-list" && cur === undefined && c.defaults?.length) {
      value[c.name] = c.defaults.map((d) => defaultValue(c, d)).filter((d): d is Json => d !== undefined);
    } else if (c.kind === "container") {
      if (cur === undefined && !c.presence) {
        const fresh: JsonObject = {};
        applyDefaults(c, fresh);
        if (Object.keys(fresh).length) value[c.name] = fresh;
      } else if (cur !== undefined) applyDefaults(c, cur);
    } else if (c.kind === "list" && cur !== undefined) applyDefaults(c, cur);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Whole-tree checks

export interface TreeOptions {
  /** Check mandatory nodes and min-elements of state data too (documents with state). */
  withState?: boolean;
  field?: string;
  /**
   * The document is an action's input: its lists are sequences of operations (the firewall's
   * batch), whose entries need not carry their keys and may repeat them, as in the original.
   */
  actionInput?: boolean;
}

class TreeChecker {
  errors: ValidationError[] = [];
  private refs: Array<{ node: SchemaNode; value: Json; field: string }> = [];
  constructor(private root: SchemaNode, private rootValue: JsonObject, private o: TreeOptions) {}

  private err(tag: ErrorTag, field: string, message: string): void {
    this.errors.push({ tag, field, message });
  }

  private relevant(n: SchemaNode): boolean {
    return n.config || !!this.o.withState;
  }

  object(node: SchemaNode, obj: JsonObject, field: string): void {
    this.children(node, obj, field);
  }

  /** One member of an object, as the walk of the whole tree checks it. */
  member(c: SchemaNode, obj: JsonObject, field: string): void {
    this.child(c, obj, field);
  }

  /** One entry of a list (at `index`), with the list's counts and its unique constraints between that entry and the others. */
  entry(c: SchemaNode, arr: Json[], index: number, f: string): void {
    this.count(c, arr.length, f);
    const e = arr[index];
    if (!isObject(e)) return;
    const ef = entryField(c, f, e, index);
    if (!entryKeys(c, e)) for (const k of c.keys ?? []) if (e[k] === undefined || e[k] === null) this.err("missing-attribute", `${ef}.${k}`, `${ef}: key ${k} is missing`);
    this.object(c, e, ef);
    for (const u of c.unique ?? []) {
      const vals = u.map((p) => pathValue(e, p));
      if (vals.some((x) => x === undefined)) continue;
      const id = JSON.stringify(vals);
      const j = arr.findIndex((o, k) => k !== index && isObject(o) && JSON.stringify(u.map((p) => pathValue(o, p))) === id);
      if (j < 0) continue;
      // As the walk of the whole list: the later entry is the one reported.
      const [first, later] = j < index ? [j, index] : [index, j];
      const fe = entryField(c, f, arr[first]!, first);
      const le = entryField(c, f, arr[later]!, later);
      this.err("invalid-value", le, `${le}: ${u.join(" ")} must be unique, same as ${fe}`);
    }
  }

  private children(node: SchemaNode, obj: JsonObject, field: string): void {
    for (const c of node.children) {
      if (c.kind === "choice") this.choice(c, obj, field);
      else if (c.kind === "case") this.children(c, obj, field);
      else this.child(c, obj, field);
    }
  }

  private choice(ch: SchemaNode, obj: JsonObject, field: string): void {
    const present = ch.children.filter((cs) => dataChildren(cs).some((d) => obj[d.name] !== undefined));
    if (present.length > 1) {
      this.err("invalid-value", join(field, ch.name), `data for more than one case of choice ${ch.name}: ${present.map((p) => p.name).join(", ")}`);
      return;
    }
    if (!present.length) {
      if (ch.mandatory && this.relevant(ch)) this.err("missing-attribute", join(field, ch.name), `choice ${ch.name} is mandatory`);
      const dc = ch.children.find((c) => c.name === ch.defaultCase);
      if (dc) this.children(dc, obj, field);
      return;
    }
    this.children(present[0]!, obj, field);
  }

  private child(c: SchemaNode, obj: JsonObject, field: string): void {
    const f = join(field, c.name);
    const v = obj[c.name];
    if (c.kind === "action" || c.kind === "notification") return;
    if (v === undefined) {
      // Missing keys are reported by list() already.
      const isKey = c.parent?.kind === "list" && c.parent.keys?.includes(c.name);
      if (c.kind === "leaf" && c.mandatory && this.relevant(c) && !isKey) this.err("missing-attribute", f, `${f} is mandatory`);
      if (c.kind === "container" && !c.presence) this.object(c, {}, f);
      if ((c.kind === "list" || c.kind === "leaf-list") && (c.minElements ?? 0) > 0 && this.relevant(c))
        this.err("missing-element", f, `${f} needs at least ${c.minElements} elements`);
      return;
    }
    switch (c.kind) {
      case "leaf":
        this.ref(c, v, f);
        break;
      case "leaf-list": {
        const arr = v as Json[];
        this.count(c, arr.length, f);
        if (c.config) {
          const seen = new Set<string>();
          for (const x of arr) {
            const t = JSON.stringify(x);
            if (seen.has(t)) this.err("invalid-value", f, `${f}: value ${t} appears twice`);
            seen.add(t);
          }
        }
        for (const x of arr) this.ref(c, x, f);
        break;
      }
      case "container":
        if (isObject(v)) this.object(c, v, f);
        break;
      case "list":
        this.list(c, v as Json[], f);
        break;
    }
  }

  private count(c: SchemaNode, n: number, f: string): void {
    if (!this.relevant(c)) return;
    if (c.minElements !== undefined && n < c.minElements) this.err("missing-element", f, `${f} needs at least ${c.minElements} elements`);
    if (c.maxElements !== undefined && n > c.maxElements) this.err("invalid-value", f, `${f} allows at most ${c.maxElements} elements`);
  }

  private list(c: SchemaNode, arr: Json[], f: string): void {
    this.count(c, arr.length, f);
    const seen = new Set<string>();
    arr.forEach((e, i) => {
      if (!isObject(e)) return;
      const ef = entryField(c, f, e, i);
      const keys = entryKeys(c, e);
      if (this.o.actionInput) {
        // operation lists: no key checks
      } else if (!keys) {
        for (const k of c.keys ?? []) if (e[k] === undefined || e[k] === null) this.err("missing-attribute", `${ef}.${k}`, `${ef}: key ${k} is missing`);
      } else if (c.keys?.length) {
        const id = JSON.stringify(keys);
        if (seen.has(id)) this.err("data-exists", ef, `${ef}: duplicate entry`);
        seen.add(id);
      }
      this.object(c, e, ef);
    });
    for (const u of c.unique ?? []) {
      const seenU = new Map<string, string>();
      arr.forEach((e, i) => {
        if (!isObject(e)) return;
        const vals = u.map((p) => pathValue(e, p));
        if (vals.some((x) => x === undefined)) return;
        const id = JSON.stringify(vals);
        const ef = entryField(c, f, e, i);
        if (seenU.has(id)) this.err("invalid-value", ef, `${ef}: ${u.join(" ")} must be unique, same as ${seenU.get(id)}`);
        else seenU.set(id, ef);
      });
    }
  }

  private ref(c: SchemaNode, v: Json, f: string): void {
    this.refs.push({ node: c, value: v, field: f });
  }

  /** Leafref instances: the value must exist at the target (require-instance). */
  finishRefs(): void {
    for (const { node, value, field } of this.refs) {
      const targets = leafrefTargets(node.type!, value);
      if (!targets.length) continue;
      let found = false;
      for (const t of targets) {
        const values = instancesOf(this.root, this.rootValue, t);
        if (values.some((x) => JSON.stringify(x) === JSON.stringify(value))) found = true;
      }
      if (!found) this.err("invalid-value", field, `${field}: ${JSON.stringify(value)} does not refer to an existing ${targets[0]!.name}`);
    }
  }
}

/** The leafref targets that a value must be found at (for unions: only if no other member matches). */
function leafrefTargets(t: NonNullable<SchemaNode["type"]>, value: Json): SchemaNode[] {
  if (t.base === "leafref") return t.requireInstance && t.target ? [t.target] : [];
  if (t.base !== "union") return [];
  for (const m of t.union ?? []) {
    if (m.base === "leafref") continue;
    if (checkValue(m, value, { lenient: true }).ok) return [];
  }
  return (t.union ?? []).flatMap((m) => leafrefTargets(m, value));
}

function pathValue(obj: JsonObject, path: string): Json | undefined {
  let v: Json | undefined = obj;
  for (const step of path.split("/")) {
    if (!isObject(v)) return undefined;
    v = v[step.includes(":") ? step.slice(step.indexOf(":") + 1) : step];
  }
  return v;
}

/** Every value of the leaf or leaf-list `target` in the document. */
export function instancesOf(root: SchemaNode, doc: JsonObject, target: SchemaNode): Json[] {
  const chain: SchemaNode[] = [];
  for (let n: SchemaNode | undefined = target; n && n !== root; n = dataParent(n)) chain.unshift(n);
  let cur: Json[] = [doc];
  for (const step of chain) {
    const next: Json[] = [];
    for (const o of cur) {
      if (!isObject(o)) continue;
      const v = o[step.name];
      if (v === undefined) continue;
      if ((step.kind === "list" || step.kind === "leaf-list") && Array.isArray(v)) next.push(...v);
      else next.push(v);
    }
    cur = next;
  }
  return cur;
}

/** Whole-configuration checks of `value` at `node` (normally the module root). */
export function checkTree(root: SchemaNode, value: JsonObject, o: TreeOptions = {}): ValidationError[] {
  const t = new TreeChecker(root, value, o);
  t.object(root, value, o.field ?? "");
  t.finishRefs();
  return t.errors;
}

/**
 * The checks of checkTree() that a change of one member of `obj` (at `node`, reached at
 * `field`) can break when the rest of `doc` passed them: that member's subtree (mandatory
 * nodes, keys, choices, counts, leafref instances). With `index`, the member is entry `index`
 * of list `c` (the array `arr`): only that entry is checked, with the list's counts and its
 * unique constraints. Leafrefs from elsewhere into the subtree are not: see refersInto().
 */
export function checkPart(root: SchemaNode, doc: JsonObject, c: SchemaNode, at: { obj: JsonObject; field: string } | { arr: Json[]; index: number; field: string }): ValidationError[] {
  const t = new TreeChecker(root, doc, {});
  if ("arr" in at) t.entry(c, at.arr, at.index, at.field);
  else t.member(c, at.obj, at.field);
  t.finishRefs();
  return t.errors;
}

const refTargets = new WeakMap<SchemaNode, Set<SchemaNode>>();

/** Whether a leafref (require-instance) anywhere in the model points at `node` or below it. */
export function refersInto(root: SchemaNode, node: SchemaNode): boolean {
  let targets = refTargets.get(root);
  if (!targets) {
    targets = new Set();
    const addType = (t: SchemaNode["type"]) => {
      if (!t) return;
      if (t.base === "leafref" && t.target) targets!.add(t.target);
      for (const m of t.union ?? []) addType(m);
    };
    const walk = (n: SchemaNode) => {
      addType(n.type);
      for (const c of n.children) walk(c);
    };
    walk(root);
    refTargets.set(root, targets);
  }
  for (const t of targets) for (let n: SchemaNode | undefined = t; n; n = n.parent) if (n === node) return true;
  return false;
}

/**
 * Validates a whole document at the module root: normalise + tree checks.
 * `strict` uses RFC 7951 JSON rules (as libyang does); otherwise the polycube REST rules.
 */
export function validateDocument(
  root: SchemaNode,
  doc: Json,
  o: { strict?: boolean; withState?: boolean; extraRootMembers?: string[] } = {},
): { value?: JsonObject; errors: ValidationError[] } {
  const n = normalise(root, doc, { op: "create", lenient: !o.strict, allowState: o.withState, extraRootMembers: o.extraRootMembers });
  if (n.errors.length) return { errors: n.errors };
  const value = n.value as JsonObject;
  const errors = checkTree(root, value, { withState: o.withState });
  return errors.length ? { errors } : { value, errors };
}
