// Help tables (reference §5.3): the daemon's help JSON rendered as Keyword/Type/Description/
// Example rows, plus the local tables of the built-in commands.
import { columnize } from "./format.ts";

export interface ParamHelp {
  name?: string;
  type?: string;
  simpletype?: string;
  description?: string;
  example?: string;
  enum?: string[];
}

export interface HelpReply {
  commands?: string[];
  params?: Record<string, ParamHelp>;
  "optional-params"?: Record<string, ParamHelp>;
  elements?: Array<Record<string, string>>;
}

const COMMAND_TEXT: Record<string, string> = {
  add: "Add entry to a list",
  set: "Set a value",
  del: "Delete entry of a list",
  show: "Show entry or list [-normal | -brief | -verbose | -json | -yaml]",
};

const HEADER = ["Keyword", "Type", "Description", "Example"];

function typeText(p: ParamHelp): string {
  switch (p.type) {
    case "list":
      return "list";
    case "complex":
      return "container";
    case "action":
      return "action";
    default:
      return p.simpletype ?? p.type ?? "";
  }
}

function describe(p: ParamHelp): string {
  const d = (p.description ?? "").replace(/\s+/g, " ").trim();
  // Descriptions often list the values already.
  const listed = p.enum?.every((e) => d.includes(e)) ?? true;
  return listed ? d : `${d}${d ? " " : ""}(${p.enum!.join(", ")})`;
}

function paramRow(name: string, p: ParamHelp): string[] {
  const keyword = p.type === "key" ? `<${name}>` : name;
  return [keyword, typeText(p), describe(p), p.example ?? ""];
}

function optionalRow(name: string, p: ParamHelp): string[] {
  return [`${name}=value`, typeText(p), describe(p), p.example ?? ""];
}

/**
 * The help table of a YANG resource. `words` are the path words typed and `verb` the command
 * before `?`; they build the Example line of add and del.
 */
export function renderHelp(h: HelpReply, words: string[], verb?: string): string {
  const rows: string[][] = [HEADER];
  // The commands are what may follow the words typed: once a verb is typed, they are not listed.
  if (!verb) for (const c of h.commands ?? []) rows.push([c, "command", COMMAND_TEXT[c] ?? "", ""]);
  for (const [n, p] of Object.entries(h.params ?? {})) rows.push(paramRow(n, p));
  // Existing entries: their key values, typed by their key names (`p1  <name>`).
  for (const e of h.elements ?? []) rows.push([Object.values(e).join(" "), Object.keys(e).map((k) => `<${k}>`).join(" "), "", ""]);
  const lines = rows.length > 1 ? columnize(rows) : [];
  const optional = Object.entries(h["optional-params"] ?? {});
  if (optional.length) lines.push(...(lines.length ? [""] : []), "Other parameters:", ...columnize([HEADER, ...optional.map(([n, p]) => optionalRow(n, p))]));
  if (verb === "add" || verb === "del") {
    const keys = Object.entries(h.params ?? {})
      .filter(([, p]) => p.type === "key")
      .map(([n, p]) => p.example || `<${n}>`);
    // service-name's example ("helloworld") is right for one service only: it is left out.
    const extra = verb === "add" ? optional.filter(([n, p]) => p.example && n !== "service-name").map(([n, p]) => `${n}=${p.example}`) : [];
    if (lines.length) lines.push("", "Example:", `    ${["polycubectl", ...words, verb, ...keys, ...extra].join(" ")}`);
  }
  if (!lines.length) return "There is not help for this command\n";
  return `${lines.join("\n")}\n`;
}

const BUILTINS: Array<[string, string, boolean]> = [
  ["connect", "Connect ports", false],
  ["disconnect", "Disconnect ports", false],
  ["attach", "Attach transparent cubes", false],
  ["detach", "Detach transparent cubes", false],
  ["services", "Show/Add/Del services (e.g. Bridge, Router, ..)", true],
  ["cubes", "Show running service instances (e.g. br0, r1, ...)", false],
  ["topology", "Show topology of service instances", false],
  ["netdevs", "Show net devices available", false],
];

/**
 * Root help: services, built-in commands (`services` only for experts) and the running cubes
 * (`cubes` is GET /cubes/: service name → cube summaries).
 */
export function renderRootHelp(root: HelpReply, cubes: Record<string, Array<{ name?: string; type?: string }>>, expert: boolean): string {
  const rows: string[][] = [HEADER.slice(0, 3)];
  for (const [n, p] of Object.entries(root.params ?? {})) rows.push([n, "service", describe(p)]);
  for (const [n, d, expertOnly] of BUILTINS) if (expert || !expertOnly) rows.push([n, "command", d]);
  const lines = columnize(rows);
  const running = Object.entries(cubes ?? {}).flatMap(([svc, list]) => (Array.isArray(list) ? list : []).map((c) => [c.name ?? "", svc, c.type ?? ""]));
  if (running.length) lines.push("", "Running Services:", ...columnize([["Name", "Service", "Type"], ...running], " "));
  return `${lines.join("\n")}\n`;
}

const str = (description: string, example: string, type = "key"): ParamHelp => ({ type, simpletype: "string", description, example });

/** Hard-coded help of the built-in commands (the daemon has none for them). */
export function builtinHelp(cmd: string, verb?: string): string | undefined {
  switch (cmd) {
    case "connect":
    case "disconnect":
      return renderHelp({ params: { peer1: str("cube:port or netdev", "br1:port1"), peer2: str("cube:port or netdev", "veth1") } }, [cmd], undefined).concat(`\nExample:\n    polycubectl ${cmd} br1:port1 veth1\n`);
    case "attach":
      return renderHelp(
        {
          params: { cube: str("Transparent cube to attach", "fw1"), port: str("cube:port or netdev to attach it to", "br1:port1") },
          "optional-params": {
            position: str("Where in the chain: auto, first or last (default auto)", "first", "leaf"),
            before: str("Place it just before this cube", "nat1", "leaf"),
            after: str("Place it just after this cube", "nat1", "leaf"),
          },
        },
        [cmd],
      ).concat(`\nOnly one of position, before and after may be given.\n\nExample:\n    polycubectl attach fw1 br1:port1 position=first\n`);
    case "detach":
      return renderHelp({ params: { cube: str("Transparent cube to detach", "fw1"), port: str("cube:port or netdev it is attached to", "br1:port1") } }, [cmd]).concat(
        `\nExample:\n    polycubectl detach fw1 br1:port1\n`,
      );
    case "services": {
      const name = str("Name of the service", "router");
      if (verb === "add")
        return renderHelp({ "optional-params": { name: str("Name of the service", "router", "leaf"), type: str("lib or grpc", "lib", "leaf"), uri: str("Path of the service", "/usr/lib/libpcn-router.so", "leaf") } }, ["services"]).concat(
          `\nExample:\n    polycubectl services add name=router type=lib uri=/usr/lib/libpcn-router.so\n`,
        );
      if (verb === "del" || verb === "show") return renderHelp({ params: { name } }, ["services"], verb === "del" ? "del" : undefined);
      return renderHelp({ commands: ["add", "del", "show"], params: { name } }, ["services"]);
    }
    default:
      return undefined;
  }
}
