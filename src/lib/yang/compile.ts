// YANG loader: parses a module and everything it imports, and compiles its data tree.
//
// Why a TypeScript resolver and not libyang through bun:ffi: libyang's compiled tree is a web
// of C structs (lysc_node, lysc_type_*, lysc_ext_instance...) that would have to be mirrored
// field by field for one exact libyang ABI, and libyang drops instances of extensions it has no
// plugin for - exactly the polycube-base ones (cli-example, init-only-config, the metrics) that
// the REST and CLI layers need. The statement grammar is small and the resolution rules are
// bounded, so they are written here and checked against libyang's yanglint in the tests.
//
// Supported: import/include, typedefs (chained, with restrictions), groupings/uses with refine
// and augment, top-level augments of the module's own tree, containers, lists (key, unique,
// min/max-elements), leaves, leaf-lists, choices/cases (shorthand too), actions/rpcs with
// input/output, notifications, enumerations, bits, unions, leafrefs, identities/identityref,
// ranges, lengths, patterns (invert-match), defaults, mandatory, config (inherited), and every
// extension instance (kept on its node). Not evaluated: when, must, if-feature (all features are
// on, as yanglint does by default), deviations.
import { parseYang, sub, subArg, subs, type Stmt } from "./parser.ts";
import type { ExtensionInstance, NodeKind, ResolvedType, Schema, SchemaNode } from "./schema.ts";
import { BUILTIN_TYPES, newType, parseIntervals } from "./types.ts";
import { compilePattern } from "./xsd-regex.ts";
import { checkValue } from "./value.ts";
import { embeddedModules } from "./embedded.ts";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export class YangError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "YangError";
  }
}

interface Scope {
  mod: ModuleInfo;
  typedefs: Map<string, { stmt: Stmt; scope: Scope }>;
  groupings: Map<string, { stmt: Stmt; scope: Scope }>;
  parent?: Scope;
}

interface ModuleInfo {
  name: string;
  prefix: string;
  namespace: string;
  stmt: Stmt;
  /** prefix -> module name, including the module's own prefix. */
  prefixes: Map<string, string>;
  scope: Scope;
  /** identity name -> qualified bases */
  identities: Map<string, string[]>;
}

/** Where imported modules come from: directories to search, or texts by module name. */
export type ModuleSource = string[] | Record<string, string>;

class Loader {
  private mods = new Map<string, ModuleInfo>();
  private loading = new Set<string>();

  constructor(private source: ModuleSource) {}

  private findText(name: string): string | undefined {
    if (Array.isArray(this.source)) {
      for (const dir of this.source) {
        const plain = join(dir, `${name}.yang`);
        if (existsSync(plain)) return readFileSync(plain, "utf8");
        if (existsSync(dir)) {
          const rev = readdirSync(dir).filter((f) => f.startsWith(`${name}@`) && f.endsWith(".yang")).sort().at(-1);
          if (rev) return readFileSync(join(dir, rev), "utf8");
        }
      }
    } else if (this.source[name] !== undefined) return this.source[name];
    return embeddedModules[name];
  }

  module(name: string, text?: string): ModuleInfo {
    const have = this.mods.get(name);
    if (have) return have;
    if (this.loading.has(name)) throw new YangError(`circular import of module ${name}`);
    const src = text ?? this.findText(name);
    if (src === undefined) throw new YangError(`module ${name} not found`);
    this.loading.add(name);
    try {
      const stmt = parseYang(src, name);
      if (stmt.kw !== "module") throw new YangError(`${name} is a submodule, not a module`);
      if (stmt.arg !== name) throw new YangError(`file for module ${name} holds module ${stmt.arg}`);
      const info = this.build(stmt);
      this.mods.set(name, info);
      return info;
    } finally {
      this.loading.delete(name);
    }
  }

