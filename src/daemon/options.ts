// polycubed's options: command line and configuration file, with the original's names,
// defaults, precedence and consistency checks.
//
// Precedence: defaults < configuration file < command line. The file has one
// `parameter: value` per line with long option names; `#` starts a comment.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseLogLevel } from "../lib/log.ts";
import type { LogLevel } from "../lib/sdk/types.ts";

export interface DaemonOptions {
  port: number;
  addr: string;
  loglevel: LogLevel;
  cert?: string;
  key?: string;
  cacert?: string;
  certBlacklist?: string;
  certWhitelist?: string;
  /** TLS towards remote services (gRPC): the CA that signs their certificates... */
  remoteCacert?: string;
  /** ...and the certificate and key polycubed presents to them. */
  remoteCert?: string;
  remoteKey?: string;
  /** Seconds polycubed waits for a remote service's answer before it takes the service as gone. */
  remoteTimeout: number;
  /** Detach from the terminal (the original's --daemon). */
  daemon: boolean;
  logfile: string;
  pidfile: string;
  configfile: string;
  cubesDumpFile: string;
  cubesDumpCleanInit: boolean;
  cubesDumpEnable: boolean;
}

export const DEFAULT_CONFIG_FILE = "/etc/polycube/polycubed.conf";

export function defaultOptions(): DaemonOptions {
  return {
    port: 9000,
    addr: "localhost",
    loglevel: "INFO",
    remoteTimeout: 5,
    daemon: false,
    logfile: "/var/log/polycube/polycubed.log",
    pidfile: "/var/run/polycube.pid",
    configfile: DEFAULT_CONFIG_FILE,
    cubesDumpFile: "/etc/polycube/cubes.yaml",
    cubesDumpCleanInit: false,
    cubesDumpEnable: false,
  };
}

export class OptionsError extends Error {}

type Kind = "value" | "flag";
interface OptionSpec {
  long: string;
  short?: string;
  kind: Kind;
  /** Other accepted long names (the docs' spellings). */
  aliases?: string[];
  help: string;
  /** The value shown, commented out, in the default configuration file: the default, else an example. */
  sample: (d: DaemonOptions) => string;
  apply(o: DaemonOptions, value: string): void;
}

