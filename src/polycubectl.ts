// polycubectl: the service-agnostic CLI (reference §5). It learns commands, help and completion
// from the daemon, so a new service needs no change here. Imports stay few and light (no daemon
// module, yaml only when a YAML text is met) to keep startup fast.
import { appendFileSync, mkdirSync } from "node:fs";
import { completeWords, completionScript } from "./cli/completion.ts";
import { loadConfig } from "./cli/config.ts";
import { EXIT_USAGE, runCommand, type Io } from "./cli/run.ts";

const LOG_FILE = "/var/log/polycube/polycubectl.log";

const USAGE = `Usage: polycubectl [path...] [add|del|set|show] [path...] [key=value...] [flags] [?]
  flags (with show): -normal | -brief | -verbose | -json | -yaml, -hide=field,sub.field
  ?                  help for the command typed so far (must be last)
  polycubectl completion bash|zsh   print a shell completion script
  polycube --daemon [polycubed options]   run the daemon
`;

/** Appends the invocation to the log; the CLI works the same when the log cannot be written. */
function logInvocation(args: string[]): void {
  try {
    mkdirSync("/var/log/polycube", { recursive: true });
    appendFileSync(LOG_FILE, `${new Date().toISOString()} polycubectl ${args.map((a) => (/[\s'"]/.test(a) || a === "" ? JSON.stringify(a) : a)).join(" ")}\n`);
  } catch {
    /* not fatal, unlike the original */
  }
}

const stdio: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

export async function main(args: string[], io: Io = stdio): Promise<number> {
  if (args.length === 1 && (args[0] === "-h" || args[0] === "--help")) {
    io.out(USAGE);
    return 0;
  }
  if (args[0] === "completion") {
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
    const words = await completeWords(args.length > 1 ? args.slice(1) : [""], cfg);
    if (words.length) io.out(`${words.join("\n")}\n`);
    return 0;
  }
  logInvocation(args);
  return runCommand(args, cfg, io);
}
