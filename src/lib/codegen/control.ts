// The control-plane skeleton, index.ts: a ServiceModule whose cubes are instances of one class.
// - createCube() loads the datapath and feeds the whole first configuration to apply() as
//   creations, so one set of handlers serves the first configuration and every later change;
// - apply() dispatches each Change by the top-level node it touches to update<Node>();
// - state() assembles the read-only nodes from state<Node>() placeholders;
// - action() dispatches each YANG action to action<Path>();
// - packetIn() (and parentChanged() for a transparent service) log what arrives.
import { dataChildren, type ResolvedType, type SchemaNode } from "../yang/index.ts";
import { hasConfig, hasState, typeSummary, type ServiceModel } from "./model.ts";
import { NamePool, camel, commentText, pascal, wrap } from "./names.ts";

const IDENT = /^[A-Za-z_$][\w$]*$/;

function prop(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function access(base: string, name: string): string {
  return IDENT.test(name) ? `${base}.${name}` : `${base}[${JSON.stringify(name)}]`;
}

// ---- placeholder values ----------------------------------------------------------------------

/** A value of the type, as TypeScript source: what a placeholder for a read-only leaf returns. */
function zero(t: ResolvedType | undefined): string {
  if (!t) return '""';
  switch (t.base) {
    case "int8": case "int16": case "int32": case "int64":
    case "uint8": case "uint16": case "uint32": case "uint64":
    case "decimal64":
      return "0";
    case "boolean":
      return "false";
    case "enumeration":
      return JSON.stringify(t.enums?.[0]?.name ?? "");
    case "empty":
      return "[null]";
    case "union":
      return zero(t.union?.[0]);
    case "leafref":
      return zero(t.target?.type);
    case "identityref":
      return JSON.stringify(t.identities?.[0] ?? "");
    default:
      return '""';
  }
}

type Expr = string | { spread?: string; fields: Array<[string, Expr]> } | { map: string; param: string; body: Expr };

/**
 * TypeScript source for an expression that starts `lead` characters into a line indented by
 * `indent`: objects stay on one line while it fits in 100 characters, else one field a line.
 */
function render(e: Expr, indent: string, lead = indent.length): string {
  if (typeof e === "string") return e;
  if ("map" in e) {
    const head = `${e.map}.map((${e.param}) => (`;
    return `${head}${render(e.body, indent, lead + head.length)}))`;
  }
  const inner = indent + "  ";
  const field = ([k, v]: [string, Expr], at: number) => `${prop(k)}: ${render(v, inner, at + prop(k).length + 2)}`;
  const spread = e.spread ? [`...${e.spread}`] : [];
  if (!spread.length && !e.fields.length) return "{}";
  const flat = `{ ${[...spread, ...e.fields.map((f) => field(f, 0))].join(", ")} }`;
  if (!flat.includes("\n") && lead + flat.length + 4 <= 100) return flat;
  const parts = [...spread, ...e.fields.map((f) => field(f, inner.length))];
  return `{\n${parts.map((p) => `${inner}${p},`).join("\n")}\n${indent}}`;
}

/** Children that hold data (actions and notifications apart); a choice shows one case. */
function dataNodes(n: SchemaNode): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const c of n.children) {
    if (c.kind === "action" || c.kind === "notification" || c.kind === "input" || c.kind === "output") continue;
    if (c.kind === "choice") {
      const cs = c.children.find((k) => k.name === c.defaultCase) ?? c.children[0];
      if (cs) out.push(...dataNodes(cs));
    } else if (c.kind === "case") out.push(...dataNodes(c));
    else out.push(c);
  }
  return out;
}

/** A whole read-only node, filled with placeholders. */
function placeholder(n: SchemaNode): Expr {
  switch (n.kind) {
    case "leaf":
      return zero(n.type);
    case "leaf-list":
    case "list":
      return "[]";
    default:
      return { fields: dataNodes(n).map((c) => [c.name, placeholder(c)]) };
  }
}

/**
 * The read-only content of a node whose configuration value is the expression `src`: config
 * false subtrees as placeholders, configured list entries with their read-only leaves added.
 * List entries are merged into the stored ones by `name` when that is their key; other lists
 * are replaced on read, so their entries carry the configured values along.
 */