  private build(stmt: Stmt): ModuleInfo {
    const name = stmt.arg!;
    const prefix = subArg(stmt, "prefix");
    if (!prefix) throw new YangError(`module ${name} has no prefix`);
    // Submodules: their statements join the module's body.
    for (const inc of subs(stmt, "include")) {
      const text = this.findText(inc.arg!);
      if (text === undefined) throw new YangError(`submodule ${inc.arg} not found`);
      const sm = parseYang(text, inc.arg);
      if (sm.kw !== "submodule") throw new YangError(`${inc.arg} is not a submodule`);
      stmt.subs.push(...sm.subs.filter((s) => !["belongs-to", "yang-version", "organization", "contact", "description", "reference", "revision"].includes(s.kw)));
    }
    const info: ModuleInfo = {
      name,
      prefix,
      namespace: subArg(stmt, "namespace") ?? "",
      stmt,
      prefixes: new Map([[prefix, name]]),
      scope: undefined as unknown as Scope,
      identities: new Map(),
    };
    for (const imp of subs(stmt, "import")) {
      const p = subArg(imp, "prefix");
      if (!p) throw new YangError(`${name}: import of ${imp.arg} has no prefix`);
      if (info.prefixes.has(p)) throw new YangError(`${name}: prefix ${p} is used twice`);
      this.module(imp.arg!);
      info.prefixes.set(p, imp.arg!);
    }
    info.scope = makeScope(stmt, undefined, info);
    for (const id of subs(stmt, "identity")) {
      info.identities.set(id.arg!, subs(id, "base").map((b) => this.qualify(b.arg!, info)));
    }
    return info;
  }

  qualify(ref: string, mod: ModuleInfo): string {
    const i = ref.indexOf(":");
    if (i < 0) return `${mod.name}:${ref}`;
    const m = mod.prefixes.get(ref.slice(0, i));
    if (!m) throw new YangError(`${mod.name}: unknown prefix in ${ref}`);
    return `${m}:${ref.slice(i + 1)}`;
  }

  /** Every identity (qualified) derived, directly or not, from `base`. */
  derivedIdentities(base: string): string[] {
    const all = new Map<string, string[]>();
    for (const m of this.mods.values()) for (const [id, bases] of m.identities) all.set(`${m.name}:${id}`, bases);
    if (!all.has(base)) throw new YangError(`identity ${base} not found`);
    const out: string[] = [];
    const derives = (id: string, seen: Set<string>): boolean => {
      if (seen.has(id)) return false;
      seen.add(id);
      return (all.get(id) ?? []).some((b) => b === base || derives(b, seen));
    };
    for (const id of all.keys()) if (derives(id, new Set())) out.push(id);
    return out;
  }

  moduleOfPrefix(prefix: string, mod: ModuleInfo): ModuleInfo {
    const m = mod.prefixes.get(prefix);
    if (!m) throw new YangError(`${mod.name}: unknown prefix ${prefix}`);
    return this.module(m);
  }
}

function makeScope(st: Stmt, parent: Scope | undefined, mod: ModuleInfo): Scope {
  const scope: Scope = { mod, typedefs: new Map(), groupings: new Map(), parent };
  for (const t of subs(st, "typedef")) {
    if (BUILTIN_TYPES.has(t.arg!)) throw new YangError(`${mod.name}: typedef ${t.arg} shadows a built-in type`);
    if (scope.typedefs.has(t.arg!)) throw new YangError(`${mod.name}: typedef ${t.arg} defined twice`);
    scope.typedefs.set(t.arg!, { stmt: t, scope });
  }
  for (const g of subs(st, "grouping")) {
    if (scope.groupings.has(g.arg!)) throw new YangError(`${mod.name}: grouping ${g.arg} defined twice`);
    scope.groupings.set(g.arg!, { stmt: g, scope });
  }
  return scope;
}

function childScope(st: Stmt, scope: Scope): Scope {
  return st.subs.some((s) => s.kw === "typedef" || s.kw === "grouping") ? makeScope(st, scope, scope.mod) : scope;
}

