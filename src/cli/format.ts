// Output of `show` (reference §5.4): tables with a nesting depth, JSON, YAML, a bare value for
// a leaf. `_links` (HATEOAS) never reaches the user.
import type { Format, JsonValue } from "./args.ts";

type Obj = { [k: string]: JsonValue };

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean | null => v === null || typeof v !== "object";

/** Drops `_links` members and the trailing `["_links", [...]]` element of list replies. */
export function stripLinks(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.filter((e) => !(Array.isArray(e) && e[0] === "_links")).map(stripLinks);
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, c] of Object.entries(v)) if (k !== "_links") out[k] = stripLinks(c);
    return out;
  }
  return v;
}

/** Removes dotted paths (`uuid`, `ports.peer`); a path crossing an array applies to each element. */
export function hidePaths(v: JsonValue, paths: string[]): JsonValue {
  const hide = (node: JsonValue, parts: string[]): void => {
    if (Array.isArray(node)) return node.forEach((e) => hide(e, parts));
    if (!isObj(node)) return;
    const [head, ...rest] = parts;
    if (rest.length === 0) delete node[head!];
    else if (node[head!] !== undefined) hide(node[head!]!, rest);
  };
  const copy = structuredClone(v);
  for (const p of paths) hide(copy, p.split("."));
  return copy;
}

/**
 * A scalar as text. Non-integral numbers print with six decimals, as the original's `%f`
 * did (`0.500000`); integers print as they are.
 */
export function scalarText(v: JsonValue): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(6);
  if (Array.isArray(v)) return `[${v.map(scalarText).join(" ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Arrays printed as one `[a b]` cell or line: empty or holding no object. */
const isFlatArray = (v: JsonValue): boolean => Array.isArray(v) && !v.some(isObj);
const isTableArray = (v: JsonValue): v is Obj[] => Array.isArray(v) && v.length > 0 && v.every(isObj);

/** Rows of cells as aligned columns, two spaces apart, trailing blanks trimmed. */
export function columnize(rows: string[][], indent = ""): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => (indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).trimEnd());
}

/** How a row is named above its inner lists: its `name`, else `id`, else its first leaf. */
function rowLabel(row: Obj): string {
  const v = row.name ?? row.id ?? Object.values(row).find(isScalar) ?? "";
  return scalarText(v);
}

interface FlatRow {
  cells: Map<string, string>;
  /** Lists inside the row still within the depth, printed as tables of their own after it. */
  lists: Array<[string, Obj[]]>;
}

/**
 * The original's depth rule (reference §5.4): containers are printed whole at any depth; each
 * list spends one level. At depth 1 a list is `[N items]`; at depth 2 it is a table whose own
 * lists are `[N items]`; at depth 3 those inner lists are tables too, and so on.
 */
class TablePrinter {
  lines: string[] = [];

  /** An object: leaves first, then containers (indented), then lists. */
  object(o: Obj, depth: number, indent: string): void {
    const containers: Array<[string, Obj]> = [];
    const lists: Array<[string, Obj[]]> = [];
    for (const [k, v] of Object.entries(o)) {
      if (isScalar(v) || isFlatArray(v)) this.lines.push(`${indent}${k}: ${scalarText(v)}`);
      else if (isObj(v)) containers.push([k, v]);
      else lists.push([k, v.filter(isObj)]);
    }
    for (const [k, v] of containers) {
      this.lines.push(`${indent}${k}:`);
      this.object(v, depth, `${indent} `);
    }
    for (const [k, v] of lists) {
      if (depth <= 1) {
        this.lines.push(`${indent}${k}: [${v.length} items]`);
        continue;
      }
      if (this.lines.length) this.lines.push("");
      this.lines.push(`${indent}${k}:`);
      this.table(v, depth, `${indent} `);
    }
  }

  /** A list: one row per entry; containers inside become `a.b` columns. */
  table(rows: JsonValue[], depth: number, indent: string): void {
    const flat = rows.map((r) => (isObj(r) ? this.flatten(r, depth - 1, "") : { cells: new Map([["", scalarText(r)]]), lists: [] }));
    const columns: string[] = [];
    for (const f of flat) for (const k of f.cells.keys()) if (!columns.includes(k)) columns.push(k);
    const grid = [columns, ...flat.map((f) => columns.map((c) => f.cells.get(c) ?? ""))];
    this.lines.push(...columnize(grid, indent));
    flat.forEach((f, i) => {
      for (const [k, sub] of f.lists) {
        this.lines.push("", `${indent}${k} of ${rowLabel(rows[i] as Obj)}:`);
        this.table(sub, depth - 1, `${indent} `);
      }
    });
  }

  private flatten(o: Obj, depth: number, prefix: string): FlatRow {
    const cells = new Map<string, string>();
    const lists: Array<[string, Obj[]]> = [];
    for (const [k, v] of Object.entries(o)) {
      const name = prefix + k;
      if (isScalar(v) || isFlatArray(v)) cells.set(name, scalarText(v));
      else if (isObj(v)) {
        const inner = this.flatten(v, depth, `${name}.`);
        inner.cells.forEach((c, n) => cells.set(n, c));
        lists.push(...inner.lists);
      } else {
        cells.set(name, `[${v.length} items]`);
        if (depth > 1) lists.push([name, v.filter(isObj)]);
      }
    }
    return { cells, lists };
  }
}

const DEPTH: Record<string, number> = { brief: 1, normal: 2, verbose: 3 };

/** The table form of a reply, as lines joined with '\n' (no trailing newline). */
export function renderTable(v: JsonValue, format: "normal" | "brief" | "verbose" = "normal"): string {
  const p = new TablePrinter();
  const depth = DEPTH[format]!;
  if (isObj(v)) p.object(v, depth, "");
  else if (isTableArray(v)) p.table(v, depth, "");
  else p.lines.push(scalarText(v));
  return p.lines.join("\n");
}

/** What `show` prints for a reply body (already parsed), with its trailing newline. */
export async function renderShow(v: JsonValue, format: Format = "normal", hide: string[] = []): Promise<string> {
  let data = stripLinks(v);
  if (format === "json") return `${JSON.stringify(data, null, 2)}\n`;
  if (format === "yaml") {
    const { stringify } = await import("yaml");
    return stringify(data);
  }
  // `show <leaf>` prints the bare value, which scripts compare with `[ $X = 2 ]`.
  if (isScalar(data) || isFlatArray(data)) return `${scalarText(data)}\n`;
  if (hide.length) data = hidePaths(data, hide);
  return `${renderTable(data, format)}\n`;
}
