// Reading and editing a cube's configuration (plain JSON) along a PathStep[] path, with the
// YANG semantics the REST verbs need: list entries matched by key, merge for PATCH, choice
// cases that exclude each other.
import type { Json, JsonObject, PathStep } from "../sdk/types.ts";
import { applyDefaults, dataChildren, entryKeys, findDataChild, valueText, type SchemaNode } from "../yang/index.ts";

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function matches(list: SchemaNode, entry: Json, keys: Record<string, string>): boolean {
  const ks = entryKeys(list, entry);
  return !!ks && (list.keys ?? []).every((k, i) => ks[i] === keys[k]);
}

/** The value at `steps` (an entry for a keyed step, the whole array for an unkeyed list step). */
export function getAt(root: SchemaNode, doc: JsonObject, steps: PathStep[]): Json | undefined {
  let node = root;
  let cur: Json | undefined = doc;
  for (const s of steps) {
    if (!isObject(cur)) return undefined;
    node = findDataChild(node, s.node)!;
    cur = cur[s.node];
    if (s.keys) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((e) => matches(node, e, s.keys!));
    }
  }
  return cur;
}

/** The object that holds the last step, creating containers and checking entries on the way. */
function parentOf(root: SchemaNode, doc: JsonObject, steps: PathStep[]): { obj: JsonObject; node: SchemaNode } | undefined {
  let node = root;
  let cur: JsonObject = doc;
  for (const s of steps.slice(0, -1)) {
    node = findDataChild(node, s.node)!;
    let next: Json | undefined = cur[s.node];
    if (s.keys) {
      if (!Array.isArray(next)) return undefined;
      next = next.find((e) => matches(node, e, s.keys!));
      if (!isObject(next)) return undefined;
    } else if (!isObject(next)) {
      next = {};
      cur[s.node] = next;
    }
    cur = next as JsonObject;
  }
  return { obj: cur, node };
}

/** Sets (creates or replaces) the value at `steps`. Returns false when a list entry on the way is missing. */
export function setAt(root: SchemaNode, doc: JsonObject, steps: PathStep[], value: Json): boolean {
  const p = parentOf(root, doc, steps);
  if (!p) return false;
  const last = steps.at(-1)!;
  const node = findDataChild(p.node, last.node)!;
  if (last.keys) {
    const arr = Array.isArray(p.obj[last.node]) ? (p.obj[last.node] as Json[]) : [];
    const i = arr.findIndex((e) => matches(node, e, last.keys!));
    if (i >= 0) arr[i] = value;
    else arr.push(value);
    p.obj[last.node] = arr;
  } else p.obj[last.node] = value;
  clearOtherCases(p.node, p.obj, [last.node]);
  return true;
}

/** Removes the value at `steps`; returns whether something was there. */
export function deleteAt(root: SchemaNode, doc: JsonObject, steps: PathStep[]): boolean {
  const p = parentOf(root, doc, steps);
  if (!p) return false;
  const last = steps.at(-1)!;
  const node = findDataChild(p.node, last.node)!;
  const cur = p.obj[last.node];
  if (cur === undefined) return false;
  if (last.keys) {
    if (!Array.isArray(cur)) return false;
    const i = cur.findIndex((e) => matches(node, e, last.keys!));
    if (i < 0) return false;
    cur.splice(i, 1);
    if (!cur.length) delete p.obj[last.node];
  } else delete p.obj[last.node];
  // A non-presence container keeps its defaults.
  applyDefaults(p.node.kind === "list" ? { ...p.node, kind: "container" } : p.node, p.obj);
  return true;
}

/**
 * Writing a node of one case of a choice removes the nodes of the other cases (RFC 7950 §7.9.2).
 * `written` are the member names just written into `obj`.
 */