const DATA_KW = new Set(["container", "list", "leaf", "leaf-list", "choice", "case", "action", "rpc", "notification", "anydata", "anyxml", "input", "output"]);

class Compiler {
  /** Leaves whose leafref paths are resolved once the whole tree exists. */
  private leafrefs: Array<{ node: SchemaNode; type: ResolvedType }> = [];
  private defaults: SchemaNode[] = [];

  constructor(private loader: Loader, private main: ModuleInfo) {}

  private lookup<K extends "typedefs" | "groupings">(kind: K, ref: string, scope: Scope): { stmt: Stmt; scope: Scope } | undefined {
    const i = ref.indexOf(":");
    if (i >= 0) {
      const pfx = ref.slice(0, i);
      const name = ref.slice(i + 1);
      if (pfx !== scope.mod.prefix) return this.loader.moduleOfPrefix(pfx, scope.mod).scope[kind].get(name);
      ref = name;
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const hit = s[kind].get(ref);
      if (hit) return hit;
    }
    return undefined;
  }

  private extensions(st: Stmt, scope: Scope): ExtensionInstance[] {
    const out: ExtensionInstance[] = [];
    for (const s of st.subs) {
      const i = s.kw.indexOf(":");
      if (i < 0) continue;
      const mod = this.loader.moduleOfPrefix(s.kw.slice(0, i), scope.mod);
      const name = s.kw.slice(i + 1);
      if (!subs(mod.stmt, "extension").some((e) => e.arg === name))
        throw new YangError(`${scope.mod.name}: extension ${s.kw} is not defined in ${mod.name}`);
      out.push({ module: mod.name, name, arg: s.arg });
    }
    return out;
  }

  resolveType(st: Stmt, scope: Scope, where: string): { type: ResolvedType; default?: string } {
    const ref = st.arg!;
    let t: ResolvedType;
    let dflt: string | undefined;
    if (BUILTIN_TYPES.has(ref)) {
      t = newType(ref as ResolvedType["base"], ref);
    } else {
      const td = this.lookup("typedefs", ref, scope);
      if (!td) throw new YangError(`${where}: type ${ref} not found`);
      const inner = sub(td.stmt, "type");
      if (!inner) throw new YangError(`typedef ${ref} has no type`);
      const r = this.resolveType(inner, td.scope, `typedef ${ref}`);
      t = { ...r.type, name: ref, ranges: [...r.type.ranges], lengths: [...r.type.lengths], patterns: [...r.type.patterns] };
      dflt = subArg(td.stmt, "default") ?? r.default;
    }
    try {
      this.restrict(t, st, scope, where);
    } catch (e) {
      if (e instanceof YangError) throw e;
      throw new YangError(`${where}: ${(e as Error).message}`);
    }
    return { type: t, default: dflt };
  }

