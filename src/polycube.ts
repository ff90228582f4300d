// The one executable: daemon when called as polycubed or with --daemon, a remote service host
// as `polycube service NAME ...`, the service code generator as `polycube codegen ...`, the CLI
// otherwise. Each mode is imported lazily so that a CLI call does not pay for the daemon's modules.
import { basename } from "node:path";

const invokedAs = basename(process.argv[1] ?? process.argv0 ?? "");
const args = process.argv.slice(2);
const daemonFlag = args.findIndex((a) => a === "--daemon" || a === "-d" || a.startsWith("--daemon="));

const calledAsDaemon = invokedAs === "polycubed" || basename(process.argv0) === "polycubed";
const calledAsCli = invokedAs === "polycubectl" || basename(process.argv0) === "polycubectl";

if (calledAsDaemon || (!calledAsCli && daemonFlag >= 0)) {
  // As `polycube --daemon`, the flag only selects the mode; as `polycubed --daemon` it keeps
  // the original's meaning (detach from the terminal).
  if (!calledAsDaemon) args.splice(daemonFlag, 1);
  const { main } = await import("./polycubed.ts");
  await main(args);
} else if (!calledAsCli && args[0] === "service") {
  const { main } = await import("./polycube-service.ts");
  const code = await main(args.slice(1));
  if (code !== 0) process.exit(code);
} else if (!calledAsCli && args[0] === "codegen") {
  const { main } = await import("./lib/codegen/cli.ts");
  process.exitCode = await main(args.slice(1));
} else {
  const { main } = await import("./polycubectl.ts");
  process.exitCode = await main(args);
}
