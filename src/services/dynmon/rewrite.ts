// From the original's dynmon code (BCC's C: BPF_ARRAY(...) declarations, `MAP.lookup(&k)`
// method calls, `struct CTXTYPE`, <uapi/...> includes) to one C translation unit that clang
// builds against bpf/polycube.h and bcc-compat.h. The code's text is rewritten, not wrapped in
// macros alone: BCC's declarations take their map type as a string ("hash") and its method
// calls are member calls on a map, neither of which the C preprocessor can express. So:
//
// - each map declaration becomes a libbpf map definition (BTF-defined, SEC(".maps")) whose
//   variable is the map's name with a tag: a digest of the path's code and of its swap-on-read
//   maps. A change of code gives other names, so that a reload starts from fresh maps (a reload
//   keeps the maps whose names it finds again); the same code keeps its maps and their counts;
// - `MAP.method(args)` becomes `dynmon_method(VAR, PTR, args)` (bcc-compat.h), other uses of
//   the name the variable (or, for a swap-on-read map, the copy in use);
// - a swap-on-read map has two copies and a slot in the path's swap map that says which one
//   the datapath writes; the control plane flips it, waits for the programs that may still use
//   the other copy (waitForPrograms), and reads that one quiescent;
// - both paths go in one object, each behind a `#line` so that clang's diagnostics name the
//   path and its lines. Each path's handle_rx is renamed, and a handle_rx that dispatches on
//   the direction closes the file. Names both paths declare at file scope (a struct both
//   define...) are renamed in the second path; the first path's macros are #undef'd before it.
//   BPF_TABLE_SHARED/PUBLIC maps are the same map in both paths (BPF_TABLE("extern", ...) in
//   the other one refers to it).
import { createHash } from "node:crypto";
import { closing, nextSig, prevSig, significant, splitArgs, tokenize, type Tok } from "./ctokens.ts";

export type PathName = "ingress" | "egress";

/** The original's default code of a path without any (Dynmon_dp.c). */
export const DEFAULT_CODE = "static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {\n    return RX_OK;\n}";

export class RewriteError extends Error {
  constructor(
    readonly path: PathName,
    message: string,
  ) {
    super(message);
  }
}

/** BPF_MAP_TYPE_* by BCC's table type name. */
export const TABLE_TYPES: Record<string, { type: number; c: string }> = {
  hash: { type: 1, c: "BPF_MAP_TYPE_HASH" },
  array: { type: 2, c: "BPF_MAP_TYPE_ARRAY" },
  prog: { type: 3, c: "BPF_MAP_TYPE_PROG_ARRAY" },
  percpu_hash: { type: 5, c: "BPF_MAP_TYPE_PERCPU_HASH" },
  percpu_array: { type: 6, c: "BPF_MAP_TYPE_PERCPU_ARRAY" },
  lru_hash: { type: 9, c: "BPF_MAP_TYPE_LRU_HASH" },
  lru_percpu_hash: { type: 10, c: "BPF_MAP_TYPE_LRU_PERCPU_HASH" },
  lpm_trie: { type: 11, c: "BPF_MAP_TYPE_LPM_TRIE" },
  array_of_maps: { type: 12, c: "BPF_MAP_TYPE_ARRAY_OF_MAPS" },
  hash_of_maps: { type: 13, c: "BPF_MAP_TYPE_HASH_OF_MAPS" },
  devmap: { type: 14, c: "BPF_MAP_TYPE_DEVMAP" },
  cpumap: { type: 16, c: "BPF_MAP_TYPE_CPUMAP" },
  xskmap: { type: 17, c: "BPF_MAP_TYPE_XSKMAP" },
  queue: { type: 22, c: "BPF_MAP_TYPE_QUEUE" },
  stack: { type: 23, c: "BPF_MAP_TYPE_STACK" },
};

/** The map types whose content dynmon exports (as the original's MapExtractor). */
export const EXPORTABLE = new Set([1, 2, 5, 6, 9, 10, 22, 23]);

