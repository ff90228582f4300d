// Differences between two configurations of a cube, in schema order: leaves and leaf-lists
// as they change, list entries as wholes when they appear or disappear (matched by key).
import type { Change, Json, JsonObject, PathStep } from "../sdk/types.ts";
import { dataChildren, type SchemaNode } from "./schema.ts";
import { entryKeys } from "./validate.ts";
import { valueText } from "./value.ts";

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function pathText(path: PathStep[]): string {
  return path
    .map((s) => `/${s.node}${s.keys ? Object.entries(s.keys).map(([k, v]) => `[${k}=${v}]`).join("") : ""}`)
    .join("");
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sameSet(a: Json[], b: Json[]): boolean {
  const sa = new Set(a.map((x) => JSON.stringify(x)));
  const sb = new Set(b.map((x) => JSON.stringify(x)));
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

class Differ {
  out: Change[] = [];

  private push(op: Change["op"], path: PathStep[], before: Json | undefined, after: Json | undefined): void {
    const c: Change = { op, path, where: pathText(path) };
    if (before !== undefined) c.before = before;
    if (after !== undefined) c.after = after;
    this.out.push(c);
  }

  object(node: SchemaNode, a: JsonObject, b: JsonObject, path: PathStep[]): void {
    for (const c of dataChildren(node)) this.member(c, a[c.name], b[c.name], path);
  }

  /** One member `c` of an object at `path`, its value before (x) and after (y). */
  member(c: SchemaNode, x: Json | undefined, y: Json | undefined, path: PathStep[]): void {
    if (c.kind === "action" || c.kind === "notification" || !c.config) return;
    const p = [...path, { node: c.name }];
    switch (c.kind) {
      case "leaf":
        if (x === undefined && y !== undefined) this.push("create", p, undefined, y);
        else if (x !== undefined && y === undefined) this.push("delete", p, x, undefined);
        else if (!same(x, y)) this.push("modify", p, x, y);
        break;
      case "leaf-list": {
        const xa = Array.isArray(x) ? x : undefined;
        const ya = Array.isArray(y) ? y : undefined;
        if (!xa && ya) this.push("create", p, undefined, ya);
        else if (xa && !ya) this.push("delete", p, xa, undefined);
        else if (xa && ya && !sameSet(xa, ya)) this.push("modify", p, xa, ya);
        break;
      }
      case "container":
        this.object(c, isObject(x) ? x : {}, isObject(y) ? y : {}, p);
        break;
      case "list":
        this.list(c, Array.isArray(x) ? x : [], Array.isArray(y) ? y : [], path);
        break;
    }
  }

  list(c: SchemaNode, xs: Json[], ys: Json[], path: PathStep[]): void {
    const keyOf = (e: Json) => JSON.stringify(entryKeys(c, e) ?? null);
    const step = (e: Json): PathStep => {
      const keys: Record<string, string> = {};
      (c.keys ?? []).forEach((k) => (keys[k] = valueText((e as JsonObject)[k]!)));
      return { node: c.name, keys };
    };
    const before = new Map(xs.map((e) => [keyOf(e), e]));
    const after = new Map(ys.map((e) => [keyOf(e), e]));
    for (const [k, e] of before) if (!after.has(k)) this.push("delete", [...path, step(e)], e, undefined);
    for (const [k, e] of after) {
      const old = before.get(k);
      if (old !== undefined && isObject(old) && isObject(e)) this.object(c, old, e, [...path, step(e)]);
    }
    for (const [k, e] of after) if (!before.has(k)) this.push("create", [...path, step(e)], undefined, e);
  }
}

/**
 * The changes that turn configuration `before` into `after` (config nodes only), for the
 * schema node they are rooted at (normally the module root). Leaf-lists compare as sets.
 */
export function diffConfig(node: SchemaNode, before: JsonObject, after: JsonObject): Change[] {
  const d = new Differ();
  d.object(node, before, after, []);
  return d.out;
}

/**
 * The changes of one member `c` of the object at `path` (x before, y after), or, with `entry`,
 * of one entry of list `c` (x and y the entry before and after, undefined when absent): what
 * diffConfig() reports for them, without walking the rest of the configuration.
 */
export function diffPart(c: SchemaNode, path: PathStep[], x: Json | undefined, y: Json | undefined, entry = false): Change[] {
  const d = new Differ();
  if (entry) d.list(c, x === undefined ? [] : [x], y === undefined ? [] : [y], path);
  else d.member(c, x, y, path);
  return d.out;
}
