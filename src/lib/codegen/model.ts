// What the code generator needs to know about a service model: its compiled schema, whether it
// is a standard or a transparent service (from the base grouping it uses), which of its nodes
// the base grouping brought (the daemon serves those) and which are the service's own.
import type { ServiceKind } from "../sdk/types.ts";
import { parseYang, subs } from "../yang/parser.ts";
import { dataChildren, loadModule, type ResolvedType, type Schema, type SchemaNode } from "../yang/index.ts";

/** Bad input to the generator; the message is meant for the user as it is. */
export class CodegenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodegenError";
  }
}

const BASES: Record<ServiceKind, { module: string; grouping: string }> = {
  standard: { module: "polycube-standard-base", grouping: "standard-base-yang-module" },
  transparent: { module: "polycube-transparent-base", grouping: "transparent-base-yang-module" },
};

export interface ActionInfo {
  /** Data-node names from the top of the tree down to the action, e.g. ["fdb", "flush"]. */
  path: string[];
  node: SchemaNode;
}

export interface ServiceModel {
  /** Module name: the service's REST name and the stem of its files. */
  name: string;
  kind: ServiceKind;
  text: string;
  schema: Schema;
  /** Top-level data nodes of the service's own (the base grouping's apart), in model order. */
  own: SchemaNode[];
  /** Standard services: the ports list, and the port leaves the service added to it. */
  ports?: SchemaNode;
  portOwn: SchemaNode[];
  /** Every action of the model (module-level rpcs too), in model order. */
  actions: ActionInfo[];
}

const baseNames = new Map<ServiceKind, { top: Set<string>; port: Set<string> }>();

/** Names of the nodes a base grouping adds, read from the base model itself. */
function baseNodes(kind: ServiceKind): { top: Set<string>; port: Set<string> } {
  const have = baseNames.get(kind);
  if (have) return have;
  const b = BASES[kind];
  const probe = loadModule(
    `module pcn-codegen-probe { yang-version 1.1; namespace "urn:pcn-codegen-probe"; prefix probe;
       import ${b.module} { prefix base; } uses base:${b.grouping}; }`,
  );
  const ports = dataChildren(probe.root).find((n) => n.name === "ports");
  const names = {
    top: new Set(dataChildren(probe.root).map((n) => n.name)),
    port: new Set(ports ? dataChildren(ports).map((n) => n.name) : []),
  };
  baseNames.set(kind, names);
  return names;
}

/** standard or transparent, from the base grouping the module uses at its top level. */
function kindOf(text: string, file: string): ServiceKind {
  const top = parseYang(text, file);
  const prefixes = new Map<string, string>();
  for (const imp of subs(top, "import")) {
    const p = subs(imp, "prefix")[0]?.arg;
    if (p && imp.arg) prefixes.set(p, imp.arg);
  }
  const found = new Set<ServiceKind>();
  for (const u of subs(top, "uses")) {
    const arg = u.arg ?? "";
    const i = arg.indexOf(":");
    if (i < 0) continue;
    const module = prefixes.get(arg.slice(0, i));
    const grouping = arg.slice(i + 1);
    for (const [kind, b] of Object.entries(BASES) as Array<[ServiceKind, (typeof BASES)[ServiceKind]]>)
      if (module === b.module && grouping === b.grouping) found.add(kind);
  }
  const expected = `${BASES.standard.module}:${BASES.standard.grouping} (a standard service) or ${BASES.transparent.module}:${BASES.transparent.grouping} (a transparent service)`;
  if (found.size === 0) throw new CodegenError(`${file}: the model does not use a polycube base grouping; its top level needs \`uses\` of ${expected}`);
  if (found.size > 1) throw new CodegenError(`${file}: the model uses both the standard and the transparent base groupings; a service is one or the other`);
  return [...found][0]!;
}

function collectActions(nodes: SchemaNode[], path: string[], out: ActionInfo[]): void {
  for (const n of nodes) {
    if (n.kind === "action") out.push({ path: [...path, n.name], node: n });
    else if (n.kind === "container" || n.kind === "list") collectActions(dataChildren(n), [...path, n.name], out);
  }
}

/**
 * Compiles a model and classifies it. `file` names the model in messages. Throws CodegenError
 * for a model that does not compile (with the YANG engine's message) or is not a service model.
 */
export function analyseModel(text: string, file: string): ServiceModel {
  let schema: Schema;
  try {
    schema = loadModule(text);
  } catch (e) {
    throw new CodegenError(`${file}: invalid YANG model: ${(e as Error).message}`);
  }
  const kind = kindOf(text, file);
  const base = baseNodes(kind);
  const top = dataChildren(schema.root);
  const missing = [...base.top].filter((n) => !top.some((c) => c.name === n));
  if (missing.length) throw new CodegenError(`${file}: the base nodes ${missing.join(", ")} are missing from the compiled model`);
  const own = top.filter((n) => !base.top.has(n.name));
  const ports = kind === "standard" ? top.find((n) => n.name === "ports") : undefined;
  const portOwn = ports ? dataChildren(ports).filter((n) => !base.port.has(n.name)) : [];
  const actions: ActionInfo[] = [];
  if (ports) collectActions(portOwn, ["ports"], actions);
  collectActions(own, [], actions);
  // Keep model order: the ports list comes before the service's own top-level nodes.
  return { name: schema.module, kind, text, schema, own, ports, portOwn, actions };
}

/** Can a configuration change reach this node (a config leaf somewhere below it)? */
export function hasConfig(n: SchemaNode): boolean {
  switch (n.kind) {
    case "leaf":
    case "leaf-list":
      return n.config;
    case "container":
    case "list":
      return n.config && n.children.some(hasConfig);
    case "choice":
    case "case":
      return n.children.some(hasConfig);
    default:
      return false;
  }
}

/** Is there read-only data (config false) at or below this node? */
export function hasState(n: SchemaNode): boolean {
  switch (n.kind) {
    case "leaf":
    case "leaf-list":
      return !n.config;
    case "container":
    case "list":
      return !n.config || n.children.some(hasState);
    case "choice":
    case "case":
      return n.children.some(hasState);
    default:
      return false;
  }
}

/** A short text for a type: "uint32", "enumeration DROP | FORWARD", "-> ../x". */
export function typeSummary(t: ResolvedType | undefined): string {
  if (!t) return "";
  if (t.base === "enumeration" && t.enums?.length) {
    const names = t.enums.map((e) => e.name);
    const list = names.length > 6 ? `${names.slice(0, 6).join(" | ")} | ...` : names.join(" | ");
    return t.name === "enumeration" ? `enumeration ${list}` : `${t.name} (${list})`;
  }
  if (t.name === "leafref" && t.path) return `-> ${t.path}`;
  return t.name === t.base ? t.name : `${t.name} (${t.base})`;
}
