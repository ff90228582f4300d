// The compiled schema: what a YANG module means once imports, groupings, typedefs and
// augments are resolved. Every layer above (validation, REST, CLI help, metrics) reads this.

export type NodeKind =
  | "module"
  | "container"
  | "list"
  | "leaf"
  | "leaf-list"
  | "choice"
  | "case"
  | "action"
  | "input"
  | "output"
  | "notification";

export type BaseType =
  | "int8" | "int16" | "int32" | "int64"
  | "uint8" | "uint16" | "uint32" | "uint64"
  | "decimal64" | "string" | "boolean" | "enumeration" | "bits" | "binary"
  | "leafref" | "identityref" | "empty" | "union" | "instance-identifier";

/** An extension instance kept on the node it appears in, e.g. polycube-base:cli-example "port1". */
export interface ExtensionInstance {
  /** Module that defines the extension, e.g. "polycube-base". */
  module: string;
  name: string;
  arg?: string;
}

export interface Pattern {
  /** The YANG (XSD) source text. */
  source: string;
  regex: RegExp;
  invert: boolean;
  errorMessage?: string;
}

/** Inclusive bounds; integers are bigint, decimal64 bounds are numbers. */
export type Interval = [bigint | number, bigint | number];

export interface ResolvedType {
  base: BaseType;
  /** The typedef chain's outermost name as written (e.g. "inet:ipv4-prefix"), or the base name. */
  name: string;
  /** Every range restriction along the typedef chain; a value must satisfy each. */
  ranges: Interval[][];
  lengths: Interval[][];
  patterns: Pattern[];
  enums?: Array<{ name: string; value: number; description?: string }>;
  bits?: Array<{ name: string; position: number }>;
  fractionDigits?: number;
  union?: ResolvedType[];
  /** leafref: the path as written, the node it points to, and that node's type. */
  path?: string;
  target?: SchemaNode;
  requireInstance?: boolean;
  /** identityref: every identity (module:name) derived from the bases. */
  identities?: string[];
}

export interface SchemaNode {
  kind: NodeKind;
  name: string;
  /** Module whose namespace the node is in (the using module for grouping content). */
  module: string;
  description?: string;
  /** Effective config: explicit or inherited; false inside state subtrees. */
  config: boolean;
  mandatory: boolean;
  /** leaf default, canonical text; leaf-list defaults. */
  default?: string;
  defaults?: string[];
  type?: ResolvedType;
  /** list keys, in order. */
  keys?: string[];
  unique?: string[][];
  minElements?: number;
  maxElements?: number;
  presence?: boolean;
  /** choice: name of the default case. */
  defaultCase?: string;
  units?: string;
  extensions: ExtensionInstance[];
  /** Shorthand: has polycube-base:init-only-config. */
  initOnly: boolean;
  /** Children in YANG order; for actions, input and output nodes. */
  children: SchemaNode[];
  parent?: SchemaNode;
}

export interface Schema {
  module: string;
  prefix: string;
  namespace: string;
  /** Module-level extension instances (service-name, service-description...). */
  extensions: ExtensionInstance[];
  /** The data tree root: kind "module"; its children are the top-level nodes. */
  root: SchemaNode;
  description?: string;
  revision?: string;
}

export function ext(node: { extensions: ExtensionInstance[] }, name: string): string | undefined {
  return node.extensions.find((e) => e.name === name)?.arg;
}

export function hasExt(node: { extensions: ExtensionInstance[] }, name: string): boolean {
  return node.extensions.some((e) => e.name === name);
}

/** Children as they appear in JSON: choice and case levels are transparent. */
export function dataChildren(node: SchemaNode): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const c of node.children) {
    if (c.kind === "choice" || c.kind === "case") out.push(...dataChildren(c));
    else out.push(c);
  }
  return out;
}

export function findDataChild(node: SchemaNode, name: string): SchemaNode | undefined {
  for (const c of node.children) {
    if (c.kind === "choice" || c.kind === "case") {
      const f = findDataChild(c, name);
      if (f) return f;
    } else if (c.name === name) return c;
  }
  return undefined;
}

export function isDataContainer(node: SchemaNode): boolean {
  return ["module", "container", "list", "input", "output", "case", "choice", "notification"].includes(node.kind);
}