export const METHODS = ["lookup", "lookup_or_init", "lookup_or_try_init", "update", "insert", "delete", "increment", "atomic_increment", "push", "pop", "peek"];

/** A map declaration as the code wrote it. */
export interface MapDecl {
  name: string;
  macro: string;
  table: string;
  key?: string;
  value?: string;
  size: string;
  flags?: string;
  /** Maps of maps: the map whose definition their entries have. */
  inner?: string;
  scope: "local" | "shared" | "extern";
  line: number;
}

/** What the control plane reads for a map a metric names. */
export interface MapPlace {
  type: number;
  /** The map's name in the object (no swap: the map itself). */
  object: string;
  swap?: { slot: number; copies: [string, string]; index: string };
}

export interface PathCode {
  code: string;
  /** Maps named by this path's metrics with swap-on-read. */
  swap: Set<string>;
}

export interface Rewritten {
  source: string;
  /** The maps each path's code can name (its own, and the other path's shared maps it declares extern). */
  maps: Record<PathName, Map<string, MapPlace>>;
}

const DEFAULTS: Record<string, { args: string[]; table: string | ((a: string[]) => string); defaults: (string | undefined)[]; key?: string; flags?: string }> = {
  // name, then BCC's optional arguments with their defaults (bcc/src/cc/export/helpers.h)
  BPF_HASH: { args: ["name", "key", "value", "size"], table: "hash", defaults: [undefined, "u64", "u64", "10240"] },
  BPF_ARRAY: { args: ["name", "value", "size"], table: "array", defaults: [undefined, "u64", "10240"], key: "int" },
  BPF_PERCPU_HASH: { args: ["name", "key", "value", "size"], table: "percpu_hash", defaults: [undefined, "u64", "u64", "10240"] },
  BPF_PERCPU_ARRAY: { args: ["name", "value", "size"], table: "percpu_array", defaults: [undefined, "u64", "10240"], key: "int" },
  BPF_LPM_TRIE: { args: ["name", "key", "value", "size"], table: "lpm_trie", defaults: [undefined, "u64", "u64", "10240"], flags: "BPF_F_NO_PREALLOC" },
  BPF_HISTOGRAM: {
    args: ["name", "key", "size"],
    table: (a) => (/^(int|unsigned int|u32|__u32|uint32_t|s32|int32_t)$/.test(a[1] ?? "int") ? "array" : "hash"),
    defaults: [undefined, "int", "64"],
  },
  BPF_QUEUE: { args: ["name", "value", "size", "flags"], table: "queue", defaults: [undefined, undefined, undefined, "0"] },
  BPF_STACK: { args: ["name", "value", "size", "flags"], table: "stack", defaults: [undefined, undefined, undefined, "0"] },
  BPF_PROG_ARRAY: { args: ["name", "size"], table: "prog", defaults: [undefined, undefined], key: "u32" },
  BPF_DEVMAP: { args: ["name", "size"], table: "devmap", defaults: [undefined, undefined], key: "u32" },
  BPF_CPUMAP: { args: ["name", "size"], table: "cpumap", defaults: [undefined, undefined], key: "u32" },
  BPF_XSKMAP: { args: ["name", "size"], table: "xskmap", defaults: [undefined, undefined], key: "u32" },
};

/** BCC declarations dynmon cannot build: the reason. */
const UNSUPPORTED: Record<string, string> = {
  BPF_PERF_OUTPUT: "perf buffers have no reader in dynmon",
  BPF_RINGBUF_OUTPUT: "ring buffers have no reader in dynmon",
  BPF_PERF_ARRAY: "perf event arrays are not supported",
  BPF_STACK_TRACE: "stack traces are not supported",
  BPF_CGROUP_ARRAY: "cgroup arrays are not supported",
  BPF_SOCKMAP: "socket maps are not supported",
  BPF_SOCKHASH: "socket maps are not supported",
  BPF_SK_STORAGE: "socket storage is not supported",
  BPF_INODE_STORAGE: "inode storage is not supported",
  BPF_TASK_STORAGE: "task storage is not supported",
  BPF_CGROUP_STORAGE: "cgroup storage is not supported",
  BPF_PERCPU_CGROUP_STORAGE: "cgroup storage is not supported",
};

