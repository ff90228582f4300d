// polycubectl configuration (reference §5.5): ~/.config/polycube/polycubectl_config.yaml,
// created with the defaults when missing, then POLYCUBECTL_* environment overrides, which
// apply whether or not the file existed (the original applied them only when it existed).
// Files are read with Bun.file, and node:fs is loaded only to create the file: every module
// loaded costs startup time, and the CLI is called hundreds of times by scripts.
import { UsageError } from "./args.ts";
import { stdio } from "./io.ts";

export interface CliConfig {
  debug: boolean;
  expert: boolean;
  /** Always ends with '/'. */
  url: string;
  cacert: string;
  cert: string;
  key: string;
}

export const DEFAULT_URL = "http://localhost:9000/polycube/v1/";

const DEFAULT_FILE = `debug: false
expert: true
url: ${DEFAULT_URL}
cacert: ""
cert: ""
key: ""
`;

const CONFIG_DIR = ".config/polycube";
const CONFIG_FILE = "polycubectl_config.yaml";

/** $HOME/.config/polycube/polycubectl_config.yaml (HOME unset: the user's home directory). */
export async function configPath(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const home = env.HOME || (await import("node:os")).homedir();
  return `${home.replace(/\/+$/, "")}/${CONFIG_DIR}/${CONFIG_FILE}`;
}

/** The file's text, or undefined when there is no file. */
async function readConfigFile(file: string): Promise<string | undefined> {
  try {
    return await Bun.file(file).text();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new UsageError(`Cannot read ${file}: ${(e as Error).message}`);
  }
}

/** As the original: the defaults are written so that the user finds the file to edit. */
async function writeDefaults(file: string): Promise<void> {
  try {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    writeFileSync(file, DEFAULT_FILE, { flag: "wx" });
  } catch {
    /* a read-only home, or another call won the race: fine */
  }
}

function boolOf(v: unknown, name: string): boolean {
  if (typeof v === "boolean") return v;
  const s = String(v).trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(s)) return true;
  if (["false", "0", "no", "off", ""].includes(s)) return false;
  throw new UsageError(`${name}: expected true or false, got ${JSON.stringify(v)}`);
}

/**
 * The file is a flat map of scalars, read here by hand: pulling in the yaml package costs
 * startup time on every call. Anything beyond `key: scalar` lines (comments and blank lines
 * aside) falls back to the yaml package.
 */
async function parseConfigText(text: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trimEnd();
    if (line === "" || line.startsWith("#") || line === "---") continue;
    const m = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (!m || /^[[{|>&*!]/.test(m[2]!)) {
      const { parse } = await import("yaml");
      const doc = parse(text);
      return doc && typeof doc === "object" ? (doc as Record<string, unknown>) : {};
    }
    let v = m[2]!;
    if (/^'.*'$/.test(v)) v = v.slice(1, -1).replaceAll("''", "'");
    else if (/^".*"$/.test(v)) v = JSON.parse(v) as string;
    out[m[1]!] = v;
  }
  return out;
}

/** Warnings go to stderr unless a test collects them. */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env, warn: (msg: string) => void = (m) => stdio.err(`${m}\n`)): Promise<CliConfig> {
  const file = await configPath(env);
  let values: Record<string, unknown> = {};
  const text = await readConfigFile(file);
  if (text === undefined) await writeDefaults(file);
  else {
    try {
      values = await parseConfigText(text);
    } catch (e) {
      throw new UsageError(`Cannot read ${file}: ${(e as Error).message}`);
    }
  }
  const pick = (k: string): unknown => env[`POLYCUBECTL_${k.toUpperCase()}`] ?? values[k];
  const str = (k: string): string => {
    const v = pick(k);
    return v === undefined || v === null ? "" : String(v);
  };
  const cfg: CliConfig = {
    debug: boolOf(pick("debug") ?? false, "debug"),
    expert: boolOf(pick("expert") ?? true, "expert"),
    url: str("url") || DEFAULT_URL,
    cacert: str("cacert"),
    cert: str("cert"),
    key: str("key"),
  };
  if (!cfg.url.endsWith("/")) cfg.url += "/";
  let parsed: URL;
  try {
    parsed = new URL(cfg.url);
  } catch {
    throw new UsageError(`url ${JSON.stringify(cfg.url)} is not a valid URL`);
  }
  if (parsed.protocol === "https:" && !cfg.cacert) throw new UsageError("an https url needs cacert (POLYCUBECTL_CACERT or cacert in the config file)");
  if (parsed.protocol !== "https:" && (cfg.cacert || cfg.cert || cfg.key))
    warn("Warning: cacert, cert and key are ignored with an http url");
  if (!!cfg.cert !== !!cfg.key) throw new UsageError("cert and key must be given together");
  return cfg;
}