function stateExpr(n: SchemaNode, src: string, depth: number): Expr | undefined {
  if (!hasState(n)) return undefined;
  if (!n.config) return placeholder(n);
  const fieldsOf = (base: string, d: number): Array<[string, Expr]> =>
    dataChildren(n)
      .map((c): [string, Expr | undefined] => [c.name, stateExpr(c, access(base, c.name), d)])
      .filter((f): f is [string, Expr] => f[1] !== undefined);
  if (n.kind === "container") return { fields: fieldsOf(`obj(${src})`, depth) };
  if (n.kind === "list") {
    const e = depth ? `e${depth}` : "e";
    const byName = n.keys?.length === 1 && n.keys[0] === "name";
    const body = byName ? { fields: [["name", `${e}.name ?? ""`] as [string, Expr], ...fieldsOf(e, depth + 1)] } : { spread: e, fields: fieldsOf(e, depth + 1) };
    return { map: `entries(${src})`, param: e, body };
  }
  return undefined;
}

// ---- descriptions ----------------------------------------------------------------------------

/** The change paths that can reach a node, with their types: "/fdb/aging-time   uint32". */
function changePaths(n: SchemaNode, base: string, out: Array<[string, string]>, skip: Set<string> = new Set()): void {
  if (!hasConfig(n)) return;
  switch (n.kind) {
    case "leaf":
      out.push([`${base}/${n.name}`, typeSummary(n.type)]);
      break;
    case "leaf-list":
      out.push([`${base}/${n.name}`, `set of ${typeSummary(n.type)}`]);
      break;
    case "container":
      for (const c of dataChildren(n)) changePaths(c, `${base}/${n.name}`, out);
      break;
    case "list": {
      const here = `${base}/${n.name}[${(n.keys ?? []).join(",")}]`;
      out.push([here, "an entry, created or deleted whole"]);
      for (const c of dataChildren(n)) if (!(n.keys ?? []).includes(c.name) && !skip.has(c.name)) changePaths(c, here, out);
      break;
    }
  }
}

/** Read-only paths below a node: "/fdb/entry[address]/age   uint32". */
function statePaths(n: SchemaNode, base: string, out: Array<[string, string]>, skip: Set<string> = new Set()): void {
  if (!hasState(n)) return;
  const here = n.kind === "list" ? `${base}/${n.name}[${(n.keys ?? []).join(",")}]` : `${base}/${n.name}`;
  if (n.kind === "leaf" || n.kind === "leaf-list") out.push([here, (n.kind === "leaf-list" ? "set of " : "") + typeSummary(n.type)]);
  else if (!n.config && n.kind === "list") out.push([here, "list"]);
  else for (const c of dataChildren(n)) if (!skip.has(c.name)) statePaths(c, here, out);
}

function table(rows: Array<[string, string]>, prefix: string, limit = 24): string[] {
  const shown = rows.slice(0, limit);
  const w = Math.max(0, ...shown.map(([p]) => p.length));
  const out = shown.map(([p, t]) => `${prefix}${p.padEnd(w)}   ${commentText(t)}`.trimEnd());
  if (rows.length > limit) out.push(`${prefix}... and ${rows.length - limit} more`);
  return out;
}

function leafList(nodes: SchemaNode[]): string {
  return nodes.map((c) => `${c.name}${c.kind === "leaf" ? ` (${typeSummary(c.type)})` : c.kind === "list" ? "[]" : c.kind === "leaf-list" ? "*" : ""}`).join(", ");
}

// ---- the file --------------------------------------------------------------------------------

interface Handler {
  node: SchemaNode;
  method: string;
}

