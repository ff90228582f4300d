// Every model against the original's vocabulary: for each node of the original's model (the
// facts files in test/yang/facts/, one line per node) our model, compiled by our own engine, has
// the node, with the same kind, keys, config, type, enumeration values (and their order),
// default (a typedef's included) and mandatory; and our model has no node the original lacks,
// except the documented extensions below.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { dataChildren, loadModule, type SchemaNode } from "../../src/lib/yang/index.ts";

const ROOT = join(import.meta.dir, "..", "..");
const YANG = join(ROOT, "yang");
const SERVICES = join(ROOT, "src", "services");
const FACTS = join(import.meta.dir, "facts");

/** The base models: the facts describe the grouping each one defines. */
const BASES = ["polycube-base", "polycube-standard-base", "polycube-transparent-base"];

/**
 * The original's services this repository does not have yet. Their facts files are here
 * already: adding the service means removing it from this list, and its check runs.
 */
const NOT_YET = ["iptables", "k8sdispatcher", "k8sfilter", "k8switch"];

/**
 * Nodes of ours the original does not have, by the model (grouping) that adds them. Each must be
 * read-only: an extension may show more, never accept more.
 */
const EXTENSIONS: Record<string, Record<string, string>> = {
  "polycube-transparent-base": {
    "/parent": "the cube:port or netdev a transparent cube is attached to (docs/rest.md; test/codegen/tree.test.ts drops it too)",
  },
};

// ---------------------------------------------------------------------------------------------
// The facts format, e.g.
//   grouping standard-base-yang-module:
//   /  uses polycube-base:base-yang-module
//   /ports  augmented by this model:
//   /route  list  key=network nexthop
//   /ports/uuid  leaf  polycube-base:polycube-uuid  config=false
//   /chain/default  leaf  action=enumeration enum{DROP|LOG|ACCEPT} (typedef default ACCEPT)  default=ACCEPT (from typedef)
// Fields are separated by two or more spaces (a type's own text has single spaces only).

const KINDS = new Set(["container", "list", "leaf", "leaf-list", "action", "input", "output", "notification"]);
const ATTRS = ["key", "default", "config", "mandatory", "min-elements", "max-elements"] as const;
type Attr = (typeof ATTRS)[number];

interface Fact {
  path: string;
  kind: string;
  /** Where it was read, for messages. */
  at: string;
  /** The type as the facts write it, e.g. "inet:ipv4-prefix", "uint32", "action=enumeration enum{...}". */
  type?: string;
  /** The type's name: a typedef's (prefix dropped) or the built-in's. */
  typeName?: string;
  enums?: string[];
  attrs: Partial<Record<Attr, string>>;
}

interface FactsFile {
  name: string;
  grouping?: string;
  /** "module:grouping" used at a path ("/" for the top). */
  uses: Array<{ at: string; grouping: string }>;
  nodes: Fact[];
}

function parseType(text: string, at: string): Pick<Fact, "type" | "typeName" | "enums"> {
  const m = /^(?:([A-Za-z_][\w.-]*)=)?([A-Za-z_][\w.:-]*)(?: enum\{([^}]*)\})?(?: pattern \S.*?)?(?: \(typedef default [^)]*\))?$/.exec(text);
  if (!m) throw new Error(`${at}: cannot read the type ${JSON.stringify(text)}`);
  const [, typedef, name, enums] = m;
  return {
    type: text,
    typeName: (typedef ?? name!).replace(/^.*:/, ""),
    enums: enums === undefined ? undefined : enums.split("|"),
  };
}