const TABLE_MACROS = new Set(["BPF_TABLE", "BPF_F_TABLE", "BPF_TABLE_SHARED", "BPF_TABLE_PUBLIC", "BPF_TABLE_PINNED"]);
const QUEUESTACK_MACROS = new Set(["BPF_QUEUESTACK", "BPF_QUEUESTACK_SHARED", "BPF_QUEUESTACK_PUBLIC", "BPF_QUEUESTACK_PINNED"]);
const OF_MAPS = new Set(["BPF_HASH_OF_MAPS", "BPF_ARRAY_OF_MAPS"]);

function isMapMacro(name: string): boolean {
  return name in DEFAULTS || name in UNSUPPORTED || TABLE_MACROS.has(name) || QUEUESTACK_MACROS.has(name) || OF_MAPS.has(name);
}

const unquote = (s: string) => s.replace(/^"(.*)"$/s, "$1");

/** One map declaration macro's arguments as a MapDecl. */
function parseDecl(path: PathName, macro: string, args: string[], line: number): MapDecl {
  const where = `${path} code, line ${line}`;
  const need = (n: number, what: string) => {
    if (args.length < n) throw new RewriteError(path, `${where}: ${macro} takes ${what}`);
  };
  if (macro in UNSUPPORTED) throw new RewriteError(path, `${where}: ${macro}: ${UNSUPPORTED[macro]} (dynmon supports hash, array, LRU, per-CPU, LPM trie, queue and stack maps)`);
  if (macro.endsWith("_PINNED")) throw new RewriteError(path, `${where}: ${macro}: pinned maps are not supported`);
  const scope = /_(SHARED|PUBLIC)$/.test(macro) ? "shared" : "local";
  if (TABLE_MACROS.has(macro)) {
    need(5, "(type, key type, value type, name, size)");
    const table = unquote(args[0]!);
    const decl: MapDecl = { name: args[3]!, macro, table, key: args[1], value: args[2], size: args[4]!, scope, line };
    if (macro === "BPF_F_TABLE") decl.flags = args[5];
    if (table === "extern") decl.scope = "extern";
    return decl;
  }
  if (QUEUESTACK_MACROS.has(macro)) {
    need(4, "(type, name, value type, size[, flags])");
    const table = unquote(args[0]!);
    const decl: MapDecl = { name: args[1]!, macro, table, value: args[2], size: args[3]!, scope: table === "extern" ? "extern" : scope, line };
    if (args[4] && args[4] !== "0") decl.flags = args[4];
    return decl;
  }
  if (OF_MAPS.has(macro)) {
    // (name, "inner", size), or BCC's later (name, key type, "inner", size) for hashes.
    need(3, '(name, "inner map", size)');
    const four = args.length >= 4;
    const table = macro === "BPF_HASH_OF_MAPS" ? "hash_of_maps" : "array_of_maps";
    return { name: args[0]!, macro, table, key: four ? args[1] : "int", inner: unquote(four ? args[2]! : args[1]!), size: four ? args[3]! : args[2]!, scope, line };
  }
  const d = DEFAULTS[macro]!;
  need(1, `(${d.args.join(", ")})`);
  const a = d.args.map((_, i) => args[i] || d.defaults[i]);
  const missing = d.args.findIndex((n, i) => a[i] === undefined);
  if (missing >= 0) throw new RewriteError(path, `${where}: ${macro} takes (${d.args.join(", ")}): ${d.args[missing]} is missing`);
  const get = (n: string) => a[d.args.indexOf(n)];
  const table = typeof d.table === "function" ? d.table(a as string[]) : d.table;
  const decl: MapDecl = { name: get("name")!, macro, table, size: get("size")!, scope, line };
  const key = d.key ?? get("key");
  if (key) decl.key = key;
  decl.value = macro === "BPF_HISTOGRAM" ? "u64" : get("value") ?? (d.key ? "u32" : undefined);
  const flags = d.flags ?? get("flags");
  if (flags && flags !== "0") decl.flags = flags;
  return decl;
}

