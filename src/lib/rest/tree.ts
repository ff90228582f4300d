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

// Entries of large lists by key, so that a write to one entry of a 10k-entry list finds it
// without reading the others. An index belongs to an array; a copy made for a write (copyPath)
// shares its original's index, which the write keeps up to date; a refused write drops it
// (forgetIndexes) and the next write rebuilds it. Small lists are searched.
const INDEXED = 32;
const indexes = new WeakMap<Json[], Map<string, Json>>();

function stepId(list: SchemaNode, keys: Record<string, string>): string {
  return JSON.stringify((list.keys ?? []).map((k) => keys[k]));
}

function indexOf(list: SchemaNode, arr: Json[], build: boolean): Map<string, Json> | undefined {
  let ix = indexes.get(arr);
  // Someone changed the array in place (not through setAt/deleteAt): start again.
  if (ix && ix.size !== arr.length) ix = undefined;
  if (!ix && build && arr.length >= INDEXED) {
    ix = new Map();
    for (const e of arr) {
      const id = entryId(list, e);
      if (id !== undefined) ix.set(id, e);
    }
    if (ix.size !== arr.length) return undefined; // entries without keys, or duplicates: searched
    indexes.set(arr, ix);
  }
  return ix;
}

/** The entry of `arr` with `keys`, and its position (-1 when absent). */
function findKeyed(list: SchemaNode, arr: Json[], keys: Record<string, string>, build = true): { e?: Json; i: number } {
  const ix = indexOf(list, arr, build);
  if (ix) {
    const e = ix.get(stepId(list, keys));
    if (e === undefined) return { i: -1 };
    const i = arr.indexOf(e);
    if (i >= 0 && matches(list, e, keys)) return { e, i };
    indexes.delete(arr);
  }
  const i = arr.findIndex((x) => matches(list, x, keys));
  return i < 0 ? { i } : { e: arr[i], i };
}

/**
 * Undo steps of the edits a write made in place, on lists it shares with the stored
 * configuration: copying a 100k-entry list to change one entry would cost the write O(n).
 * Only arrays are edited in place; every object on the write's path is a copy. rollback()
 * puts the lists (and their indexes) back as they were, last edit first.
 */
export class Journal {
  private undo: Array<() => void> = [];

  record(step: () => void): void {
    this.undo.push(step);
  }

  rollback(): void {
    for (const step of this.undo.reverse()) step();
    this.undo = [];
  }
}

/** After a refused write: the indexes it changed are no longer those of the stored arrays. */
export function forgetIndexes(arrays: Json[][]): void {
  for (const a of arrays) indexes.delete(a);
}

/**
 * A copy of `doc` for a write at `steps` that shares everything off the path: the objects and
 * arrays along it are shallow copies (the target's parent included), so that editing the copy
 * along the path leaves `doc` as it was. Returns the copy and the original arrays that were
 * copied (their indexes go along; see forgetIndexes). With a journal, arrays are not copied but
 * edited in place, each edit recorded in the journal: `doc` then changes with the write, until
 * the journal is rolled back.
 */
export function copyPath(root: SchemaNode, doc: JsonObject, steps: PathStep[], journal?: Journal): { next: JsonObject; copied: Json[][] } {
  const next: JsonObject = { ...doc };
  const copied: Json[][] = [];
  let node = root;
  let cur: JsonObject = next;
  for (const [n, s] of steps.entries()) {
    const last = n === steps.length - 1;
    node = findDataChild(node, s.node)!;
    const v = cur[s.node];
    if (s.keys) {
      if (!Array.isArray(v)) return { next, copied };
      const arr = journal ? v : v.slice(); // (a spread, then a push, costs four times as much at 10k entries)
      const ix = indexOf(node, v, true);
      if (!journal) {
        if (ix) indexes.set(arr, ix);
        copied.push(v);
        cur[s.node] = arr;
      }
      if (last) break;
      const { e, i } = findKeyed(node, arr, s.keys);
      if (!isObject(e)) return { next, copied };
      const copy = { ...e };
      const id = stepId(node, s.keys);
      arr[i] = copy;
      if (ix) ix.set(id, copy);
      journal?.record(() => {
        arr[i] = e;
        ix?.set(id, e);
      });
      cur = copy;
    } else {
      if (last || !isObject(v)) break;
      cur = cur[s.node] = { ...v };
    }
  }
  return { next, copied };
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
      cur = findKeyed(node, cur, s.keys, false).e;
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
      next = findKeyed(node, next, s.keys).e;
      if (!isObject(next)) return undefined;
    } else if (!isObject(next)) {
      next = {};
      cur[s.node] = next;
    }
    cur = next as JsonObject;
  }
  return { obj: cur, node };
}

/**
 * Sets (creates or replaces) the value at `steps`. Returns false when a list entry on the way is
 * missing. A journal records the list edit (see copyPath).
 */
export function setAt(root: SchemaNode, doc: JsonObject, steps: PathStep[], value: Json, journal?: Journal): boolean {
  const p = parentOf(root, doc, steps);
  if (!p) return false;
  const last = steps.at(-1)!;
  const node = findDataChild(p.node, last.node)!;
  if (last.keys) {
    const arr = Array.isArray(p.obj[last.node]) ? (p.obj[last.node] as Json[]) : [];
    const { e: old, i } = findKeyed(node, arr, last.keys);
    const id = stepId(node, last.keys);
    const ix = indexes.get(arr);
    if (i >= 0) arr[i] = value;
    else arr.push(value);
    ix?.set(id, value);
    journal?.record(() => {
      if (i >= 0) {
        arr[i] = old!;
        ix?.set(id, old!);
      } else {
        arr.pop();
        ix?.delete(id);
      }
    });
    p.obj[last.node] = arr;
  } else p.obj[last.node] = value;
  clearOtherCases(p.node, p.obj, [last.node]);
  return true;
}

/** Removes the value at `steps`; returns whether something was there. A journal records the list edit (see copyPath). */
export function deleteAt(root: SchemaNode, doc: JsonObject, steps: PathStep[], journal?: Journal): boolean {
  const p = parentOf(root, doc, steps);
  if (!p) return false;
  const last = steps.at(-1)!;
  const node = findDataChild(p.node, last.node)!;
  const cur = p.obj[last.node];
  if (cur === undefined) return false;
  if (last.keys) {
    if (!Array.isArray(cur)) return false;
    const { e: old, i } = findKeyed(node, cur, last.keys);
    if (i < 0) return false;
    const id = stepId(node, last.keys);
    const ix = indexes.get(cur);
    cur.splice(i, 1);
    ix?.delete(id);
    journal?.record(() => {
      cur.splice(i, 0, old!);
      ix?.set(id, old!);
    });
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
