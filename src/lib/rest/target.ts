// Turns the URL words after /polycube/v1/<service>/ into a place in the service's schema and
// in the cube's data: the dynamic counterpart of the original's generated routes (§3.3).
// Walking the schema per request means services added or deleted at run time need no route
// registration.
import type { PathStep } from "../sdk/types.ts";
import { checkValue, findDataChild, valueText, type Schema, type SchemaNode } from "../yang/index.ts";
import { RestError } from "./errors.ts";

export type TargetKind = "collection" | "cube" | "container" | "list" | "partial" | "entry" | "leaf" | "leaf-list" | "action";

export interface Target {
  kind: TargetKind;
  service: string;
  schema: Schema;
  cube?: string;
  /** The schema node addressed (root for the cube). */
  node: SchemaNode;
  /** Path from the cube root; entries carry their keys (canonical text). */
  steps: PathStep[];
  /** For "partial" and "list": the key values given so far. */
  givenKeys?: string[];
  /** URL words that address this target, for hrefs: [service, cube, ...]. */
  words: string[];
}

/** Canonical text of a key value written in a URL (enums in their YANG case, numbers normalised). */
export function keyText(list: SchemaNode, key: string, raw: string): string {
  const leaf = list.children.find((c) => c.name === key)!;
  const r = checkValue(leaf.type!, raw, { lenient: true, text: true }, leaf.module);
  if (!r.ok) throw RestError.tagged("bad-attribute", key, `key ${key}: ${r.message}`);
  return valueText(r.value);
}

function keyTextOrRaw(list: SchemaNode, key: string, raw: string): string {
  try {
    return keyText(list, key, raw);
  } catch {
    return raw;
  }
}

/**
 * `readOnly`: the request only reads. A key that its type refuses is then looked up as written,
 * since a service may list entries the model's type does not describe (the router's connected
 * routes have nexthop "local", as in the original); writes keep the strict check.
 */
export function resolveTarget(service: string, schema: Schema, words: string[], readOnly = false): Target {
  const t: Target = { kind: "collection", service, schema, node: schema.root, steps: [], words: [service] };
  if (!words.length) return t;
  t.kind = "cube";
  t.cube = words[0]!;
  t.words.push(words[0]!);
  let node = schema.root;
  let i = 1;
  while (i < words.length) {
    const w = words[i]!;
    if (node.kind === "leaf" || node.kind === "leaf-list" || node.kind === "action")
      throw RestError.text(404, `${node.name} has no child ${w}`);
    const child = findDataChild(node, w);
    if (!child || child.kind === "input" || child.kind === "output" || child.kind === "notification")
      throw RestError.text(404, `No resource ${w} under ${t.words.join("/")}`);
    i++;
    t.words.push(w);
    node = child;
    if (child.kind === "list") {
      const keys = child.keys ?? [];
      const given: string[] = [];
      while (given.length < keys.length && i < words.length) {
        given.push(readOnly ? keyTextOrRaw(child, keys[given.length]!, words[i]!) : keyText(child, keys[given.length]!, words[i]!));
        t.words.push(words[i]!);
        i++;
      }
      if (given.length === keys.length && keys.length > 0) {
        t.steps.push({ node: child.name, keys: Object.fromEntries(keys.map((k, j) => [k, given[j]!])) });
        t.kind = "entry";
      } else {
        t.steps.push({ node: child.name });
        t.kind = given.length ? "partial" : "list";
        t.givenKeys = given;
        if (i < words.length) throw RestError.text(404, `list ${child.name} needs all its keys (${keys.join(", ")}) before ${words[i]}`);
      }
    } else {
      t.steps.push({ node: child.name });
      t.kind = child.kind === "container" ? "container" : child.kind === "leaf" ? "leaf" : child.kind === "leaf-list" ? "leaf-list" : "action";
    }
  }
  t.node = node;
  return t;
}