/** A map declaration found in a path's tokens. */
interface Found {
  decl: MapDecl;
  /** Tokens [first, last] of the macro call. */
  first: number;
  last: number;
}

function findDecls(path: PathName, toks: Tok[]): Found[] {
  const out: Found[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind !== "id" || t.pp || !isMapMacro(t.text)) continue;
    const open = nextSig(toks, i);
    if (toks[open]?.text !== "(") continue;
    const close = closing(toks, open);
    if (close < 0) throw new RewriteError(path, `${path} code, line ${t.line}: ${t.text}( is not closed`);
    const decl = parseDecl(path, t.text, splitArgs(toks, open + 1, close), t.line);
    if (!/^[A-Za-z_]\w*$/.test(decl.name)) throw new RewriteError(path, `${path} code, line ${t.line}: ${t.text}: '${decl.name}' is not a map name`);
    if (decl.scope !== "extern" && !TABLE_TYPES[decl.table]) throw new RewriteError(path, `${path} code, line ${t.line}: ${t.text}: unknown table type "${decl.table}" (known: ${Object.keys(TABLE_TYPES).join(", ")})`);
    if (out.some((f) => f.decl.name === decl.name)) throw new RewriteError(path, `${path} code, line ${t.line}: map ${decl.name} is declared twice`);
    out.push({ decl, first: i, last: close });
    i = close;
  }
  return out;
}

const KEYWORDS = new Set(
  ("auto break case char const continue default do double else enum extern float for goto if inline int long register restrict return short signed " +
    "sizeof static struct switch typedef union unsigned void volatile while _Bool _Static_assert typeof __typeof__ __attribute__ __always_inline " +
    "__inline __inline__ asm __asm__ __volatile__ bool handle_rx SEC").split(" "),
);

/**
 * Names a path's code declares at file scope (struct/union/enum tags, enumerators, typedefs,
 * functions, variables) and the macros it defines: enough to find the names two paths both
 * declare. Heuristic, on tokens: a name it misses only matters if both paths declare it.
 */
export function fileScopeNames(toks: Tok[], skip: Set<number> = new Set()): { names: Set<string>; macros: Set<string> } {
  const names = new Set<string>();
  const macros = new Set<string>();
  const sig: number[] = [];
  for (let i = 0; i < toks.length; i++) if (significant(toks[i]!) && !skip.has(i)) sig.push(i);
  const T = (k: number) => toks[sig[k]!];
  // tags and enumerators, at any depth
  for (let k = 0; k < sig.length; k++) {
    const t = T(k)!;
    if (t.pp) {
      if (t.pp === "define" && t.kind === "id" && T(k - 1)?.text === "define") macros.add(t.text);
      continue;
    }
    if ((t.text === "struct" || t.text === "union" || t.text === "enum") && T(k + 1)?.kind === "id" && T(k + 2)?.text === "{") names.add(T(k + 1)!.text);
    if (t.text === "enum" && (T(k + 1)?.text === "{" || T(k + 2)?.text === "{")) {
      let m = T(k + 1)?.text === "{" ? k + 2 : k + 3;
      let depth = 0;
      let expectName = true;
      for (; m < sig.length; m++) {
        const u = T(m)!;
        if (u.text === "{" || u.text === "(") depth++;
        else if (u.text === ")" || (u.text === "}" && depth > 0)) depth--;
        else if (u.text === "}") break;
        else if (depth === 0 && u.text === ",") expectName = true;
        else if (expectName && u.kind === "id") {
          names.add(u.text);
          expectName = false;
        }
      }
    }
  }
  // statements at file scope
  let depth = 0;
  let stmt: Tok[] = [];
  for (let k = 0; k < sig.length; k++) {
    const t = T(k)!;
    if (t.pp) continue;
    if (t.text === "{") {
      if (depth === 0) {
        // a function body: the statement so far is its declarator
        const prev = stmt.at(-1);
        if (prev?.text === ")" && !stmt.some((s) => s.text === "=")) {
          const fn = functionName(stmt);
          if (fn) names.add(fn);
          const end = closingSig(sig, toks, k);
          k = end;
          stmt = [];
          continue;
        }
      }
      depth++;
      continue;
    }
    if (t.text === "}") {
      depth--;
      continue;
    }
    if (depth > 0) continue;
    if (t.text === ";") {
      for (const n of declarators(stmt)) names.add(n);
      stmt = [];
      continue;
    }
    stmt.push(t);
  }
  for (const k of KEYWORDS) names.delete(k);
  return { names, macros };
}