function parseFacts(name: string, text: string): FactsFile {
  const out: FactsFile = { name, uses: [], nodes: [] };
  text.split("\n").forEach((raw, i) => {
    const at = `${name}.facts:${i + 1}`;
    const line = raw.trimEnd();
    if (line === "") return;
    const g = /^grouping (\S+):$/.exec(line);
    if (g) {
      if (i !== 0) throw new Error(`${at}: a grouping header must be the first line`);
      out.grouping = g[1];
      return;
    }
    const [path, what, ...rest] = line.split(/ {2,}/);
    if (!path!.startsWith("/") || what === undefined) throw new Error(`${at}: cannot read ${JSON.stringify(line)}`);
    const uses = /^uses (\S+:\S+)$/.exec(what);
    if (uses) {
      if (rest.length) throw new Error(`${at}: unexpected ${JSON.stringify(rest.join("  "))}`);
      out.uses.push({ at: path!, grouping: uses[1]! });
      return;
    }
    if (what === "augmented by this model:") return; // a heading: the nodes follow with their full paths
    if (!KINDS.has(what)) throw new Error(`${at}: unknown kind ${JSON.stringify(what)}`);
    const fact: Fact = { path: path!.replace(/(.)\/$/, "$1"), kind: what, at, attrs: {} };
    for (const field of rest) {
      const a = /^([a-z-]+)=(.*)$/.exec(field);
      if (a && (ATTRS as readonly string[]).includes(a[1]!)) {
        let v = a[2]!;
        if (a[1] === "default") v = v.replace(/ \(from typedef\)$/, "");
        fact.attrs[a[1] as Attr] = v;
      } else if ((what === "leaf" || what === "leaf-list") && fact.type === undefined) {
        Object.assign(fact, parseType(field, at));
      } else throw new Error(`${at}: cannot read ${JSON.stringify(field)}`);
    }
    if ((what === "leaf" || what === "leaf-list") && fact.type === undefined) throw new Error(`${at}: ${what} without a type`);
    if (what === "list" && fact.attrs.key === undefined && !/config=false/.test(line)) {
      // config lists need keys; the facts always give them
      throw new Error(`${at}: list without key`);
    }
    out.nodes.push(fact);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

const factsFiles = new Map(
  readdirSync(FACTS)
    .filter((f) => f.endsWith(".facts"))
    .map((f) => {
      const name = f.slice(0, -".facts".length);
      return [name, parseFacts(name, readFileSync(join(FACTS, f), "utf8"))] as const;
    }),
);
/** "module:grouping" -> the facts file of that module. */
const groupings = new Map([...factsFiles.values()].filter((f) => f.grouping).map((f) => [`${f.name}:${f.grouping}`, f]));

interface Expected {
  nodes: Map<string, Fact>;
  /** path -> why: nodes of ours the original lacks, documented. */
  extensions: Map<string, string>;
}

/** The facts with every `uses` of a base grouping expanded in place. */
function expand(file: FactsFile, prefix = "", seen: string[] = []): Expected {
  const out: Expected = { nodes: new Map(), extensions: new Map() };
  const join2 = (a: string, b: string) => (a === "" || a === "/" ? b : `${a}${b}`);
  for (const u of file.uses) {
    const g = groupings.get(u.grouping);
    if (!g) throw new Error(`${file.name}: uses ${u.grouping}, which no facts file defines`);
    if (seen.includes(g.name)) throw new Error(`${file.name}: circular uses of ${u.grouping}`);
    const sub = expand(g, join2(prefix, u.at), [...seen, file.name]);
    for (const [p, f] of sub.nodes) out.nodes.set(p, f);
    for (const [p, w] of sub.extensions) out.extensions.set(p, w);
  }
  for (const f of file.nodes) {
    const p = join2(prefix, f.path);
    if (out.nodes.has(p)) throw new Error(`${f.at}: ${p} twice`);
    out.nodes.set(p, { ...f, path: p });
  }
  for (const [p, why] of Object.entries(EXTENSIONS[file.name] ?? {})) out.extensions.set(join2(prefix, p), why);
  return out;
}

function find(root: SchemaNode, path: string): SchemaNode | undefined {
  let n: SchemaNode | undefined = root;
  for (const step of path.split("/").filter(Boolean)) {
    n = n.kind === "action" ? n.children.find((c) => c.name === step) : dataChildren(n).find((c) => c.name === step);
    if (!n) return undefined;
  }
  return n;
}

function children(n: SchemaNode): SchemaNode[] {
  return n.kind === "action" ? n.children : dataChildren(n);
}

function inAction(n: SchemaNode): boolean {
  for (let p: SchemaNode | undefined = n; p; p = p.parent) if (p.kind === "action") return true;
  return false;
}

/** The original's effective config: false below any node the facts mark config=false. */
function factConfig(expected: Expected, path: string): boolean {
  const steps = path.split("/").filter(Boolean);
  for (let i = steps.length; i > 0; i--) {
    if (expected.nodes.get(`/${steps.slice(0, i).join("/")}`)?.attrs.config === "false") return false;
  }
  return true;
}

const show = (v: string | undefined) => (v === undefined ? "none" : v);

/** Every difference between our compiled tree and the original's facts, one line each. */
function drifts(root: SchemaNode, expected: Expected): string[] {
  const out: string[] = [];
  for (const [path, f] of expected.nodes) {
    const n = find(root, path);
    if (!n) {
      out.push(`${path}: missing (original: ${f.kind}${f.type ? ` ${f.type}` : ""})`);
      continue;
    }
    const d = (what: string, ours: string | undefined, theirs: string | undefined) => {
      if (ours !== theirs) out.push(`${path}: ${what} ${show(ours)}, original ${show(theirs)}`);
    };
    d("kind", n.kind, f.kind);
    if (n.kind !== f.kind) continue;
    if (f.kind === "list") d("keys", n.keys?.join(" "), f.attrs.key);
    if (!inAction(n)) d("config", String(n.config), String(factConfig(expected, path)));
    if (f.kind === "leaf" || f.kind === "leaf-list") {
      const t = n.type!;
      d("type", t.name.replace(/^.*:/, ""), f.typeName);
      d("enumeration values", t.enums?.map((e) => e.name).join("|"), f.enums?.join("|"));
      d("default", f.kind === "leaf" ? n.default : n.defaults?.join(" "), f.attrs.default);
      const isKey = n.parent?.kind === "list" && n.parent.keys?.includes(n.name);
      if (!isKey) d("mandatory", String(n.mandatory), String(f.attrs.mandatory === "true"));
    }
    if (f.kind === "list" || f.kind === "leaf-list") d("min-elements", String(n.minElements ?? 0), f.attrs["min-elements"] ?? "0");
  }
  // Ours, not the original's.
  const walk = (n: SchemaNode, path: string) => {
    for (const c of children(n)) {
      const p = `${path}/${c.name}`;
      // An action always has input and output in our tree; an empty one is not a node of ours.
      if ((c.kind === "input" || c.kind === "output") && c.children.length === 0 && !expected.nodes.has(p)) continue;
      if (expected.nodes.has(p)) walk(c, p);
      else if (expected.extensions.has(p)) {
        if (c.config) out.push(`${p}: documented extension (${expected.extensions.get(p)}) must be read-only`);
      } else out.push(`${p}: ${c.kind} not in the original`);
    }
  };
  walk(root, "");
  for (const p of expected.extensions.keys()) if (!find(root, p)) out.push(`${p}: documented extension missing`);
  return out;
}

// ---------------------------------------------------------------------------------------------

const ourServices = readdirSync(SERVICES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(SERVICES, d.name, `${d.name}.yang`)))
  .map((d) => d.name)
  .sort();
const theirServices = [...factsFiles.keys()].filter((n) => !BASES.includes(n)).sort();

describe("the facts files", () => {
  test("are all read (every line understood) and the base ones define their groupings", () => {
    expect(factsFiles.size).toBeGreaterThan(BASES.length);
    for (const b of BASES) expect(factsFiles.get(b)?.grouping, b).toBeDefined();
    for (const f of factsFiles.values()) expand(f);
  });
  test("every service of ours has the original's facts", () => {
    expect(ourServices.filter((s) => !factsFiles.has(s))).toEqual([]);
  });
  test("the original's services we lack are exactly the NOT_YET list", () => {
    expect(theirServices.filter((s) => !ourServices.includes(s))).toEqual([...NOT_YET].sort());
  });
});

describe("base models: the original's groupings", () => {
  for (const b of BASES) {
    test(b, () => {
      const facts = factsFiles.get(b)!;
      const wrapper = `module facts-${b} { yang-version 1.1; namespace "urn:facts:${b}"; prefix f; import ${b} { prefix m; } uses m:${facts.grouping}; }`;
      const schema = loadModule(wrapper, [YANG]);
      expect(drifts(schema.root, expand(facts)).map((d) => `${b} ${d}`)).toEqual([]);
    });
  }
});

describe("services: the original's vocabulary", () => {
  for (const s of theirServices.filter((s) => ourServices.includes(s))) {
    test(s, () => {
      const dir = join(SERVICES, s);
      const schema = loadModule(readFileSync(join(dir, `${s}.yang`), "utf8"), [YANG, dir]);
      expect(drifts(schema.root, expand(factsFiles.get(s)!)).map((d) => `${s} ${d}`)).toEqual([]);
    });
  }
});

describe("the comparison itself", () => {
  const facts = parseFacts(
    "t",
    [
      "/  uses polycube-base:base-yang-module",
      "/mode  leaf  act=enumeration enum{DROP|LOG|ACCEPT} (typedef default ACCEPT)  default=ACCEPT (from typedef)",
      "/l  list  key=a b",
      "/l/a  leaf  uint32",
      "/l/b  leaf  inet:ipv4-address  mandatory=true",
      "/l/c  leaf  string  mandatory=true",
      "/tags  leaf-list  string",
      "/st  container  config=false",
      "/st/n  leaf  uint64",
      "/go  action",
      "/go/output  output",
      "/go/output/ok  leaf  boolean",
    ].join("\n"),
  );
  const model = (body: string) =>
    loadModule(`module t { yang-version 1.1; namespace "urn:t"; prefix t; import polycube-base { prefix b; } import ietf-inet-types { prefix inet; }
      typedef act { type enumeration { enum DROP; enum LOG; enum ACCEPT; } default ACCEPT; }
      uses b:base-yang-module; ${body} }`, [YANG]).root;
  const good = `leaf mode { type act; } list l { key "a b"; leaf a { type uint32; } leaf b { type inet:ipv4-address; } leaf c { type string; mandatory true; } }
      leaf-list tags { type string; } container st { config false; leaf n { type uint64; } } action go { output { leaf ok { type boolean; } } }`;
  test("reads a typedef'd enumeration with its inherited default", () => {
    expect(facts.nodes[0]).toMatchObject({ path: "/mode", kind: "leaf", typeName: "act", enums: ["DROP", "LOG", "ACCEPT"], attrs: { default: "ACCEPT" } });
    expect(facts.nodes[1]!.attrs.key).toBe("a b");
  });
  test("a faithful model has no drift", () => {
    expect(drifts(model(good), expand(facts))).toEqual([]);
  });
  test("each kind of drift is named with its path", () => {
    const bad = `leaf mode { type enumeration { enum LOG; enum DROP; enum ACCEPT; } default DROP; }
      list l { key "b a"; leaf a { type uint32; } leaf b { type string; mandatory true; } leaf c { type string; } }
      list st { key n; leaf n { type uint64; } leaf extra { type string; } } action go { output { leaf ok { type boolean; } } }`;
    expect(drifts(model(bad), expand(facts))).toEqual([
      "/mode: type enumeration, original act",
      "/mode: enumeration values LOG|DROP|ACCEPT, original DROP|LOG|ACCEPT",
      "/mode: default DROP, original ACCEPT",
      "/l: keys b a, original a b",
      "/l/b: type string, original ipv4-address",
      "/l/c: mandatory false, original true",
      "/tags: missing (original: leaf-list string)",
      "/st: kind list, original container",
      "/st/n: config true, original false",
      "/st/extra: leaf not in the original",
    ]);
    expect(() => parseFacts("x", "/a  leaf  string  colour=red")).toThrow(/x.facts:1/);
    expect(() => parseFacts("x", "/a  thing")).toThrow(/unknown kind/);
  });
});
