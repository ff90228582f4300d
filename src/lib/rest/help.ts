// OPTIONS help and completion for YANG resources (§3.4), the protocol polycubectl uses.
// The JSON shapes are documented in docs/rest.md ("Help and completion").
import type { DaemonCore } from "./core-api.ts";
import type { Json, JsonObject } from "../sdk/types.ts";
import { dataChildren, ext, type SchemaNode } from "../yang/index.ts";
import { RestError } from "./errors.ts";
import { jsonReply } from "./service-api.ts";
import type { Target } from "./target.ts";
import { entryWords, getAt } from "./tree.ts";

export type HelpType = "NONE" | "SHOW" | "ADD" | "DEL" | "SET";
const HELP_TYPES = new Set(["NONE", "SHOW", "ADD", "DEL", "SET"]);

export interface ParamHelp {
  name: string;
  /** key | leaf | list | complex (container) | action */
  type: "key" | "leaf" | "list" | "complex" | "action";
  /** integer | unsigned | decimal | string | boolean | empty | service */
  simpletype: string;
  description: string;
  example: string;
  /** Enumeration leaves: the allowed values (canonical names). */
  enum?: string[];
  /** Leaf-lists: true. */
  "is-list"?: boolean;
  /** Leaves that only take a value at creation. */
  "init-only"?: boolean;
  /** Leaves that cannot be written at all (config false). */
  readonly?: boolean;
  /** The YANG default, when there is one. */
  default?: string;
}

export interface HelpReply {
  commands?: string[];
  params?: Record<string, ParamHelp>;
  "optional-params"?: Record<string, ParamHelp>;
  elements?: Array<Record<string, string>>;
}

export function parseHelpQuery(q: URLSearchParams): { help?: HelpType; completion: boolean } {
  const h = q.get("help");
  const completion = q.has("completion");
  if (h === null) return { completion };
  const up = h.toUpperCase();
  if (!HELP_TYPES.has(up)) throw RestError.text(400, `Invalid help type ${h}: use NONE, SHOW, ADD, DEL or SET`);
  return { help: up as HelpType, completion };
}

function simpletype(n: SchemaNode): string {
  const t = n.type;
  if (!t) return "string";
  const base = t.base === "leafref" && t.target?.type ? t.target.type.base : t.base;
  if (["int8", "int16", "int32", "int64"].includes(base)) return "integer";
  if (["uint8", "uint16", "uint32", "uint64"].includes(base)) return "unsigned";
  if (base === "decimal64") return "decimal";
  if (base === "boolean") return "boolean";
  if (base === "empty") return "empty";
  return "string";
}

function enumNames(n: SchemaNode): string[] | undefined {
  const t = n.type?.base === "leafref" ? n.type.target?.type : n.type;
  if (!t) return undefined;
  if (t.base === "enumeration") return t.enums!.map((e) => e.name);
  if (t.base === "union") {
    const names = t.union!.flatMap((m) => (m.base === "enumeration" ? m.enums!.map((e) => e.name) : []));
    return names.length ? names : undefined;
  }
  return undefined;
}

export function paramHelp(n: SchemaNode, asKey = false): ParamHelp {
  const type: ParamHelp["type"] = asKey
    ? "key"
    : n.kind === "list"
      ? "list"
      : n.kind === "container"
        ? "complex"
        : n.kind === "action"
          ? "action"
          : "leaf";
  const p: ParamHelp = { name: n.name, type, simpletype: simpletype(n), description: n.description ?? "", example: ext(n, "cli-example") ?? "" };
  const en = enumNames(n);
  if (en) p.enum = en;
  if (n.kind === "leaf-list") p["is-list"] = true;
  if (n.initOnly) p["init-only"] = true;
  if (!n.config && n.kind !== "action") p.readonly = true;
  if (n.default !== undefined) p.default = n.default;
  return p;
}

function isKeyOf(parent: SchemaNode, c: SchemaNode): boolean {
  return parent.kind === "list" && !!parent.keys?.includes(c.name);
}

const isLeafish = (c: SchemaNode) => c.kind === "leaf" || c.kind === "leaf-list";
const isComplex = (c: SchemaNode) => c.kind === "container" || c.kind === "list" || c.kind === "action";

function record(nodes: SchemaNode[], asKey = false): Record<string, ParamHelp> {
  return Object.fromEntries(nodes.map((n) => [n.name, paramHelp(n, asKey)]));
}

/** Leaves writable at creation (init-only included), keys excluded. */
function creatable(node: SchemaNode): SchemaNode[] {
  return dataChildren(node).filter((c) => isLeafish(c) && c.config && !isKeyOf(node, c));
}

