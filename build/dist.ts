// Writes the files installed beside the executable, each generated from its source so that it
// cannot drift: the default configuration file (src/daemon/options.ts's option table), the bash
// and zsh completion scripts (src/cli/completion.ts) and the systemd unit (pkg/polycubed.service.in).
//   bun build/dist.ts OUTDIR BINDIR SYSCONFDIR
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultConfigText } from "../src/daemon/options.ts";
import { completionScript } from "../src/cli/completion.ts";

const [out = "build/out/dist", bindir = "/usr/local/bin", sysconfdir = "/etc"] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const unit = readFileSync(join(import.meta.dir, "../pkg/polycubed.service.in"), "utf8")
  .replaceAll("@BINDIR@", bindir)
  .replaceAll("@SYSCONFDIR@", sysconfdir);
writeFileSync(join(out, "polycubed.service"), unit);
writeFileSync(join(out, "polycubed.conf"), defaultConfigText());
writeFileSync(join(out, "polycubectl.bash"), completionScript("bash")!);
writeFileSync(join(out, "_polycubectl"), completionScript("zsh")!);
