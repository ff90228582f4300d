// polycubectl's grammar (reference §5.1): path words, at most one verb, key=value body args,
// flags and a trailing `?`. Hand-written rather than citty: the grammar is positional and
// order-sensitive (a verb anywhere before the body args, `?` last, single-dash flags), which
// no argument library models.

export type Verb = "add" | "del" | "set" | "show";
export type Format = "normal" | "brief" | "verbose" | "json" | "yaml";
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface CliArgs {
  /** Every bare word that is not the verb, in order. */
  path: string[];
  verb?: Verb;
  /** key=value pairs as typed (after conversion), dotted keys still dotted. */
  pairs: Array<[string, JsonValue]>;
  /** The pairs as a nested JSON object (dotted keys → nested objects). */
  body: { [k: string]: JsonValue };
  format?: Format;
  hide: string[];
  help: boolean;
}

/** A user error in the command line: printed as is, exit status 1. */
export class UsageError extends Error {}

const VERBS = new Set(["add", "del", "set", "show"]);
const FORMATS = new Set(["normal", "brief", "verbose", "json", "yaml"]);

/**
 * Text to JSON value, in the original's order: integer, then float, then boolean, then string.
 * Integers beyond 2^53 stay strings so no digit is lost (the daemon accepts 64-bit integers as
 * strings); the original turned them into lossy floats.
 */
export function convertValue(v: string): JsonValue {
  if (/^[+-]?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  // Go's ParseFloat syntax, minus inf/nan which JSON cannot carry.
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return Number(v);
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false;
  return v;
}

/** Sets `a.b.c` in `obj`, creating the intermediate objects. */
function setDotted(obj: { [k: string]: JsonValue }, key: string, value: JsonValue): void {
  const parts = key.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined) cur = cur[p] = {};
    else if (typeof next === "object" && next !== null && !Array.isArray(next)) cur = next;
    else throw new UsageError(`Parameter ${key} conflicts with ${parts.slice(0, parts.indexOf(p) + 1).join(".")}`);
  }
  const last = parts.at(-1)!;
  if (last in cur) throw new UsageError(`Parameter ${key} conflicts with another parameter`);
  cur[last] = value;
}

export function parseArgs(argv: string[]): CliArgs {
  const out: CliArgs = { path: [], pairs: [], body: {}, hide: [], help: false };
  const seen = new Set<string>();
  argv.forEach((arg, i) => {
    if (arg === "?") {
      if (i !== argv.length - 1) throw new UsageError("? must be the last argument");
      out.help = true;
      return;
    }
    if (arg.startsWith("-")) {
      const flag = arg.replace(/^--?/, "");
      if (FORMATS.has(flag)) {
        if (out.format) throw new UsageError(`Only one of -normal, -brief, -verbose, -json, -yaml may be given`);
        out.format = flag as Format;
        return;
      }
      if (flag.startsWith("hide=")) {
        if (out.hide.length) throw new UsageError("-hide may be given only once");
        out.hide = flag.slice(5).split(",").filter((s) => s !== "");
        if (!out.hide.length) throw new UsageError("-hide needs a comma-separated list of fields, e.g. -hide=uuid,ports.peer");
        return;
      }
      if (flag === "h" || flag === "help") {
        if (argv.length !== 1) throw new UsageError(`${arg} must be the only argument`);
        return;
      }
      throw new UsageError(`Unknown flag ${arg}`);
    }
    const eq = arg.indexOf("=");
    if (eq > 0) {
      const key = arg.slice(0, eq);
      if (seen.has(key)) throw new UsageError(`Parameter ${key} given more than once`);
      seen.add(key);
      const value = convertValue(arg.slice(eq + 1));
      out.pairs.push([key, value]);
      setDotted(out.body, key, value);
      return;
    }
    if (eq === 0) throw new UsageError(`Argument ${arg} has no key before =`);
    if (VERBS.has(arg)) {
      if (out.verb) throw new UsageError(`Only one command among add, del, set, show may be given (${out.verb} and ${arg})`);
      if (out.pairs.length) throw new UsageError(`The command ${arg} must come before the key=value arguments`);
      out.verb = arg as Verb;
      return;
    }
    if (out.pairs.length) throw new UsageError(`${arg}: path arguments must come before the key=value arguments`);
    out.path.push(arg);
  });
  if ((out.format || out.hide.length) && out.verb !== "show" && !out.help)
    throw new UsageError("-normal, -brief, -verbose, -json, -yaml and -hide are allowed only with show");
  if (out.hide.length && (out.format === "json" || out.format === "yaml"))
    throw new UsageError("-hide cannot be used with -json or -yaml");
  return out;
}

/** Go's url.PathEscape: escapes what a path segment cannot hold, keeps sub-delims and ':' '@'. */
export function pathEscape(word: string): string {
  return encodeURIComponent(word).replace(/%(3A|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/gi, (m) => decodeURIComponent(m));
}

/** `base` + each word escaped and followed by '/'. `base` ends with '/'. */
export function pathUrl(base: string, words: string[]): string {
  return base + words.map((w) => `${pathEscape(w)}/`).join("");
}

export function verbMethod(verb: Verb | undefined): string {
  switch (verb) {
    case "show":
      return "GET";
    case "set":
      return "PATCH";
    case "del":
      return "DELETE";
    default:
      // add, and no verb at all: YANG actions are invoked with a POST to their path.
      return "POST";
  }
}

const isSingleSet = (a: CliArgs) => a.verb === "set" && a.pairs.length === 1;

/** Whether the body may come from stdin: writes (add, set, no verb), but not `set k=v`. */
export function readsStdin(a: CliArgs): boolean {
  return !a.help && verbMethod(a.verb) !== "GET" && verbMethod(a.verb) !== "DELETE" && !isSingleSet(a);
}

export interface HttpCall {
  method: string;
  url: string;
  /** JSON text of the body, if any. */
  body?: string;
}

/**
 * The request a parsed command line means (generic paths only; built-ins are rewritten
 * before). `stdinBody` is JSON text read from stdin, which replaces the key=value pairs.
 */
export function toRequest(a: CliArgs, base: string, stdinBody?: string): HttpCall {
  if (a.help) {
    const url = pathUrl(base, a.path).replace(/\/+$/, "");
    return { method: "OPTIONS", url: `${url}?help=${(a.verb ?? "none").toUpperCase()}` };
  }
  const method = verbMethod(a.verb);
  const url = pathUrl(base, a.path);
  if (method === "GET" || method === "DELETE") {
    if (a.pairs.length) throw new UsageError(`key=value arguments are not allowed with ${a.verb}`);
    return { method, url };
  }
  // The original's single-parameter workaround: `set k=v` writes the leaf itself (stdin unread).
  if (isSingleSet(a)) {
    const [key, value] = a.pairs[0]!;
    return { method, url: pathUrl(url, key.split(".")), body: JSON.stringify(value) };
  }
  if (stdinBody !== undefined) return { method, url, body: stdinBody };
  if (a.verb === "set" && a.pairs.length === 0) throw new UsageError("set needs at least one key=value argument, or a body on stdin");
  return { method, url, body: JSON.stringify(a.body) };
}