function closingSig(sig: number[], toks: Tok[], k: number): number {
  let depth = 0;
  for (let m = k; m < sig.length; m++) {
    const u = toks[sig[m]!]!;
    if (u.pp) continue;
    if (u.text === "{") depth++;
    else if (u.text === "}" && --depth === 0) return m;
  }
  return sig.length;
}

/** The function a declarator names: the identifier before its first top-level parenthesis (attributes aside). */
function functionName(stmt: Tok[]): string | undefined {
  for (let i = 0; i < stmt.length; i++) {
    if (stmt[i]!.text !== "(") continue;
    const before = stmt[i - 1];
    if (before?.kind === "id" && before.text !== "__attribute__" && !KEYWORDS.has(before.text)) return before.text;
    // skip the parenthesised group
    let depth = 0;
    for (; i < stmt.length; i++) {
      if (stmt[i]!.text === "(") depth++;
      else if (stmt[i]!.text === ")" && --depth === 0) break;
    }
  }
  return undefined;
}

/** Names a declaration statement (braces already left out) declares. */
function declarators(stmt: Tok[]): string[] {
  if (stmt.length === 0) return [];
  if (stmt.some((t) => t.kind === "id" && isMapMacro(t.text))) return [];
  const out: string[] = [];
  let paren = 0;
  let last: string | undefined;
  let done = false;
  const flush = () => {
    if (last) out.push(last);
    last = undefined;
    done = false;
  };
  for (let i = 0; i < stmt.length; i++) {
    const t = stmt[i]!;
    if (t.text === "(") {
      // (*name) of a function pointer
      if (stmt[i + 1]?.text === "*" && stmt[i + 2]?.kind === "id" && stmt[i + 3]?.text === ")" && paren === 0) {
        last = stmt[i + 2]!.text;
        done = true;
      } else if (paren === 0 && !done && last && stmt[i - 1]?.kind === "id") {
        // a prototype: name(...)
        done = true;
      }
      paren++;
      continue;
    }
    if (t.text === ")") {
      paren--;
      continue;
    }
    if (paren > 0) continue;
    if (t.text === ",") {
      flush();
      continue;
    }
    if (t.text === "=" || t.text === "[") done = true;
    if (!done && t.kind === "id" && !KEYWORDS.has(t.text)) last = t.text;
  }
  flush();
  return out;
}

function tagOf(path: PathName, code: string, swap: string[]): string {
  return createHash("sha256").update(`dynmon-v1\0${path}\0${code}\0${swap.sort().join(",")}`).digest("hex").slice(0, 6);
}

function mapDefinition(d: MapDecl, struct: string, innerStruct?: string): string {
  const t = TABLE_TYPES[d.table]!;
  const f = [`__uint(type, ${t.c})`, `__uint(max_entries, ${d.size})`];
  if (d.key && t.type !== 22 && t.type !== 23) f.push(`__type(key, ${d.key})`);
  if (innerStruct) f.push(`__array(values, struct ${innerStruct})`);
  else if (d.value) f.push(`__type(value, ${d.value})`);
  if (d.flags) f.push(`__uint(map_flags, ${d.flags})`);
  return `struct ${struct} { ${f.join("; ")}; }`;
}

