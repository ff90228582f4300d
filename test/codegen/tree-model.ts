// A YANG service model rebuilt from a tree diagram, for testing the tree printer on the
// original's services whose models are not in this repository: the model uses the base grouping
// the tree shows (standard when it has ports), declares the nodes the tree lists with the flags,
// marks, keys and types it shows, and types the tree names but the model cannot know
// (e.g. `action`) become typedefs of string.
const BUILTIN = new Set([
  "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "decimal64", "string",
  "boolean", "enumeration", "bits", "binary", "empty", "instance-identifier",
]);
const BASE_TOP = new Set(["uuid", "type", "service-name", "loglevel", "ports", "shadow", "span"]);
const BASE_PORT = new Set(["name", "uuid", "status", "peer", "tcubes"]);

interface TNode {
  flags: string;
  name: string;
  mark: string;
  keys?: string[];
  type?: string;
  children: TNode[];
}

function parse(tree: string): { module: string; top: TNode[] } {
  const lines = tree.split("\n").filter((l) => l.trim());
  const module = /^module: (\S+)$/.exec(lines[0]!)![1]!;
  const top: TNode[] = [];
  const stack: Array<{ depth: number; node: TNode }> = [];
  for (const l of lines.slice(1)) {
    const m = /^([ |]*)\+--(rw|ro|-w|-x|-n|--) ([^\s[]+?)([?*!]?)(?: \[([^\]]+)\])?(?: +(\S.*))?$/.exec(l);
    if (!m) throw new Error(`unexpected tree line: ${l}`);
    const depth = (m[1]!.length - 2) / 3;
    const node: TNode = { flags: m[2]!, name: m[3]!, mark: m[4]!, keys: m[5]?.split(" "), type: m[6], children: [] };
    while (stack.length && stack.at(-1)!.depth >= depth) stack.pop();
    (stack.length ? stack.at(-1)!.node.children : top).push(node);
    stack.push({ depth, node });
  }
  return { module, top };
}

function emit(n: TNode, parentRo: boolean, typedefs: Set<string>, indent: string): string[] {
  const inner = indent + "  ";
  const body: string[] = [];
  const ro = n.flags === "ro";
  const config = ro && !parentRo ? [`${inner}config false;`] : [];
  const kids = (ro0: boolean) => n.children.flatMap((c) => emit(c, ro0, typedefs, inner));
  const typeStmt = (t: string): string => {
    if (t === "enumeration") return `${inner}type enumeration { enum A; enum B; }`;
    if (!BUILTIN.has(t) && !t.includes(":")) typedefs.add(t);
    return `${inner}type ${t};`;
  };
  if (n.flags === "-x") {
    const input = n.children.find((c) => c.name === "input");
    const output = n.children.find((c) => c.name === "output");
    if (input) body.push(`${inner}input {`, ...input.children.flatMap((c) => emit(c, true, typedefs, inner + "  ")), `${inner}}`);
    if (output) body.push(`${inner}output {`, ...output.children.flatMap((c) => emit(c, true, typedefs, inner + "  ")), `${inner}}`);
    return [`${indent}action ${n.name} {`, ...body, `${indent}}`];
  }
  if (n.type !== undefined) {
    const kw = n.mark === "*" ? "leaf-list" : "leaf";
    const mandatory = kw === "leaf" && n.mark !== "?" ? [`${inner}mandatory true;`] : [];
    return [`${indent}${kw} ${n.name} {`, typeStmt(n.type), ...mandatory, ...config, `${indent}}`];
  }
  if (n.mark === "*") {
    const key = n.keys ? [`${inner}key "${n.keys.join(" ")}";`] : [];
    return [`${indent}list ${n.name} {`, ...key, ...config, ...kids(ro || parentRo), `${indent}}`];
  }
  const presence = n.mark === "!" ? [`${inner}presence "set";`] : [];
  return [`${indent}container ${n.name} {`, ...presence, ...config, ...kids(ro || parentRo), `${indent}}`];
}

/** The YANG text of a service model whose tree is `tree`. */
export function modelFromTree(tree: string): string {
  const { module, top } = parse(tree);
  const standard = top.some((n) => n.name === "ports");
  const typedefs = new Set<string>();
  const ports = top.find((n) => n.name === "ports");
  const augment = (ports?.children ?? []).filter((c) => !BASE_PORT.has(c.name)).flatMap((c) => emit(c, false, typedefs, "      "));
  const own = top.filter((n) => !BASE_TOP.has(n.name)).flatMap((n) => emit(n, false, typedefs, "  "));
  const base = standard ? "polycube-standard-base" : "polycube-transparent-base";
  const grouping = standard ? "standard-base-yang-module" : "transparent-base-yang-module";
  return [
    `module ${module} {`,
    "  yang-version 1.1;",
    `  namespace "urn:codegen:${module}";`,
    `  prefix "${module}";`,
    '  import polycube-base { prefix "polycube-base"; }',
    `  import ${base} { prefix "${base}"; }`,
    '  import ietf-inet-types { prefix "inet"; }',
    '  import ietf-yang-types { prefix "yang"; }',
    ...[...typedefs].map((t) => `  typedef ${t} { type string; }`),
    augment.length ? `  uses "${base}:${grouping}" {\n    augment ports {\n${augment.join("\n")}\n    }\n  }` : `  uses "${base}:${grouping}";`,
    ...own,
    "}",
    "",
  ].join("\n");
}