/** Leaves writable after creation. */
function settable(node: SchemaNode): SchemaNode[] {
  return creatable(node).filter((c) => !c.initOnly);
}

export class Helper {
  constructor(private core: DaemonCore) {}

  async options(t: Target, q: URLSearchParams): Promise<Response> {
    const { help, completion } = parseHelpQuery(q);
    if (help === undefined) return new Response(null, { status: 200 });
    const reply = await this.help(t, help);
    if (!completion) return jsonReply(reply as unknown as Json);
    return jsonReply(this.words(t, help, reply));
  }

  private async entries(t: Target): Promise<JsonObject[]> {
    if (!t.cube) return [];
    const data = await this.core.readCube(t.cube, t.steps).catch(() => ({}) as JsonObject);
    const v = getAt(t.schema.root, data, t.steps);
    return (Array.isArray(v) ? v : []).filter((e): e is JsonObject => typeof e === "object" && e !== null && !Array.isArray(e));
  }

  private async help(t: Target, help: HelpType): Promise<HelpReply> {
    const root = t.schema.root;
    switch (t.kind) {
      case "collection": {
        const name: ParamHelp = { name: "name", type: "key", simpletype: "string", description: `Name of the ${t.service} service`, example: `${t.service}1` };
        const elements = this.core.cubeNames().filter((n) => this.core.cubeService(n) === t.service).map((n) => ({ name: n }));
        if (help === "ADD") return { params: { name }, "optional-params": record(creatable(root)) };
        return { commands: ["add", "del", "show"], params: { name }, elements };
      }
      case "cube":
      case "container":
      case "entry":
        return this.objectHelp(t.node, help);
      case "list":
      case "partial": {
        const list = t.node;
        const given = t.givenKeys?.length ?? 0;
        const keyNodes = (list.keys ?? []).slice(given).map((k) => list.children.find((c) => c.name === k)!);
        const params = record(keyNodes, true);
        if (help === "ADD") return { params, "optional-params": record(creatable(list)) };
        const elements = (await this.entries(t))
          .filter((e) => entryWords(list, e).slice(0, given).every((w, i) => w === t.givenKeys![i]))
          .map((e) => Object.fromEntries((list.keys ?? []).map((k, i) => [k, entryWords(list, e)[i]!])));
        return { commands: ["add", "del", "show"], params, elements };
      }
      case "leaf":
      case "leaf-list":
        return { commands: t.node.config && !t.node.initOnly ? ["set", "show"] : ["show"], params: { [t.node.name]: paramHelp(t.node) } };
      case "action": {
        const input = t.node.children.find((c) => c.kind === "input")!;
        // As the original: action inputs are all presented as keys.
        return { params: record(dataChildren(input).filter(isLeafish), true) };
      }
    }
  }

  private objectHelp(node: SchemaNode, help: HelpType): HelpReply {
    const kids = dataChildren(node).filter((c) => !isKeyOf(node, c) && c.kind !== "notification");
    const commands = ["set", "show"];
    switch (help) {
      case "SHOW":
        return { commands, params: record(kids.filter((c) => c.kind !== "action")) };
      case "SET":
        return { params: record(settable(node)) };
      case "ADD":
        return { "optional-params": record(creatable(node)) };
      default:
        return { commands, params: record(kids.filter(isComplex)) };
    }
  }

  /** Completion words (§3.4): child names, `leaf=`, key values or `<key>`, enum values, commands. */
  private words(t: Target, help: HelpType, reply: HelpReply): string[] {
    if (t.kind === "leaf" || t.kind === "leaf-list") return paramHelp(t.node).enum ?? [];
    if (t.kind === "action") return Object.keys(reply.params ?? {}).map((k) => `${k}=`);
    if (t.kind === "collection" || t.kind === "list" || t.kind === "partial") {
      if (help === "ADD") return [...Object.keys(reply.params ?? {}).map((k) => `<${k}>`), ...Object.keys(reply["optional-params"] ?? {}).map((k) => `${k}=`)];
      const firstKey = Object.keys(reply.params ?? {})[0];
      const values = [...new Set((reply.elements ?? []).map((e) => e[firstKey ?? "name"] ?? Object.values(e)[0]!))];
      return help === "NONE" ? [...(reply.commands ?? []), ...values] : values;
    }
    if (help === "SET") return Object.keys(reply.params ?? {}).map((k) => `${k}=`);
    if (help === "ADD") return Object.keys(reply["optional-params"] ?? {}).map((k) => `${k}=`);
    const names = Object.keys(reply.params ?? {});
    return help === "NONE" ? [...(reply.commands ?? []), ...names] : names;
  }
}