interface Region {
  path: PathName;
  toks: Tok[];
  found: Found[];
  tag: string;
  swapIndex: string;
  /** Swap-on-read maps declared here, in slot order. */
  swapSlots: string[];
  places: Map<string, MapPlace>;
}

const ruleName = (p: PathName) => `dynmon_${p}_rx`;

/** Rewrites both paths' code into one translation unit (see the top of this file). */
export function rewrite(paths: Record<PathName, PathCode>): Rewritten {
  const regions: Record<PathName, Region> = {} as Record<PathName, Region>;
  for (const path of ["ingress", "egress"] as const) {
    const toks = tokenize(paths[path].code);
    const found = findDecls(path, toks);
    if (!toks.some((t, i) => t.kind === "id" && t.text === "handle_rx" && !t.pp && toks[nextSig(toks, i)]?.text === "("))
      throw new RewriteError(path, `${path} code: it has no handle_rx() function`);
    regions[path] = { path, toks, found, tag: "", swapIndex: "", swapSlots: [], places: new Map() };
  }
  const other = (p: PathName): PathName => (p === "ingress" ? "egress" : "ingress");

  // Shared maps and the extern declarations that refer to them; swap-on-read applies to the declaration.
  const declaring = (p: PathName, name: string): PathName | undefined => {
    const own = regions[p].found.find((f) => f.decl.name === name);
    if (!own) return undefined;
    if (own.decl.scope !== "extern") return p;
    const theirs = regions[other(p)].found.find((f) => f.decl.name === name);
    if (!theirs || theirs.decl.scope !== "shared")
      throw new RewriteError(p, `${p} code, line ${own.decl.line}: map ${name} is declared extern, but the ${other(p)} code does not declare it with BPF_TABLE_SHARED or BPF_TABLE_PUBLIC`);
    return other(p);
  };
  const swapOf: Record<PathName, Set<string>> = { ingress: new Set(), egress: new Set() };
  for (const p of ["ingress", "egress"] as const) {
    for (const f of regions[p].found) declaring(p, f.decl.name);
    for (const name of paths[p].swap) {
      const at = declaring(p, name);
      if (at) swapOf[at].add(name);
    }
  }
  for (const p of ["ingress", "egress"] as const) {
    const r = regions[p];
    for (const f of r.found) if (f.decl.scope === "shared" && regions[other(p)].found.some((g) => g.decl.name === f.decl.name && g.decl.scope === "shared"))
      throw new RewriteError(p, `${p} code, line ${f.decl.line}: map ${f.decl.name} is declared shared by both paths: declare it extern in one of them`);
    r.tag = tagOf(p, paths[p].code, [...swapOf[p]]);
    r.swapIndex = `dynmon_swap_${r.tag}`;
    r.swapSlots = r.found.filter((f) => swapOf[p].has(f.decl.name)).map((f) => f.decl.name);
    for (const f of r.found) {
      if (f.decl.scope === "extern") continue;
      const object = `${f.decl.name}_${r.tag}`;
      const place: MapPlace = { type: TABLE_TYPES[f.decl.table]!.type, object };
      const slot = r.swapSlots.indexOf(f.decl.name);
      if (slot >= 0) place.swap = { slot, copies: [`${object}__0`, `${object}__1`], index: r.swapIndex };
      r.places.set(f.decl.name, place);
    }
  }
  for (const p of ["ingress", "egress"] as const)
    for (const f of regions[p].found) if (f.decl.scope === "extern") regions[p].places.set(f.decl.name, regions[other(p)].places.get(f.decl.name)!);

  // A path that refers to the other's shared maps comes after it.
  const usesOther = (p: PathName) => regions[p].found.some((f) => f.decl.scope === "extern");
  if (usesOther("ingress") && usesOther("egress")) throw new RewriteError("egress", "each path declares extern a map the other shares: share all of them from one path");
  const order: PathName[] = usesOther("ingress") ? ["egress", "ingress"] : ["ingress", "egress"];

  const first = fileScopeNames(regions[order[0]].toks, declTokens(regions[order[0]]));
  const second = fileScopeNames(regions[order[1]].toks, declTokens(regions[order[1]]));
  const clash = new Set([...second.names].filter((n) => first.names.has(n) && !regions[order[1]].places.has(n)));

  const parts = ['#include "bcc-compat.h"'];
  order.forEach((p, i) => {
    const r = regions[p];
    if (r.swapSlots.length)
      parts.push(`struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, ${r.swapSlots.length}); __type(key, __u32); __type(value, __u32); } ${r.swapIndex} SEC(".maps");`);
    parts.push(`#line 1 "${p}-path"`);
    parts.push(emit(r, i === 1 ? clash : new Set()));
    if (i === 0) for (const m of first.macros) parts.push(`#undef ${m}`);
  });
  parts.push('#line 1 "dynmon"');
  parts.push(`static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  if (md->in_port == PCN_EGRESS) return ${ruleName("egress")}(ctx, md);
  return ${ruleName("ingress")}(ctx, md);
}
`);
  return { source: parts.join("\n"), maps: { ingress: regions.ingress.places, egress: regions.egress.places } };
}