  private restrict(t: ResolvedType, st: Stmt, scope: Scope, where: string): void {
    const builtin = BUILTIN_TYPES.has(st.arg!);
    for (const s of st.subs) {
      switch (s.kw) {
        case "range":
          t.ranges.push(parseIntervals(s.arg!, t, false));
          break;
        case "length":
          if (t.base !== "string" && t.base !== "binary") throw new YangError(`${where}: length on a ${t.base}`);
          t.lengths.push(parseIntervals(s.arg!, t, true));
          break;
        case "pattern": {
          if (t.base !== "string") throw new YangError(`${where}: pattern on a ${t.base}`);
          t.patterns.push({
            source: s.arg!,
            regex: compilePattern(s.arg!),
            invert: subArg(s, "modifier") === "invert-match",
            errorMessage: subArg(s, "error-message"),
          });
          break;
        }
        case "fraction-digits":
          if (!builtin || t.base !== "decimal64") throw new YangError(`${where}: fraction-digits only on decimal64`);
          t.fractionDigits = Number(s.arg);
          break;
        case "enum":
          break;
        case "bit":
          break;
        case "path":
          t.path = s.arg!;
          break;
        case "require-instance":
          t.requireInstance = s.arg === "true";
          break;
        case "base":
          break;
        case "type":
          break;
      }
    }
    if (t.base === "enumeration") {
      const es = subs(st, "enum");
      if (builtin) {
        if (!es.length) throw new YangError(`${where}: enumeration without enum`);
        let next = 0;
        t.enums = es.map((e) => {
          const v = subArg(e, "value");
          const value = v === undefined ? next : Number(v);
          next = value + 1;
          return { name: e.arg!, value, description: subArg(e, "description") };
        });
        const names = new Set(t.enums.map((e) => e.name));
        if (names.size !== t.enums.length) throw new YangError(`${where}: enum names must be unique`);
      } else if (es.length) {
        const allowed = new Set(es.map((e) => e.arg));
        for (const a of allowed) if (!t.enums!.some((e) => e.name === a)) throw new YangError(`${where}: enum ${a} is not in the base type`);
        t.enums = t.enums!.filter((e) => allowed.has(e.name));
      }
    }
    if (t.base === "bits") {
      const bs = subs(st, "bit");
      if (builtin) {
        let next = 0;
        t.bits = bs.map((b) => {
          const p = subArg(b, "position");
          const position = p === undefined ? next : Number(p);
          next = position + 1;
          return { name: b.arg!, position };
        });
      } else if (bs.length) t.bits = t.bits!.filter((b) => bs.some((x) => x.arg === b.name));
    }
    if (t.base === "decimal64" && builtin && t.fractionDigits === undefined) throw new YangError(`${where}: decimal64 needs fraction-digits`);
    if (t.base === "union" && builtin) {
      const members = subs(st, "type");
      if (!members.length) throw new YangError(`${where}: union without member types`);
      t.union = members.map((m) => this.resolveType(m, scope, where).type);
    }
    if (t.base === "leafref" && builtin && !t.path) throw new YangError(`${where}: leafref without path`);
    if (t.base === "identityref" && builtin) {
      const bases = subs(st, "base");
      if (!bases.length) throw new YangError(`${where}: identityref without base`);
      const sets = bases.map((b) => this.loader.derivedIdentities(this.loader.qualify(b.arg!, scope.mod)));
      t.identities = sets[0]!.filter((i) => sets.every((s) => s.includes(i)));
    }
  }

  private node(kind: NodeKind, st: Stmt, scope: Scope, module: string, parent: SchemaNode, config: boolean): SchemaNode {
    const explicit = subArg(st, "config");
    if (explicit === "true" && !config && kind !== "input" && kind !== "output")
      throw new YangError(`${module}: ${kind} ${st.arg} is config true inside a config false node`);
    const extensions = this.extensions(st, scope);
    const n: SchemaNode = {
      kind,
      name: st.arg ?? kind,
      module,
      description: subArg(st, "description"),
      config: explicit === undefined ? config : explicit === "true",
      mandatory: subArg(st, "mandatory") === "true",
      extensions,
      initOnly: extensions.some((e) => e.name === "init-only-config"),
      children: [],
      parent,
    };
    return n;
  }

  /** Compiles the data-definition statements in `stmts` as children of `parent`. */
  body(stmts: Stmt[], scope: Scope, module: string, parent: SchemaNode, config: boolean): void {
    for (const st of stmts) {
      if (st.kw === "uses") this.uses(st, scope, module, parent, config);
      else if (DATA_KW.has(st.kw)) {
        const n = this.dataNode(st, scope, module, parent, config);
        if (n) this.addChild(parent, n);
      }
    }
  }

  private addChild(parent: SchemaNode, n: SchemaNode): void {
    n.parent = parent;
    const names = (p: SchemaNode): string[] => p.children.flatMap((c) => (c.kind === "choice" || c.kind === "case" ? [c.name, ...names(c)] : [c.name]));
    // Data names must be unique among siblings, looking through choices and cases.
    let top: SchemaNode = parent;
    while (top.kind === "choice" || top.kind === "case") top = top.parent!;
    const taken = names(top);
    const mine = n.kind === "choice" || n.kind === "case" ? [n.name, ...names(n)] : [n.name];
    for (const m of mine) if (taken.includes(m)) throw new YangError(`duplicate node name ${m} under ${top.name}`);
    parent.children.push(n);
  }

