// Output of `show` (reference §5.4): tables with a nesting depth, JSON, YAML, a bare value for
// a leaf. `_links` (HATEOAS) never reaches the user.
import type { Format, JsonValue } from "./args.ts";

type Obj = { [k: string]: JsonValue };

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || typeof v !== "object";

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

export function scalarText(v: JsonValue): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return `[${v.map(scalarText).join(" ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Arrays printed as one `[a b]` cell or line: empty or holding no object. */
const isFlatArray = (v: JsonValue): v is JsonValue[] => Array.isArray(v) && !v.some(isObj);
const isTableArray = (v: JsonValue): v is Obj[] => Array.isArray(v) && v.length > 0 && v.every(isObj);

/** Rows of cells as aligned columns, two spaces apart, trailing blanks trimmed. */
export function columnize(rows: string[][], indent = ""): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => (indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).trimEnd());
}

class TablePrinter {
  lines: string[] = [];
  constructor(private depth: number) {}

  /** An object at `level` (the top is 1): leaves, then objects, then lists. */
  object(o: Obj, level: number, indent: string): void {
    const nested: Array<[string, JsonValue]> = [];
    for (const [k, v] of Object.entries(o)) {
      if (isScalar(v) || isFlatArray(v)) this.lines.push(`${indent}${k}: ${scalarText(v)}`);
      else if (level + 1 > this.depth) this.lines.push(`${indent}${k}: ${Array.isArray(v) ? `[${v.length} items]` : "{...}"}`);
      else nested.push([k, v]);
    }
    nested.sort(([, a], [, b]) => Number(Array.isArray(a)) - Number(Array.isArray(b)));
    for (const [k, v] of nested) {
      if (this.lines.length) this.lines.push("");
      this.lines.push(`${indent}${k}:`);
      if (Array.isArray(v)) this.table(v as Obj[], level + 1, `${indent} `);
      else this.object(v as Obj, level + 1, `${indent} `);
    }
  }

  /** An array of objects at `level`: one row each; nested objects become `a.b` columns. */
  table(rows: Obj[], level: number, indent: string): void {
    const flat = rows.map((r) => this.flatten(r, level, ""));
    const columns: string[] = [];
    for (const f of flat) for (const k of f.cells.keys()) if (!columns.includes(k)) columns.push(k);
    const grid = [columns, ...flat.map((f) => columns.map((c) => f.cells.get(c) ?? ""))];
    this.lines.push(...columnize(grid, indent));
    // Lists inside rows, when still within the depth, follow as tables of their own.
    flat.forEach((f, i) => {
      for (const [k, sub] of f.lists) {
        this.lines.push("", `${indent}${k} of ${scalarText(Object.values(rows[i]!)[0] ?? "")}:`);
        this.table(sub, level + 1, `${indent} `);
      }
    });
  }

  private flatten(o: Obj, level: number, prefix: string): { cells: Map<string, string>; lists: Array<[string, Obj[]]> } {
    const cells = new Map<string, string>();
    const lists: Array<[string, Obj[]]> = [];
    for (const [k, v] of Object.entries(o)) {
      const name = prefix + k;
      if (isScalar(v) || isFlatArray(v)) cells.set(name, scalarText(v));
      else if (isObj(v)) {
        const inner = this.flatten(v, level, `${name}.`);
        inner.cells.forEach((c, n) => cells.set(n, c));
        lists.push(...inner.lists);
      } else if (Array.isArray(v)) {
        cells.set(name, `[${v.length} items]`);
        // Within the depth, the list follows the table as a table of its own.
        if (level + 1 <= this.depth) lists.push([name, v as Obj[]]);
      }
    }
    return { cells, lists };
  }
}

const DEPTH: Record<string, number> = { brief: 1, normal: 2, verbose: 3 };

/** The table form of a reply, as lines joined with '\n' (no trailing newline). */
export function renderTable(v: JsonValue, format: "normal" | "brief" | "verbose" = "normal"): string {
  const p = new TablePrinter(DEPTH[format]!);
  if (isObj(v)) p.object(v, 1, "");
  else if (isTableArray(v)) p.table(v, 1, "");
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