function declTokens(r: Region): Set<number> {
  const s = new Set<number>();
  for (const f of r.found) for (let i = f.first; i <= f.last; i++) s.add(i);
  return s;
}

/** Whether token `i` (an identifier inside a struct or union body) declares a member. */
function isMemberName(toks: Tok[], i: number): boolean {
  const next = toks[nextSig(toks, i)]?.text;
  const prev = toks[prevSig(toks, i)]?.text;
  return [";", ",", "[", ":", ")"].includes(next ?? "") && !["struct", "union", "enum"].includes(prev ?? "");
}

/** One path's code, rewritten. `clash`: names to rename (the second path's). */
function emit(r: Region, clash: Set<string>): string {
  const toks = r.toks;
  const out = toks.map((t) => t.text);
  const decl = declTokens(r);
  const refs = (name: string) => {
    const place = r.places.get(name)!;
    if (!place.swap) return { v: place.object, ptr: `&${place.object}`, bare: place.object };
    const [c0, c1] = place.swap.copies;
    const ptr = `dynmon_swap_ptr(&${place.swap.index}, ${place.swap.slot}, &${c0}, &${c1})`;
    return { v: c0, ptr, bare: `(*(struct dynmon_map_${place.object} *)${ptr})` };
  };

  // Declarations
  for (const f of r.found) {
    const lines = toks.slice(f.first, f.last + 1).reduce((n, t) => n + (t.text.match(/\n/g)?.length ?? 0), 0);
    let text = "";
    if (f.decl.scope !== "extern") {
      const place = r.places.get(f.decl.name)!;
      let inner: string | undefined;
      if (f.decl.inner) {
        const ip = r.places.get(f.decl.inner);
        if (!ip) throw new RewriteError(r.path, `${r.path} code, line ${f.decl.line}: ${f.decl.macro}: no map ${f.decl.inner} to take the entries' definition from`);
        inner = `dynmon_map_${ip.object}`;
      }
      const struct = `dynmon_map_${place.object}`;
      // The key and value types are the path's own: renamed as the rest of its code.
      const own = (text: string | undefined) => text && tokenize(text).map((t) => (t.kind === "id" && clash.has(t.text) ? `dynmon_${r.path}_${t.text}` : t.text)).join("");
      const def = mapDefinition({ ...f.decl, key: own(f.decl.key), value: own(f.decl.value) }, struct, inner);
      text = place.swap ? `${def} ${place.swap.copies[0]} SEC(".maps"); struct ${struct} ${place.swap.copies[1]} SEC(".maps")` : `${def} ${place.object} SEC(".maps")`;
    }
    out[f.first] = text + "\n".repeat(lines);
    for (let i = f.first + 1; i <= f.last; i++) out[i] = "";
  }

  // Struct/union bodies, to leave their members' names alone.
  const inBody = new Array<boolean>(toks.length).fill(false);
  const stack: boolean[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === "punct" && t.text === "{") {
      const p1 = toks[prevSig(toks, i)];
      const p2 = toks[prevSig(toks, prevSig(toks, i))];
      stack.push(p1?.text === "struct" || p1?.text === "union" || ((p2?.text === "struct" || p2?.text === "union") && p1?.kind === "id"));
    } else if (t.kind === "punct" && t.text === "}") stack.pop();
    inBody[i] = stack.at(-1) ?? false;
  }

  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (decl.has(i)) continue;
    if (t.pp === "include") {
      if (t.kind === "str") out[i] = t.text.replace(/^([<"])uapi\//, "$1");
      continue;
    }
    if (t.kind !== "id") continue;
    const prev = toks[prevSig(toks, i)];
    const member = prev?.kind === "punct" && (prev.text === "." || prev.text === "->");
    if (t.text === "struct" && toks[nextSig(toks, i)]?.text === "CTXTYPE") {
      out[i] = "";
      continue;
    }
    if (member) continue;
    if (t.text === "handle_rx") {
      out[i] = ruleName(r.path);
      continue;
    }
    if (r.places.has(t.text) && !(inBody[i] && isMemberName(toks, i))) {
      const dot = nextSig(toks, i);
      const ref = refs(t.text);
      if (toks[dot]?.text === "." && toks[nextSig(toks, dot)]?.kind === "id") {
        const m = nextSig(toks, dot);
        const open = nextSig(toks, m);
        const method = toks[m]!.text;
        if (toks[open]?.text !== "(") throw new RewriteError(r.path, `${r.path} code, line ${t.line}: ${t.text}.${method}: maps have no members, only methods`);
        if (!METHODS.includes(method)) throw new RewriteError(r.path, `${r.path} code, line ${t.line}: ${t.text}.${method}(): dynmon supports the map methods ${METHODS.join(", ")}`);
        const empty = toks[nextSig(toks, open)]?.text === ")";
        out[i] = `dynmon_${method}(${ref.v}, ${ref.ptr}${empty ? "" : ", "}`;
        for (let j = i + 1; j <= open; j++) out[j] = toks[j]!.text.includes("\n") ? toks[j]!.text.replace(/[^\n]/g, "") : "";
        i = open;
        continue;
      }
      out[i] = ref.bare;
      continue;
    }
    if (clash.has(t.text) && !(inBody[i] && isMemberName(toks, i))) out[i] = `dynmon_${r.path}_${t.text}`;
  }

  // handle_rx is made static: a global function would be verified on its own, without the caller's types.
  const def = toks.findIndex((t, i) => t.kind === "id" && t.text === "handle_rx" && !t.pp && toks[nextSig(toks, i)]?.text === "(" && bodyFollows(toks, nextSig(toks, i)));
  if (def >= 0) {
    let start = def;
    for (let j = prevSig(toks, def); j >= 0; j = prevSig(toks, j)) {
      const t = toks[j]!;
      if (t.pp || (t.kind === "punct" && (t.text === ";" || t.text === "}"))) break;
      start = j;
    }
    const words = toks.slice(start, def).filter((t) => t.kind === "id").map((t) => t.text);
    if (!words.includes("static")) out[start] = `static __always_inline ${out[start]}`;
  }
  return out.join("");
}

function bodyFollows(toks: Tok[], open: number): boolean {
  const close = closing(toks, open);
  return close >= 0 && toks[nextSig(toks, close)]?.text === "{";
}
