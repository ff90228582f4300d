// The YANG tree diagram of a compiled model (RFC 8340), laid out as libyang's `yanglint -f tree`
// prints it: the format of every <service>.tree file and of /work/shared/reference/yang-trees.
//
//   module: <name>
//     +--rw <name><opts>   <type>
//   (blank line, "  rpcs:" and "  notifications:" sections for module-level rpcs and notifications)
//
// Layout rules (yanglint's, checked against it in test/codegen/tree.test.ts):
// - flags: rw/ro by config; -w below an action's input, ro below its output, -- below a
//   notification; -x for actions, -n for notifications; a case is "+--:(name)".
// - opts: "?" for a leaf that is neither mandatory nor a key, "*" for lists and leaf-lists,
//   "!" for a presence container, "(name)?" for an optional choice; list keys follow as " [k1 k2]".
// - a list's key leaves come first, in key order.
// - the types of one set of siblings start in one column, 4 after the longest sibling name
//   without its opts mark (so a name with a mark is followed by 3 spaces). A keyed list does
//   not take part; a choice counts as "(name)".
// - input and output are printed only when they have children.
import type { Schema, SchemaNode } from "../yang/schema.ts";

type Mode = "data" | "input" | "output" | "notification";

/** The printable children of a node, in the order the diagram shows them. */
function children(n: SchemaNode): SchemaNode[] {
  let out = n.children.filter((c) => !((c.kind === "input" || c.kind === "output") && c.children.length === 0));
  if (n.kind === "list" && n.keys?.length) {
    const keys = n.keys.map((k) => out.find((c) => c.name === k)).filter((c): c is SchemaNode => !!c);
    out = [...keys, ...out.filter((c) => !keys.includes(c))];
  }
  return out;
}

function isKey(n: SchemaNode): boolean {
  return n.kind === "leaf" && n.parent?.kind === "list" && (n.parent.keys ?? []).includes(n.name);
}

/** The node's name with its opts mark, as printed (list keys apart). */
function label(n: SchemaNode): string {
  switch (n.kind) {
    case "leaf":
      return n.mandatory || isKey(n) ? n.name : `${n.name}?`;
    case "leaf-list":
    case "list":
      return `${n.name}*`;
    case "container":
      return n.presence ? `${n.name}!` : n.name;
    case "choice":
      return n.mandatory ? `(${n.name})` : `(${n.name})?`;
    case "case":
      return `:(${n.name})`;
    default:
      return n.name;
  }
}

/** The column where a set of siblings' types begin: 4 after the longest bare name ("(name)" for a choice). */
function typeColumn(siblings: SchemaNode[]): number {
  let longest = 0;
  for (const s of siblings) {
    if (s.kind === "list" && s.keys?.length) continue;
    longest = Math.max(longest, s.kind === "choice" ? s.name.length + 2 : s.name.length);
  }
  return longest + 4;
}

function flags(n: SchemaNode, mode: Mode): string {
  if (n.kind === "action") return "-x";
  if (n.kind === "notification") return "-n";
  if (mode === "input") return "-w";
  if (mode === "output") return "ro";
  if (mode === "notification") return "--";
  return n.config ? "rw" : "ro";
}

function typeText(n: SchemaNode): string | undefined {
  const t = n.type;
  if (!t || (n.kind !== "leaf" && n.kind !== "leaf-list")) return undefined;
  if (t.name === "leafref" && t.path !== undefined) return `-> ${t.path}`;
  return t.name;
}

function line(n: SchemaNode, mode: Mode, column: number): string {
  if (n.kind === "case") return `+--${label(n)}`;
  let s = `+--${flags(n, mode)} ${label(n)}`;
  if (n.kind === "list" && n.keys?.length) s += ` [${n.keys.join(" ")}]`;
  const type = typeText(n);
  if (type !== undefined) s += " ".repeat(Math.max(column - label(n).length, 1)) + type;
  return s;
}

function childMode(n: SchemaNode, mode: Mode): Mode {
  if (n.kind === "input") return "input";
  if (n.kind === "output") return "output";
  if (n.kind === "notification") return "notification";
  return mode;
}

function printSiblings(out: string[], siblings: SchemaNode[], indent: string, mode: Mode): void {
  const column = typeColumn(siblings);
  siblings.forEach((n, i) => {
    // An action's input and output nodes get their own flags: -w and ro.
    const own = n.kind === "input" || n.kind === "output" ? childMode(n, mode) : mode;
    out.push(indent + line(n, own, column));
    const kids = children(n);
    if (kids.length) printSiblings(out, kids, indent + (i < siblings.length - 1 ? "|  " : "   "), childMode(n, mode));
  });
}

/** The model's tree diagram, ending with a newline. */
export function printTree(schema: Schema): string {
  const top = children(schema.root);
  const data = top.filter((n) => n.kind !== "action" && n.kind !== "notification");
  const rpcs = top.filter((n) => n.kind === "action");
  const notifications = top.filter((n) => n.kind === "notification");
  const out = [`module: ${schema.module}`];
  if (data.length) printSiblings(out, data, "  ", "data");
  if (rpcs.length) {
    out.push("", "  rpcs:");
    printSiblings(out, rpcs, "    ", "data");
  }
  if (notifications.length) {
    out.push("", "  notifications:");
    printSiblings(out, notifications, "    ", "data");
  }
  return out.join("\n") + "\n";
}
