// polycubectl: the service-agnostic CLI (reference §5). It learns commands, help and completion
// from the daemon, so a new service needs no change here.
//
// Startup time matters (scripts call it hundreds of times): only the modules every call needs
// are imported here; completion, stdin, yaml and node:fs are loaded by the calls that need them,
// and output goes through Bun.write rather than process.stdout (see src/cli/io.ts).
import { loadConfig } from "./cli/config.ts";
import { flush, stdio, type Io } from "./cli/io.ts";
import { EXIT_USAGE, runCommand } from "./cli/run.ts";

const LOG_DIR = "/var/log/polycube";
const LOG_FILE = `${LOG_DIR}/polycubectl.log`;

const USAGE = `Usage: polycubectl [path...] [add|del|set|show] [path...] [key=value...] [flags] [?]
  flags (with show): -normal | -brief | -verbose | -json | -yaml, -hide=field,sub.field
  ?                  help for the command typed so far (must be last)
  polycubectl completion bash|zsh   print a shell completion script
  polycube --daemon [polycubed options]   run the daemon
Settings: ~/.config/polycube/polycubectl_config.yaml, POLYCUBECTL_URL, POLYCUBECTL_DEBUG,
  POLYCUBECTL_EXPERT, POLYCUBECTL_CACERT, POLYCUBECTL_CERT, POLYCUBECTL_KEY
`;

/** Appends the invocation to the log; the CLI works the same when the log cannot be written. */
async function logInvocation(args: string[]): Promise<void> {
  try {
    const { appendFileSync, mkdirSync } = await import("node:fs");
    mkdirSync(LOG_DIR, { recursive: true });
    appendFileSync(LOG_FILE, `${new Date().toISOString()} polycubectl ${args.map((a) => (/[\s'"]/.test(a) || a === "" ? JSON.stringify(a) : a)).join(" ")}\n`);
  } catch {
    /* not fatal, unlike the original */
  }
}

async function dispatch(args: string[], io: Io): Promise<number> {
  if (args.length === 1 && (args[0] === "-h" || args[0] === "--help")) {
    io.out(USAGE);
    return 0;
  }
  if (args[0] === "completion") {
    const { completionScript } = await import("./cli/completion.ts");
    const script = completionScript(args[1] ?? "");
    if (args.length !== 2 || !script) {
      io.err("Usage: polycubectl completion bash|zsh\n");
      return EXIT_USAGE;
    }
    io.out(script);
    return 0;
  }
  let cfg;
  try {
    cfg = await loadConfig();
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  if (args[0] === "--complete") {
    const { completeWords } = await import("./cli/completion.ts");
    const words = await completeWords(args.length > 1 ? args.slice(1) : [""], cfg);
    if (words.length) io.out(`${words.join("\n")}\n`);
    return 0;
  }
  await logInvocation(args);
  return runCommand(args, cfg, io);
}

/** Runs one command line; resolves with the exit status once all output is written. */
export async function main(args: string[], io: Io = stdio): Promise<number> {
  const code = await dispatch(args, io);
  await flush();
  return code;
}