function parseBool(name: string, v: string): boolean {
  if (v === "" || v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new OptionsError(`option --${name}: '${v}' is not a boolean (true|false)`);
}

const SPECS: OptionSpec[] = [
  { long: "port", short: "p", kind: "value", help: "rest server port (default 9000)", sample: (d) => String(d.port), apply(o, v) {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new OptionsError(`option --port: '${v}' is not a port number (1-65535)`);
      o.port = n;
    } },
  { long: "addr", short: "a", kind: "value", help: "listen address (default localhost)", sample: (d) => d.addr, apply(o, v) { o.addr = v; } },
  { long: "loglevel", short: "l", kind: "value", help: "trace|debug|info|warn|err|critical|off (default info)", sample: (d) => d.loglevel.toLowerCase(), apply(o, v) {
      const l = parseLogLevel(v);
      if (!l) throw new OptionsError(`option --loglevel: '${v}' is not one of trace|debug|info|warn|err|critical|off`);
      o.loglevel = l;
    } },
  { long: "cert", short: "c", kind: "value", help: "path to server TLS certificate", sample: () => "/etc/polycube/server.pem", apply(o, v) { o.cert = v; } },
  { long: "key", short: "k", kind: "value", help: "path to server TLS private key", sample: () => "/etc/polycube/server.key", apply(o, v) { o.key = v; } },
  { long: "cacert", kind: "value", help: "CA certificate used to validate clients", sample: () => "/etc/polycube/clients-ca.pem", apply(o, v) { o.cacert = v; } },
  { long: "cert-blacklist", aliases: ["cert-black-list"], kind: "value", help: "directory of black-listed client certificates", sample: () => "/etc/polycube/blacklist.d", apply(o, v) { o.certBlacklist = v; } },
  { long: "cert-whitelist", aliases: ["cert-white-list"], kind: "value", help: "directory of white-listed client certificates", sample: () => "/etc/polycube/whitelist.d", apply(o, v) { o.certWhitelist = v; } },
  { long: "remote-cacert", kind: "value", help: "CA certificate of remote services (gRPC over TLS)", sample: () => "/etc/polycube/remote-ca.pem", apply(o, v) { o.remoteCacert = v; } },
  { long: "remote-cert", kind: "value", help: "client certificate presented to remote services", sample: () => "/etc/polycube/remote-client.pem", apply(o, v) { o.remoteCert = v; } },
  { long: "remote-key", kind: "value", help: "private key of --remote-cert", sample: () => "/etc/polycube/remote-client.key", apply(o, v) { o.remoteKey = v; } },
  { long: "remote-timeout", kind: "value", help: "seconds to wait for a remote service's answer (default 5)", sample: (d) => String(d.remoteTimeout), apply(o, v) {
      const n = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v) || n <= 0 || n > 3600) throw new OptionsError(`option --remote-timeout: '${v}' is not a number of seconds (above 0, at most 3600)`);
      o.remoteTimeout = n;
    } },
  { long: "daemon", short: "d", kind: "flag", help: "run as daemon (default false)", sample: (d) => String(d.daemon), apply(o, v) { o.daemon = parseBool("daemon", v); } },
  { long: "logfile", kind: "value", help: "log file (default /var/log/polycube/polycubed.log)", sample: (d) => d.logfile, apply(o, v) { o.logfile = v; } },
  { long: "pidfile", kind: "value", help: "pid file (default /var/run/polycube.pid)", sample: (d) => d.pidfile, apply(o, v) { o.pidfile = v; } },
  { long: "configfile", aliases: ["config-file"], kind: "value", help: `configuration file (default ${DEFAULT_CONFIG_FILE})`, sample: (d) => d.configfile, apply(o, v) { o.configfile = v; } },
  { long: "cubes-dump-file", kind: "value", help: "file that keeps the topology (default /etc/polycube/cubes.yaml)", sample: (d) => d.cubesDumpFile, apply(o, v) { o.cubesDumpFile = v; } },
  { long: "cubes-dump-clean-init", kind: "flag", help: "start with an empty topology, overwriting the dump file", sample: (d) => String(d.cubesDumpCleanInit), apply(o, v) { o.cubesDumpCleanInit = parseBool("cubes-dump-clean-init", v); } },
  { long: "cubes-dump-enable", kind: "flag", help: "keep the topology across restarts, and the datapath forwarding while the daemon restarts", sample: (d) => String(d.cubesDumpEnable), apply(o, v) { o.cubesDumpEnable = parseBool("cubes-dump-enable", v); } },
];

export function usage(): string {
  const lines = ["Usage: polycubed [options]", ""];
  for (const s of SPECS) {
    const names = (s.short ? `-${s.short}, ` : "    ") + `--${s.long}` + (s.kind === "value" ? " VALUE" : "");
    lines.push(`  ${names.padEnd(34)}${s.help}`);
  }
  lines.push(`  ${"-v, --version".padEnd(34)}print the version and exit`);
  lines.push(`  ${"-h, --help".padEnd(34)}print this help and exit`);
  return lines.join("\n");
}

interface Setting {
  spec: OptionSpec;
  value: string;
}

function findSpec(name: string): OptionSpec | undefined {
  return SPECS.find((s) => s.long === name || s.short === name || s.aliases?.includes(name));
}

/** Splits argv into settings; --help and --version are reported separately. */
function scanArgs(args: string[]): { settings: Setting[]; help: boolean; version: boolean } {
  const settings: Setting[] = [];
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") { help = true; continue; }
    if (arg === "-v" || arg === "--version") { version = true; continue; }
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg) ?? /^-([a-z])$/.exec(arg);
    if (!m) throw new OptionsError(`unexpected argument '${arg}' (see --help)`);
    const spec = findSpec(m[1]!);
    if (!spec) throw new OptionsError(`unknown option '${arg}' (see --help)`);
    let value = m[2];
    if (value === undefined) {
      if (spec.kind === "flag") value = "";
      else {
        value = args[++i];
        if (value === undefined) throw new OptionsError(`option --${spec.long} needs a value`);
      }
    }
    settings.push({ spec, value });
  }
  return { settings, help, version };
}

