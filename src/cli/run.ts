// One polycubectl invocation: built-in commands rewritten to REST calls (reference §5.2),
// generic paths sent as the grammar says (§5.1), replies printed (§5.3, §5.4).
import { parseArgs, pathUrl, readsStdin, toRequest, UsageError, type CliArgs, type Format, type JsonValue } from "./args.ts";
import type { CliConfig } from "./config.ts";
import type { Io } from "./io.ts";
import { renderShow } from "./format.ts";
import { builtinHelp, renderHelp, renderRootHelp, type HelpReply } from "./help.ts";
import { send, UnreachableError, type HttpReply } from "./http.ts";

/** Exit statuses: 0 success, 1 bad command line or daemon unreachable, 2 non-2xx reply. */
export const EXIT_USAGE = 1;
export const EXIT_HTTP = 2;


const ok = (r: HttpReply) => r.status >= 200 && r.status < 300;

function parseJson(text: string): JsonValue | undefined {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

class Runner {
  constructor(
    private cfg: CliConfig,
    private io: Io,
  ) {}

  private url(words: string[]): string {
    return pathUrl(this.cfg.url, words);
  }

  /** Prints a failed reply: its body, or the status line when it has none. */
  private failed(r: HttpReply, emptyText?: string): number {
    const body = r.text.trim();
    this.io.err(`${body || emptyText || `${r.status} ${r.statusText}`.trim()}\n`);
    return EXIT_HTTP;
  }

  private async call(method: string, url: string, body?: string): Promise<HttpReply> {
    return send({ method, url, body }, this.cfg);
  }

  /** A reply to a write: nothing on success (the status line with debug). */
  private written(r: HttpReply): number {
    if (!ok(r)) return this.failed(r);
    if (this.cfg.debug) this.io.err(`${r.status} ${r.statusText}\n`);
    return 0;
  }

  private async shown(r: HttpReply, format?: Format, hide: string[] = []): Promise<number> {
    if (!ok(r)) return this.failed(r);
    const data = parseJson(r.text);
    if (data === undefined) this.io.out(r.text.endsWith("\n") || r.text === "" ? r.text : `${r.text}\n`);
    else this.io.out(await renderShow(data, format, hide));
    return 0;
  }

  async rootHelp(): Promise<number> {
    const root = await this.call("OPTIONS", `${this.cfg.url}?help=NONE`);
    if (!ok(root)) return this.failed(root, "There is not help for this command");
    const cubes = await this.call("GET", this.url(["cubes"]));
    const rootJson = (parseJson(root.text) ?? {}) as HelpReply;
    const cubesJson = ok(cubes) ? ((parseJson(cubes.text) ?? {}) as Record<string, Array<{ name?: string; type?: string }>>) : {};
    if (this.cfg.debug) this.io.err(`${root.text}\n`);
    this.io.out(renderRootHelp(rootJson, cubesJson, this.cfg.expert));
    return 0;
  }

  async run(argv: string[]): Promise<number> {
    if (argv.length === 0) return this.rootHelp();
    const a = parseArgs(argv);
    const head = a.path[0];
    if (a.help && a.path.length === 0 && !a.verb) return this.rootHelp();
    if (a.help && head && (a.path.length === 1 || head === "services")) {
      const local = builtinHelp(head, a.verb);
      if (local !== undefined) {
        this.io.out(local);
        return 0;
      }
    }
    if (!a.help && !a.verb) {
      switch (head) {
        case "version":
          return this.version(a);
        case "connect":
        case "disconnect":
          return this.peers(head, a);
        case "attach":
        case "detach":
          return this.attach(head, a);
        case "cubes":
        case "netdevs":
        case "services":
          a.verb = "show";
          break;
        case "topology":
          a.verb = "show";
          break;
      }
    }
    // The topology is printed verbose, without uuids, unless asked otherwise.
    if (head === "topology" && a.verb === "show" && !a.help) {
      a.format ??= "verbose";
      if (!a.hide.length && a.format !== "json" && a.format !== "yaml") a.hide = ["uuid"];
    }
    return this.generic(a);
  }

  private async version(a: CliArgs): Promise<number> {
    if (a.path.length > 1 || a.pairs.length) throw new UsageError("version takes no arguments");
    const { VERSION } = await import("../version.ts");
    this.io.out(`polycubectl:\n version: ${VERSION}\n`);
    return this.shown(await this.call("GET", this.url(["version"])));
  }

  private async peers(cmd: string, a: CliArgs): Promise<number> {
    if (a.path.length !== 3 || a.pairs.length) throw new UsageError(`${cmd} takes exactly two arguments: ${cmd} <cube:port> <cube:port|netdev>`);
    const body = JSON.stringify({ peer1: a.path[1], peer2: a.path[2] });
    return this.written(await this.call("POST", this.url([cmd]), body));
  }

  private async attach(cmd: string, a: CliArgs): Promise<number> {
    if (a.path.length !== 3) throw new UsageError(`${cmd} takes two arguments: ${cmd} <cube> <cube:port|netdev>${cmd === "attach" ? " [position=auto|first|last | before=<cube> | after=<cube>]" : ""}`);
    const body: Record<string, JsonValue> = { cube: a.path[1]!, port: a.path[2]! };
    const allowed = cmd === "attach" ? ["position", "before", "after"] : [];
    for (const [k, v] of a.pairs) {
      if (!allowed.includes(k)) throw new UsageError(`${cmd}: unknown parameter ${k}${allowed.length ? ` (use one of ${allowed.join(", ")})` : ""}`);
      body[k] = String(v);
    }
    if (a.pairs.length > 1) throw new UsageError("attach: only one of position, before and after may be given");
    if (body.position !== undefined && !["auto", "first", "last"].includes(body.position as string))
      throw new UsageError(`attach: position must be auto, first or last, not ${body.position}`);
    return this.written(await this.call("POST", this.url([cmd]), JSON.stringify(body)));
  }

  private async generic(a: CliArgs): Promise<number> {
    if (a.help) {
      const call = toRequest(a, this.cfg.url);
      const r = await this.call(call.method, call.url);
      if (!ok(r)) return this.failed(r, "There is not help for this command");
      if (this.cfg.debug) this.io.err(`${r.text}\n`);
      const h = parseJson(r.text);
      if (h === undefined || typeof h !== "object" || h === null || Array.isArray(h)) {
        this.io.out(`${typeof h === "string" ? h : r.text}\n`);
        return 0;
      }
      this.io.out(renderHelp(h as HelpReply, a.path, a.verb));
      return 0;
    }
    let stdinBody: string | undefined;
    if (readsStdin(a)) {
      // Loaded only for writes: node:fs costs a few milliseconds of startup.
      const { bodyToJson, readStdin } = await import("./stdin.ts");
      const text = await readStdin();
      if (text.trim() !== "") stdinBody = await bodyToJson(text);
    }
    const call = toRequest(a, this.cfg.url, stdinBody);
    const r = await this.call(call.method, call.url, call.body);
    if (a.verb === "show") return this.shown(r, a.format, a.hide);
    // No verb: an action (or a plain POST). Its output, if any, is printed like `show`, as the
    // original did (it stays silent only for add, set and del).
    if (!a.verb && ok(r) && r.text.trim() !== "") return this.shown(r);
    return this.written(r);
  }
}

/** Runs one command line; every failure becomes a message on stderr and an exit status. */
export async function runCommand(argv: string[], cfg: CliConfig, io: Io): Promise<number> {
  try {
    return await new Runner(cfg, io).run(argv);
  } catch (e) {
    if (e instanceof UnreachableError) {
      io.err(`Cannot contact the polycubed daemon at ${cfg.url} Please verify that the daemon is running.\n`);
      if (cfg.debug) io.err(`${e.message}\n`);
      return EXIT_USAGE;
    }
    io.err(`${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
}