  private dataNode(st: Stmt, scope0: Scope, module: string, parent: SchemaNode, config: boolean): SchemaNode | undefined {
    const scope = childScope(st, scope0);
    const where = `${module}: ${st.kw} ${st.arg}`;
    switch (st.kw) {
      case "leaf": {
        const n = this.node("leaf", st, scope, module, parent, config);
        const ts = sub(st, "type");
        if (!ts) throw new YangError(`${where} has no type`);
        const r = this.resolveType(ts, scope, where);
        n.type = r.type;
        n.default = subArg(st, "default") ?? (n.mandatory ? undefined : r.default);
        n.units = subArg(st, "units");
        if (n.mandatory && subArg(st, "default") !== undefined) throw new YangError(`${where}: mandatory leaf with a default`);
        this.track(n);
        return n;
      }
      case "leaf-list": {
        const n = this.node("leaf-list", st, scope, module, parent, config);
        const ts = sub(st, "type");
        if (!ts) throw new YangError(`${where} has no type`);
        const r = this.resolveType(ts, scope, where);
        n.type = r.type;
        const ds = subs(st, "default").map((d) => d.arg!);
        if (ds.length) n.defaults = ds;
        this.elements(n, st);
        this.track(n);
        return n;
      }
      case "container": {
        const n = this.node("container", st, scope, module, parent, config);
        n.presence = sub(st, "presence") !== undefined;
        this.body(st.subs, scope, module, n, n.config);
        return n;
      }
      case "list": {
        const n = this.node("list", st, scope, module, parent, config);
        const key = subArg(st, "key");
        n.keys = key ? key.trim().split(/\s+/) : [];
        n.unique = subs(st, "unique").map((u) => u.arg!.trim().split(/\s+/));
        this.elements(n, st);
        this.body(st.subs, scope, module, n, n.config);
        if (n.config && !n.keys.length) throw new YangError(`${where}: a config list needs a key`);
        for (const k of n.keys) {
          const kn = n.children.find((c) => c.name === k);
          if (!kn || kn.kind !== "leaf") throw new YangError(`${where}: key ${k} is not a leaf of the list`);
          if (kn.type?.base === "empty") throw new YangError(`${where}: key ${k} cannot be of type empty`);
          kn.mandatory = true;
        }
        return n;
      }
      case "choice": {
        const n = this.node("choice", st, scope, module, parent, config);
        n.defaultCase = subArg(st, "default");
        for (const c of st.subs) {
          if (c.kw === "case") this.addChild(n, this.dataNode(c, scope, module, n, n.config)!);
          else if (DATA_KW.has(c.kw)) {
            // Shorthand: a data node directly under a choice is a case of its own name.
            const cs = this.node("case", { kw: "case", arg: c.arg, subs: [], line: c.line }, scope, module, n, n.config);
            this.addChild(n, cs);
            this.addChild(cs, this.dataNode(c, scope, module, cs, n.config)!);
          } else if (c.kw === "uses") {
            throw new YangError(`${where}: uses directly under a choice is not supported; wrap it in a case`);
          }
        }
        if (n.defaultCase && !n.children.some((c) => c.name === n.defaultCase)) throw new YangError(`${where}: default case ${n.defaultCase} not found`);
        if (n.defaultCase && n.mandatory) throw new YangError(`${where}: mandatory choice with a default case`);
        return n;
      }
      case "case": {
        const n = this.node("case", st, scope, module, parent, config);
        this.body(st.subs, scope, module, n, config);
        return n;
      }
      case "action":
      case "rpc": {
        const n = this.node("action", st, scope, module, parent, config);
        n.config = false;
        for (const io of ["input", "output"] as const) {
          const s = sub(st, io);
          const ioScope = s ? childScope(s, scope) : scope;
          const c = this.node(io, { kw: io, arg: io, subs: s?.subs ?? [], line: st.line }, ioScope, module, n, true);
          c.config = io === "input";
          this.body(s?.subs ?? [], ioScope, module, c, true);
          n.children.push(c);
        }
        return n;
      }
      case "notification": {
        const n = this.node("notification", st, scope, module, parent, false);
        this.body(st.subs, scope, module, n, false);
        return n;
      }
      case "anydata":
      case "anyxml":
        throw new YangError(`${where}: ${st.kw} is not supported`);
      default:
        return undefined;
    }
  }