export function clearOtherCases(node: SchemaNode, obj: JsonObject, written: string[]): void {
  const visit = (n: SchemaNode) => {
    for (const c of n.children) {
      if (c.kind !== "choice") {
        if (c.kind === "case") visit(c);
        continue;
      }
      const hit = c.children.find((cs) => dataChildren(cs).some((d) => written.includes(d.name)));
      if (!hit) {
        c.children.forEach(visit);
        continue;
      }
      for (const other of c.children) if (other !== hit) for (const d of dataChildren(other)) delete obj[d.name];
      visit(hit);
    }
  };
  visit(node);
}

/**
 * PATCH semantics: merges `patch` (normalised) into `target` (both objects at `node`). Leaves
 * and leaf-lists are replaced, containers merged, list entries merged by key; entries that do
 * not exist yet are created with their defaults, so the stored configuration stays complete.
 */
export function mergeInto(node: SchemaNode, target: JsonObject, patch: JsonObject): void {
  for (const [name, v] of Object.entries(patch)) {
    const c = findDataChild(node, name);
    if (!c) {
      target[name] = v; // the cube's implicit key "name"
      continue;
    }
    if (c.kind === "container" && isObject(v)) {
      const cur = isObject(target[name]) ? (target[name] as JsonObject) : {};
      mergeInto(c, cur, v);
      target[name] = cur;
    } else if (c.kind === "list" && Array.isArray(v)) {
      const cur = Array.isArray(target[name]) ? (target[name] as Json[]) : [];
      const index = entryIndex(c, cur);
      for (const e of v) mergeEntry(c, cur, e, index);
      target[name] = cur;
    } else target[name] = v;
  }
  clearOtherCases(node, target, Object.keys(patch));
}

/** A list entry's identity: its key values. */
export function entryId(list: SchemaNode, e: Json): string | undefined {
  const ks = entryKeys(list, e);
  return ks ? JSON.stringify(ks) : undefined;
}

/** Positions of a list's entries by identity, so that merging n entries costs O(n), not O(n²). */
export function entryIndex(list: SchemaNode, arr: Json[]): Map<string, number> {
  const index = new Map<string, number>();
  arr.forEach((x, i) => {
    const id = entryId(list, x);
    if (id !== undefined) index.set(id, i);
  });
  return index;
}

/** Merges an entry into a list: into the entry with the same keys, or appended (with defaults). `index` is kept up to date. */
export function mergeEntry(list: SchemaNode, arr: Json[], e: Json, index = entryIndex(list, arr)): void {
  const id = entryId(list, e);
  const i = id === undefined ? undefined : index.get(id);
  if (i !== undefined && isObject(arr[i]) && isObject(e)) mergeInto(list, arr[i] as JsonObject, e);
  else {
    if (isObject(e)) applyDefaults({ ...list, kind: "container" }, e);
    arr.push(e);
    if (id !== undefined) index.set(id, arr.length - 1);
  }
}

/**
 * PUT semantics on an existing entity: init-only leaves absent from the replacement keep
 * their stored value (they cannot change after creation).
 */
export function carryInitOnly(node: SchemaNode, before: Json | undefined, after: Json): void {
  if (!isObject(before) || !isObject(after)) return;
  for (const c of dataChildren(node)) {
    if (c.initOnly && after[c.name] === undefined && before[c.name] !== undefined) after[c.name] = before[c.name]!;
    else if (c.kind === "container") carryInitOnly(c, before[c.name], after[c.name] ?? {});
    else if (c.kind === "list" && Array.isArray(after[c.name]) && Array.isArray(before[c.name])) {
      for (const e of after[c.name] as Json[]) {
        const ks = JSON.stringify(entryKeys(c, e));
        const old = (before[c.name] as Json[]).find((x) => JSON.stringify(entryKeys(c, x)) === ks);
        carryInitOnly(c, old, e);
      }
    }
  }
}

/** Key values of an entry as URL words. */
export function entryWords(list: SchemaNode, e: Json): string[] {
  return (list.keys ?? []).map((k) => valueText((e as JsonObject)[k] ?? ""));
}