export function controlSkeleton(m: ServiceModel, lib: string): string {
  const Cls = `${pascal(m.name)}Cube`;
  // The module's own top-level names must not shadow the service's export.
  const topLevel = new Set(["yang", "schema", "obj", "entries", "createCube", "DATAPATH", "REASON_SLOWPATH", "diffConfig", "loadModule", "ServiceError", "typedMap", "u32", "u64", "TypedMapAccess", Cls]);
  const exportName = topLevel.has(camel(m.name, "Service")) ? `${camel(m.name, "Service")}Service` : camel(m.name, "Service");
  const pool = new NamePool(["constructor", "config", "ctx", "packets", "packetsSeen", "apply", "state", "action", "packetIn", "parentChanged", "destroy"]);
  const portsSkip = new Set(["tcubes"]); // the daemon keeps transparent stacks; their changes never reach a service
  const configNodes = [...(m.ports ? [m.ports] : []), ...m.own.filter(hasConfig)];
  const updates: Handler[] = configNodes.map((node) => ({ node, method: pool.take(`update${pascal(node.name)}`) }));
  const stateNodes = [...(m.ports && m.portOwn.some(hasState) ? [m.ports] : []), ...m.own.filter(hasState)];
  const states: Handler[] = stateNodes.map((node) => ({ node, method: pool.take(`state${pascal(node.name)}`) }));
  const actions = m.actions.map((a) => ({ ...a, method: pool.take(`action${pascal(a.path.join("-"))}`) }));

  const needsObj = { obj: false, entries: false };
  const L: string[] = [];
  const push = (...lines: string[]) => L.push(...lines);

  // Header.
  push(`// ${m.name}: control plane skeleton generated by \`polycube codegen\` from ${m.name}.yang.`);
  if (m.schema.description) push(...wrap(m.schema.description, "// "));
  push(
    "//",
    ...wrap(
      `createCube() runs for every new ${m.kind} cube: it loads the datapath (${m.name}.bpf.c) and hands the cube's ` +
        "whole configuration to apply() as creations, so the update handlers below serve both the first configuration " +
        "and every later change. Throw a ServiceError (4xx) from a handler to refuse a change: the daemon keeps the " +
        "previous configuration. state() fills in the read-only nodes, action() runs the YANG actions, packetIn() gets " +
        "the packets the datapath sends with pcn_pkt_controller(). docs/sdk.md tells the whole story.",
      "// ",
    ),
  );
  const sdkTypes = ["Change", "CubeContext", "CubeControl", ...(states.length ? ["Json"] : []), "JsonObject", "PacketIn", ...(actions.length ? ["PathStep"] : []), "ServiceModule"];
  push(
    `import { ${actions.length ? "ServiceError, " : ""}${sdkTypes.map((t) => `type ${t}`).join(", ")} } from "${lib}/sdk/types.ts";`,
    `import { u32, u64 } from "${lib}/bpf/codec.ts";`,
    `import { typedMap, type TypedMapAccess } from "${lib}/sdk/maps.ts";`,
    `import { diffConfig, loadModule } from "${lib}/yang/index.ts";`,
    `import yang from "./${m.name}.yang" with { type: "text" };`,
    "",
    `/** The datapath object build/bpf.sh makes from ${m.name}.bpf.c. */`,
    `const DATAPATH = ${JSON.stringify(m.name)};`,
    "",
    `/** Reasons the datapath gives pcn_pkt_controller() (REASON_* in ${m.name}.bpf.c). */`,
    "export const REASON_SLOWPATH = 0;",
    "",
    "const schema = loadModule(yang);",
    "@@HELPERS@@",
    "",
    `export class ${Cls} implements CubeControl {`,
    "  /** The configuration as last applied. */",
    "  private config: JsonObject = {};",
    `  /** The datapath's per-CPU packet counters (\`packets\` in ${m.name}.bpf.c), by ${m.kind === "standard" ? "port id (md->in_port)" : "direction (0 ingress, 1 egress)"}. */`,
    "  private readonly packets: TypedMapAccess<number, bigint>;",
    "",
    "  /** Made once the datapath is loaded: typedMap() checks each codec against the object's BTF. */",
    "  constructor(private readonly ctx: CubeContext) {",
    '    this.packets = typedMap(ctx, "packets", u32, u64);',
    "  }",
    "",
    `  /** Packets the datapath counted for a ${m.kind === "standard" ? "port id" : "direction"}, summed over the CPUs. */`,
    "  async packetsSeen(key: number): Promise<bigint> {",
    "    return ((await this.packets.getPerCpu(key)) ?? []).reduce((a, b) => a + b, 0n);",
    "  }",
    "",
    "  /** Validated changes, in schema order; `config` is the whole configuration they lead to. */",
    "  async apply(changes: Change[], config: JsonObject): Promise<void> {",
    "    const previous = this.config;",
    "    this.config = config;",
    "    try {",
    "      for (const change of changes) {",
    "        switch (change.path[0]?.node) {",
  );
  for (const h of updates) push(`          case ${JSON.stringify(h.node.name)}:`, `            await this.${h.method}(change);`, "            break;");
  push(
    "          default:",
    "            // The base nodes (type, loglevel, service-name...) are the daemon's.",
    "            break;",
    "        }",
    "      }",
    "    } catch (e) {",
    "      this.config = previous;",
    "      throw e;",
    "    }",
    "  }",
  );

  for (const h of updates) {
    const n = h.node;
    const rows: Array<[string, string]> = [];
    changePaths(n, "", rows, n === m.ports ? portsSkip : undefined);
    const what = n === m.ports ? "ports: the base list, with this service's additions." : `${n.name} (${n.kind})${n.description ? `: ${n.description}` : ""}`;
    push("", "  /**", ...wrap(what, "   * "), "   * The changes that reach it:");
    push(...table(rows, "   *   "));
    if (n === m.ports) push("   * this.ctx.ports() gives each port's id (md->in_port in the datapath), peer and status.");
    push(
      "   */",
      `  private async ${h.method}(change: Change): Promise<void> {`,
      "    this.ctx.log.debug(`${change.op} ${change.where}`);",
      "    // TODO: carry the change (change.op, change.before, change.after) into the datapath's maps.",
      "    // A map that mirrors configuration: typedMap(this.ctx, name, keyCodec, valueCodec).mirror()",
      "    // once, then replace(entries) or patch(set, del) here: only what changed is written, and a",
      "    // refused write puts the map back (src/lib/sdk/mirror.ts; codecs in src/lib/bpf/codec.ts).",
      "  }",
    );
  }

  if (states.length) {
    push(
      "",
      "  /** Live values of the read-only nodes, overlaid on the stored configuration on every read. */",
      "  async state(): Promise<JsonObject> {",
      "    return {",
    );
    for (const h of states) push(`      ${prop(h.node.name)}: await this.${h.method}(),`);
    push("    };", "  }");
    for (const h of states) {
      const n = h.node;
      const rows: Array<[string, string]> = [];
      statePaths(n, "", rows, n === m.ports ? new Set(["uuid", "status"]) : undefined);
      let expr: Expr;
      if (n === m.ports) {
        // Only this service's read-only port leaves: uuid and status are the daemon's.
        const fields = m.portOwn.map((c): [string, Expr | undefined] => [c.name, stateExpr(c, access("e", c.name), 1)]).filter((f): f is [string, Expr] => f[1] !== undefined);
        expr = { map: "entries(this.config.ports)", param: "e", body: { fields: [["name", 'e.name ?? ""'], ...fields] } };
      } else expr = stateExpr(n, access("this.config", n.name), 0)!;
      const text = render(expr, "    ", "    return ".length);
      if (text.includes("obj(")) needsObj.obj = true;
      if (text.includes("entries(")) needsObj.entries = true;
      push("", "  /**", `   * ${n.name}: the read-only values`, ...table(rows, "   *   "), "   * TODO: read them from the datapath (this.ctx.map(...)); these are placeholders.", "   */");
      push(`  private async ${h.method}(): Promise<Json> {`, `    return ${text};`, "  }");
    }
  }

  if (actions.length) {
    push(
      "",
      "  /** A YANG action: `path` names it, with the keys of the list entries above it. */",
      "  async action(path: PathStep[], input: JsonObject): Promise<JsonObject | void> {",
      '    const name = path.map((s) => s.node).join("/");',
      "    switch (name) {",
    );
    for (const a of actions) push(`      case ${JSON.stringify(a.path.join("/"))}:`, `        return this.${a.method}(path, input);`);
    push("      default:", "        throw new ServiceError(`unknown action ${name}`, 404);", "    }", "  }");
    for (const a of actions) {
      const input = a.node.children.find((c) => c.kind === "input");
      const output = a.node.children.find((c) => c.kind === "output");
      const inNodes = input ? dataNodes(input) : [];
      const outNodes = output ? dataNodes(output) : [];
      const keyed = a.path.slice(0, -1).map((p, i) => [p, i] as const);
      push("", "  /**", ...wrap(`${a.path.join("/")}${a.node.description ? `: ${a.node.description}` : ""}`, "   * "));
      push(`   * Input: ${inNodes.length ? leafList(inNodes) : "none"}.`);
      push(`   * Output: ${outNodes.length ? leafList(outNodes) : "none"}.`);
      const lists = keyed.filter(([, i]) => {
        let node: SchemaNode | undefined = m.schema.root;
        for (const p of a.path.slice(0, i + 1)) node = node && dataChildren(node).find((c) => c.name === p);
        return node?.kind === "list";
      });
      for (const [p, i] of lists) push(`   * path[${i}].keys: the ${p} entry it was called on.`);
      push("   */");
      const returns = outNodes.length ? "Promise<JsonObject>" : "Promise<void>";
      push(`  private async ${a.method}(path: PathStep[], input: JsonObject): ${returns} {`);
      push(`    this.ctx.log.debug(\`${a.path.join("/")} \${JSON.stringify(path)} \${JSON.stringify(input)}\`);`);
      if (outNodes.length) {
        push("    // TODO: do the work; the output below is a placeholder.");
        push(`    return ${render(placeholder(output!), "    ", "    return ".length)};`);
      } else push("    // TODO: do the work.");
      push("  }");
    }
  }

  // Slow path.
  push("");
  if (m.kind === "standard") {
    push(
      "  /** A packet the datapath sent with pcn_pkt_controller(); the datapath itself dropped it. */",
      "  async packetIn(pkt: PacketIn): Promise<void> {",
      "    const port = pkt.portName ?? String(pkt.portId);",
      "    switch (pkt.reason) {",
      "      case REASON_SLOWPATH:",
      "        this.ctx.log.info(`packet from port ${port}, ${pkt.data.length} bytes`);",
      "        // TODO: handle it; this.ctx.packetOut(port, frame) sends a frame out of a port.",
      "        break;",
      "      default:",
      "        this.ctx.log.warn(`packet from port ${port} with unknown reason ${pkt.reason}`);",
      "    }",
      "  }",
    );
  } else {
    push(
      "  /** A packet the datapath sent with pcn_pkt_controller(); the datapath itself dropped it. */",
      "  async packetIn(pkt: PacketIn): Promise<void> {",
      '    const direction = pkt.direction ?? (pkt.portId === 1 ? "EGRESS" : "INGRESS");',
      "    this.ctx.log.info(`[${direction}] packet in the slow path (reason ${pkt.reason}, ${pkt.data.length} bytes)`);",
      "    // TODO: handle it; as generated, it goes on along the chain in its direction.",
      "    await this.ctx.packetOutDirection(direction, pkt.data);",
      "  }",
      "",
      '  /**',
      '   * The cube was attached to a cube port ("cube:port") or a netdev, or detached (""). `config` is',
      "   * that cube port's configuration (e.g. a router port's ip); it comes again whenever it changes.",
      "   */",
      "  parentChanged(parent: string, config?: JsonObject): void {",
      "    void config; // TODO: use what the service needs of its parent",
      '    this.ctx.log.info(parent ? `attached to ${parent}` : "detached");',
      "  }",
    );
  }
  push(
    "",
    "  /** The cube is being deleted: stop timers, release what it holds. The daemon unloads the datapath. */",
    "  async destroy(): Promise<void> {",
    `    this.ctx.log.info(\`\${await this.packetsSeen(0)} packets counted on ${m.kind === "standard" ? "port id 0" : "ingress"}\`);`,
    "  }",
    "}",
    "",
    "async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {",
    "  await ctx.loadDatapath(DATAPATH);",
    `  const cube = new ${Cls}(ctx);`,
    "  // The first configuration goes through the same handlers as every later change.",
    "  await cube.apply(diffConfig(schema.root, {}, config), config);",
    "  return cube;",
    "}",
    "",
    `export const ${exportName}: ServiceModule = { name: ${JSON.stringify(m.name)}, kind: ${JSON.stringify(m.kind)}, yang, createCube };`,
    `export default ${exportName};`,
    "",
  );

  const helpers: string[] = [];
  if (needsObj.obj) helpers.push("const obj = (v: Json | undefined): JsonObject => (v && typeof v === \"object\" && !Array.isArray(v) ? v : {});");
  if (needsObj.entries) helpers.push("const entries = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? (v as JsonObject[]) : []);");
  const at = L.indexOf("@@HELPERS@@");
  L.splice(at, 1, ...(helpers.length ? ["", "// Reading the configuration.", ...helpers] : []));
  return L.join("\n");
}
