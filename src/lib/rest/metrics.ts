// GET /polycube/v1/metrics (§8.1): one OpenMetrics family per model node carrying
// polycube-base:name-metric, valued per running cube from its JSON through path-metric.
//
// path-metric is JSONPath; the models use only a small part of it, which is evaluated here
// rather than with a JSONPath library: $ . name ['name'] [n] [*] and .. (recursive descent).
// Unlike the original, families of services loaded at run time are served too.
import type { DaemonCore } from "./core-api.ts";
import type { Json, JsonObject } from "../sdk/types.ts";
import type { Schema, SchemaNode } from "../yang/index.ts";
import type { SchemaCache } from "./schemas.ts";

export interface MetricSpec {
  name: string;
  type: "counter" | "gauge";
  path: string;
  help: string;
  filter: boolean;
}

/** The metric families a model declares, in YANG order. */
export function metricSpecs(schema: Schema): MetricSpec[] {
  const out: MetricSpec[] = [];
  const visit = (n: SchemaNode) => {
    const all = (name: string) => n.extensions.filter((e) => e.name === name).map((e) => e.arg ?? "");
    const names = all("name-metric");
    names.forEach((name, i) => {
      const path = all("path-metric")[i] ?? "";
      if (!path || path === "TODO") return;
      out.push({
        name,
        type: (all("type-metric")[i] ?? "GAUGE").toUpperCase() === "COUNTER" ? "counter" : "gauge",
        path,
        help: all("help-metric")[i] ?? "",
        filter: (all("type-operation")[i] ?? "").toUpperCase() === "FILTER",
      });
    });
    n.children.forEach(visit);
  };
  visit(schema.root);
  return out;
}

type Token = { kind: "child"; name: string } | { kind: "index"; i: number } | { kind: "all" } | { kind: "deep"; name: string };

function tokens(path: string): Token[] {
  const out: Token[] = [];
  let i = path.startsWith("$") ? 1 : 0;
  while (i < path.length) {
    if (path.startsWith("..", i)) {
      const m = /^\.\.([^.[]+)/.exec(path.slice(i));
      if (!m) throw new Error(`unsupported JSONPath ${path}`);
      out.push({ kind: "deep", name: m[1]! });
      i += m[0].length;
    } else if (path[i] === ".") {
      const m = /^\.([^.[]+)/.exec(path.slice(i));
      if (!m) throw new Error(`unsupported JSONPath ${path}`);
      out.push(m[1] === "*" ? { kind: "all" } : { kind: "child", name: m[1]! });
      i += m[0].length;
    } else if (path[i] === "[") {
      const end = path.indexOf("]", i);
      if (end < 0) throw new Error(`unsupported JSONPath ${path}`);
      const inner = path.slice(i + 1, end).trim();
      if (inner === "*") out.push({ kind: "all" });
      else if (/^-?\d+$/.test(inner)) out.push({ kind: "index", i: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) out.push({ kind: "child", name: inner.slice(1, -1) });
      else throw new Error(`unsupported JSONPath ${path}`);
      i = end + 1;
    } else throw new Error(`unsupported JSONPath ${path}`);
  }
  return out;
}

export function jsonPath(doc: Json, path: string): Json[] {
  let cur: Json[] = [doc];
  for (const t of tokens(path)) {
    const next: Json[] = [];
    for (const v of cur) {
      if (t.kind === "child") {
        if (v && typeof v === "object" && !Array.isArray(v) && v[t.name] !== undefined) next.push(v[t.name]!);
      } else if (t.kind === "index") {
        if (Array.isArray(v)) {
          const x = v.at(t.i);
          if (x !== undefined) next.push(x);
        }
      } else if (t.kind === "all") {
        if (Array.isArray(v)) next.push(...v);
        else if (v && typeof v === "object") next.push(...Object.values(v));
      } else {
        const walk = (x: Json) => {
          if (Array.isArray(x)) x.forEach(walk);
          else if (x && typeof x === "object") {
            if (x[t.name] !== undefined) next.push(x[t.name]!);
            Object.values(x).forEach(walk);
          }
        };
        walk(v);
      }
    }
    cur = next;
  }
  return cur;
}

function numeric(v: Json | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  if (Array.isArray(v)) return v.length;
  return undefined;
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A read-only top-level leaf holding a cube's own metrics as OpenMetrics text (dynmon's). */
const OPEN_METRICS = "open-metrics";

/**
 * A cube's OpenMetrics text as lines of this endpoint: each sample gets the cube's name as its
 * first label, and its family's HELP and TYPE (written "#HELP" by the original's dynmon, before
 * every sample) once per sample name in `described`.
 */
export function labelledSamples(text: string, cube: string, described: Set<string>): string[] {
  const out: string[] = [];
  let help = "";
  let type = "untyped";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const meta = /^#\s*(HELP|TYPE)\s+\S+\s*(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "HELP") help = meta[2]!;
      else type = meta[2]!.trim() || "untyped";
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!sample) continue;
    const [, name, labels, value] = sample;
    if (!described.has(name!)) {
      described.add(name!);
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    }
    const pairs = [...(labels ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`);
    out.push(`${name}{${[`cubeName="${escapeLabel(cube)}"`, ...pairs].join(",")}} ${value}`);
  }
  return out;
}

export class Metrics {
  /** Counters only move up: the highest value seen per family and cube. */
  private counters = new Map<string, number>();

  constructor(private core: DaemonCore, private schemas: SchemaCache) {}

  async render(): Promise<string> {
    const lines: string[] = [];
    const live = new Set<string>();
    for (const svc of this.core.services()) {
      let schema: Schema | undefined;
      try {
        schema = this.schemas.get(svc.name);
      } catch {
        continue;
      }
      if (!schema) continue;
      const specs = metricSpecs(schema);
      const open = schema.root.children.some((n) => n.name === OPEN_METRICS && n.kind === "leaf" && !n.config);
      if (!specs.length && !open) continue;
      const cubes = this.core.cubeNames().filter((n) => this.core.cubeService(n) === svc.name);
      const data = new Map<string, Json>();
      for (const c of cubes) data.set(c, await this.core.readCube(c).catch(() => null));
      for (const m of specs) {
        lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
        for (const c of cubes) {
          let results: Json[];
          try {
            results = jsonPath(data.get(c) ?? null, m.path);
          } catch {
            continue;
          }
          let value = m.filter ? (results.length === 1 && Array.isArray(results[0]) ? results[0].length : results.length) : numeric(results[0]);
          if (value === undefined) value = 0;
          const key = `${m.name}\u0000${c}`;
          live.add(key);
          if (m.type === "counter") {
            value = Math.max(value, this.counters.get(key) ?? 0);
            this.counters.set(key, value);
          }
          lines.push(`${m.name}{cubeName="${escapeLabel(c)}"} ${value.toFixed(6)}`);
        }
      }
      if (open) {
        const described = new Set<string>();
        for (const c of cubes) {
          const text = (data.get(c) as JsonObject | null)?.[OPEN_METRICS];
          if (typeof text === "string") lines.push(...labelledSamples(text, c, described));
        }
      }
    }
    for (const k of this.counters.keys()) if (!live.has(k)) this.counters.delete(k);
    return lines.length ? lines.join("\n") + "\n" : "";
  }
}
