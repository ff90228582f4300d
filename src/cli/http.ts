// HTTP to the daemon: TLS settings from the config, redirects followed by hand so that a 308
// (the daemon's cube-name redirect) keeps method and body, as Go's client did, with a Referer
// like Go's so the daemon can stop a redirect loop.
import type { HttpCall } from "./args.ts";
import type { CliConfig } from "./config.ts";
import { stdio } from "./io.ts";
import { VERSION } from "../version.ts";

/** The header the daemon sets on every reply (src/lib/rest/app.ts's VERSION_HEADER). */
const VERSION_HEADER = "x-polycubed-version";
let mismatchTold = false;

/** One line on stderr, once per invocation, when the daemon is not of this CLI's version. */
export function versionMismatch(daemon: string | null, cli = VERSION): string | undefined {
  if (!daemon || daemon === cli) return undefined;
  return `polycubectl: warning: polycubectl is version ${cli} but polycubed is version ${daemon}\n`;
}

export interface HttpReply {
  status: number;
  statusText: string;
  text: string;
}

/** The daemon could not be reached at all. */
export class UnreachableError extends Error {}

const MAX_REDIRECTS = 10;

/** TLS settings: the CA, and the client certificate when there is one (files read here). */
async function tlsOptions(cfg: CliConfig): Promise<Record<string, string> | undefined> {
  if (!cfg.url.startsWith("https:")) return undefined;
  const read = async (what: string, path: string) => {
    try {
      return await Bun.file(path).text();
    } catch (e) {
      throw new Error(`Cannot read the ${what} ${path}: ${(e as Error).message}`);
    }
  };
  const tls: Record<string, string> = { ca: await read("cacert", cfg.cacert) };
  if (cfg.cert) {
    tls.cert = await read("cert", cfg.cert);
    tls.key = await read("key", cfg.key);
  }
  return tls;
}

export async function send(call: HttpCall, cfg: CliConfig): Promise<HttpReply> {
  const tls = await tlsOptions(cfg);
  let url = call.url;
  let referer: string | undefined;
  for (let hop = 0; ; hop++) {
    if (cfg.debug) stdio.err(`${call.method} ${url}${call.body !== undefined ? `\n${call.body}` : ""}\n`);
    const headers: Record<string, string> = {};
    if (call.body !== undefined) headers["content-type"] = "application/json";
    if (referer) headers.referer = referer;
    let r: Response;
    try {
      r = await fetch(url, { method: call.method, body: call.body, headers, redirect: "manual", ...(tls ? { tls } : {}) } as RequestInit);
    } catch (e) {
      throw new UnreachableError((e as Error).message);
    }
    const warning = mismatchTold ? undefined : versionMismatch(r.headers.get(VERSION_HEADER));
    if (warning) {
      mismatchTold = true;
      stdio.err(warning);
    }
    const location = r.headers.get("location");
    if ([301, 302, 303, 307, 308].includes(r.status) && location && hop < MAX_REDIRECTS) {
      await r.arrayBuffer();
      referer = url;
      url = new URL(location, url).toString();
      continue;
    }
    return { status: r.status, statusText: r.statusText, text: await r.text() };
  }
}