  private elements(n: SchemaNode, st: Stmt): void {
    const min = subArg(st, "min-elements");
    const max = subArg(st, "max-elements");
    if (min !== undefined) n.minElements = Number(min);
    if (max !== undefined && max !== "unbounded") n.maxElements = Number(max);
  }

  private track(n: SchemaNode): void {
    this.defaults.push(n);
    const collect = (t: ResolvedType) => {
      if (t.base === "leafref") this.leafrefs.push({ node: n, type: t });
      t.union?.forEach(collect);
    };
    collect(n.type!);
  }

  private uses(st: Stmt, scope: Scope, module: string, parent: SchemaNode, config: boolean): void {
    const g = this.lookup("groupings", st.arg!, scope);
    if (!g) throw new YangError(`${module}: grouping ${st.arg} not found`);
    // Compile into a holder first so refine and augment can address the grouping's nodes.
    const holder: SchemaNode = { ...parent, children: [], extensions: [] };
    this.body(g.stmt.subs, childScope(g.stmt, g.scope), module, holder, config);
    for (const r of subs(st, "refine")) this.refine(descend(holder, r.arg!, `refine ${r.arg}`), r, scope);
    for (const a of subs(st, "augment")) {
      const target = descend(holder, a.arg!, `augment ${a.arg}`);
      this.body(a.subs, childScope(a, scope), module, target, target.config);
      // Extensions written on an augment describe the augmented node (the router's metric on `ports`).
      target.extensions.push(...this.extensions(a, scope));
    }
    for (const c of holder.children) this.addChild(parent, c);
  }

  private refine(n: SchemaNode, r: Stmt, scope: Scope): void {
    for (const s of r.subs) {
      switch (s.kw) {
        case "default":
          if (n.kind === "leaf-list") n.defaults = subs(r, "default").map((d) => d.arg!);
          else if (n.kind === "choice") n.defaultCase = s.arg;
          else n.default = s.arg;
          break;
        case "mandatory": n.mandatory = s.arg === "true"; break;
        case "description": n.description = s.arg; break;
        case "presence": n.presence = true; break;
        case "min-elements": n.minElements = Number(s.arg); break;
        case "max-elements": n.maxElements = s.arg === "unbounded" ? undefined : Number(s.arg); break;
        case "config":
          if (s.arg === "false") setConfig(n, false);
          else n.config = true;
          break;
      }
    }
    const exts = this.extensions(r, scope);
    n.extensions.push(...exts);
    if (exts.some((e) => e.name === "init-only-config")) n.initOnly = true;
  }

  compileModule(): Schema {
    const m = this.main;
    const root: SchemaNode = {
      kind: "module", name: m.name, module: m.name, config: true, mandatory: false,
      extensions: this.extensions(m.stmt, m.scope), initOnly: false, children: [],
      description: subArg(m.stmt, "description"),
    };
    this.body(m.stmt.subs, m.scope, m.name, root, true);
    for (const a of subs(m.stmt, "augment")) {
      const path = a.arg!;
      const first = /^\/([^:/]+):/.exec(path);
      if (!first || this.loader.moduleOfPrefix(first[1]!, m).name !== m.name) continue;
      const target = descend(root, path, `augment ${path}`);
      this.body(a.subs, childScope(a, m.scope), m.name, target, target.config);
      target.extensions.push(...this.extensions(a, m.scope));
    }
    this.finish(root);
    return {
      module: m.name, prefix: m.prefix, namespace: m.namespace, extensions: root.extensions, root,
      description: root.description, revision: subs(m.stmt, "revision")[0]?.arg,
    };
  }