export function parseConfigFile(text: string, file: string): Setting[] {
  const settings: Setting[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").replace(/\s+/g, "");
    if (line === "") return;
    const m = /^([^:]+):(.+)$/.exec(line);
    if (!m) throw new OptionsError(`${file}:${i + 1}: expected 'parameter: value', got '${raw.trim()}'`);
    const spec = findSpec(m[1]!);
    if (!spec || spec.short === m[1]) throw new OptionsError(`${file}:${i + 1}: unknown parameter '${m[1]}'`);
    settings.push({ spec, value: m[2]! });
  });
  return settings;
}

/**
 * The configuration file with every option documented and commented out at its default (or an
 * example): written when the default file is missing, and installed as /etc/polycube/polycubed.conf
 * (build/polycubed-conf.ts). Generated from SPECS, so it names every option there is.
 */
export function defaultConfigText(): string {
  const d = defaultOptions();
  const lines = [
    "# polycubed configuration file.",
    "# One 'parameter: value' per line, with the long option names of `polycubed --help`;",
    "# '#' starts a comment. Precedence: defaults < this file < the command line.",
    "# Flags take true or false. The systemd unit (polycubed.service) adds --cubes-dump-enable.",
  ];
  for (const s of SPECS) {
    const only = s.long === "configfile" ? "command line only: " : "";
    lines.push("", `# ${only}${s.help}${s.short ? ` (-${s.short})` : ""}${s.aliases?.length ? `; also spelt ${s.aliases.join(", ")}` : ""}`);
    lines.push(`#${s.long}: ${s.sample(d)}`);
  }
  lines.push("");
  return lines.join("\n");
}

/** Every option's long name, for the tests and the generated file's checks. */
export function optionNames(): string[] {
  return SPECS.map((s) => s.long);
}

function check(o: DaemonOptions): void {
  const need = (cond: boolean, msg: string) => {
    if (!cond) throw new OptionsError(msg);
  };
  need(!o.cert || !!o.key, "--cert requires --key");
  need(!o.key || !!o.cert, "--key requires --cert");
  need(!o.cert || !!o.cacert || !!o.certWhitelist, "--cert requires --cacert or --cert-whitelist");
  need(!o.cacert || !!o.cert, "--cacert requires --cert");
  need(!(o.cacert && o.certWhitelist), "--cacert and --cert-whitelist are mutually exclusive");
  need(!(o.certWhitelist && o.certBlacklist), "--cert-whitelist and --cert-blacklist are mutually exclusive");
  need(!o.certBlacklist || !!o.cacert, "--cert-blacklist requires --cacert");
  need(!o.remoteCert === !o.remoteKey, "--remote-cert and --remote-key go together");
  need(!o.remoteCert || !!o.remoteCacert, "--remote-cert requires --remote-cacert");
  need(o.cubesDumpEnable || !o.cubesDumpCleanInit, "--cubes-dump-clean-init requires --cubes-dump-enable");
}

export interface ParsedOptions {
  options: DaemonOptions;
  help: boolean;
  version: boolean;
  /** Options given both in the file and on the command line (the command line wins). */
  overridden: string[];
}

export function parseOptions(args: string[]): ParsedOptions {
  const { settings: cli, help, version } = scanArgs(args);
  const options = defaultOptions();
  if (help || version) return { options, help, version, overridden: [] };

  const customFile = cli.find((s) => s.spec.long === "configfile");
  const file = customFile?.value ?? DEFAULT_CONFIG_FILE;
  let fromFile: Setting[] = [];
  if (existsSync(file)) {
    fromFile = parseConfigFile(readFileSync(file, "utf8"), file);
  } else if (customFile) {
    throw new OptionsError(`configuration file ${file} does not exist`);
  } else {
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, defaultConfigText());
    } catch {
      /* a read-only /etc is no reason not to start */
    }
  }
  const fromCliNames = new Set(cli.map((s) => s.spec.long));
  const overridden = [...new Set(fromFile.filter((s) => fromCliNames.has(s.spec.long)).map((s) => s.spec.long))];
  for (const s of [...fromFile, ...cli]) s.spec.apply(options, s.value);
  options.configfile = file;
  if (fromCliNames.has("cubes-dump-file") && !options.cubesDumpEnable) {
    throw new OptionsError("--cubes-dump-file requires --cubes-dump-enable");
  }
  check(options);
  return { options, help, version, overridden };
}