  private finish(root: SchemaNode): void {
    for (const { node, type } of this.leafrefs) {
      const target = resolveLeafref(node, type.path!, root);
      if (!target || (target.kind !== "leaf" && target.kind !== "leaf-list"))
        throw new YangError(`${node.module}: leafref path ${type.path} of ${node.name} does not point to a leaf`);
      type.target = target;
      if (type.requireInstance === undefined) type.requireInstance = true;
      if (node.config && !target.config && type.requireInstance)
        throw new YangError(`${node.module}: config leafref ${node.name} points to state data ${target.name}`);
    }
    for (const n of this.defaults) {
      const ds = n.kind === "leaf" ? (n.default === undefined ? [] : [n.default]) : n.defaults ?? [];
      for (const d of ds) {
        if (n.type!.base === "leafref" && !n.type!.target) continue;
        const r = checkValue(n.type!, d, { lenient: false, text: true }, n.module);
        if (!r.ok) throw new YangError(`${n.module}: invalid default ${JSON.stringify(d)} of ${n.name}: ${r.message}`);
      }
    }
  }
}

function setConfig(n: SchemaNode, v: boolean): void {
  n.config = v;
  if (n.kind !== "action") n.children.forEach((c) => setConfig(c, v));
}

/** Follows a descendant schema-node id ("a/b", "/p:a/p:b") from `from`. Choices and cases are steps. */
function descend(from: SchemaNode, path: string, what: string): SchemaNode {
  let n = from;
  for (const raw of path.split("/").filter(Boolean)) {
    const name = raw.includes(":") ? raw.slice(raw.indexOf(":") + 1) : raw;
    const next = n.children.find((c) => c.name === name);
    if (!next) throw new YangError(`${what}: node ${name} not found under ${n.name}`);
    n = next;
  }
  return n;
}

/** Data-tree parent: skips choice and case, which do not exist in instance data. */
export function dataParent(n: SchemaNode): SchemaNode | undefined {
  let p = n.parent;
  while (p && (p.kind === "choice" || p.kind === "case")) p = p.parent;
  return p;
}

/** Resolves a leafref path (predicates ignored) from `node`. */
export function resolveLeafref(node: SchemaNode, path: string, root: SchemaNode): SchemaNode | undefined {
  const clean = path.replace(/\[[^\]]*\]/g, "").trim();
  let n: SchemaNode | undefined = clean.startsWith("/") ? root : node;
  for (const raw of clean.split("/").filter(Boolean)) {
    const step = raw.trim();
    if (!n) return undefined;
    if (step === "..") {
      n = dataParent(n);
      continue;
    }
    const name = step.includes(":") ? step.slice(step.indexOf(":") + 1) : step;
    n = findData(n, name);
  }
  return n;
}

function findData(n: SchemaNode, name: string): SchemaNode | undefined {
  for (const c of n.children) {
    if (c.kind === "choice" || c.kind === "case") {
      const f = findData(c, name);
      if (f) return f;
    } else if (c.name === name) return c;
  }
  return undefined;
}

/**
 * Loads a module from its text. Imports are looked up in `source` (directories, or texts by
 * module name) and then among the embedded base modules (polycube-*, ietf-inet-types,
 * ietf-yang-types). Throws YangError or YangSyntaxError naming what is wrong.
 */
export function loadModule(text: string, source: ModuleSource = []): Schema {
  const loader = new Loader(source);
  const top = parseYang(text);
  const name = top.arg!;
  if (top.kw !== "module") throw new YangError(`${name} is a submodule, not a module`);
  const info = loader.module(name, text);
  return new Compiler(loader, info).compileModule();
}
