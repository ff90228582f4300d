// `polycube codegen -i MODEL.yang -o OUTDIR [--force] [--lib DIR]`: a service skeleton from its
// YANG model, the counterpart of the original's polycube-codegen.
import { CodegenError } from "./model.ts";
import { camel } from "./names.ts";
import { writeSkeleton } from "./writer.ts";

const USAGE = `Usage: polycube codegen -i MODEL.yang -o OUTDIR [--force] [--lib DIR]

Writes a service skeleton generated from a YANG service model into OUTDIR:
  NAME.yang      the model, copied
  NAME.tree      its tree diagram
  NAME.bpf.c     the datapath (standard or transparent, from the base grouping the model uses)
  index.ts       the control plane: a ServiceModule with one handler per top-level node and action
  NAME.test.ts   tests: the model loads and its tree matches

  -i, --input FILE    the model; it must use polycube-standard-base:standard-base-yang-module
                      or polycube-transparent-base:transparent-base-yang-module
  -o, --output DIR    the service folder, normally src/services/NAME
  -f, --force         write into a folder that is not empty (the generated files are replaced)
      --lib DIR       the project's src/lib, when OUTDIR is not inside the source tree
  -h, --help          this text

See docs/sdk.md.`;

interface Parsed {
  input?: string;
  output?: string;
  force: boolean;
  lib?: string;
  help: boolean;
}

function parse(args: string[]): Parsed {
  const p: Parsed = { force: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined || v === "") throw new CodegenError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-i":
      case "--input":
        p.input = value();
        break;
      case "-o":
      case "--output":
        p.output = value();
        break;
      case "--lib":
        p.lib = value();
        break;
      case "-f":
      case "--force":
        p.force = true;
        break;
      case "-h":
      case "--help":
        p.help = true;
        break;
      default:
        throw new CodegenError(a.startsWith("-") ? `unknown option ${a}` : `unexpected argument ${a}`);
    }
  }
  return p;
}

/** Runs the generator; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(args);
  } catch (e) {
    console.error(`polycube codegen: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (p.help) {
    console.log(USAGE);
    return 0;
  }
  if (!p.input || !p.output) {
    console.error(`polycube codegen: ${!p.input ? "-i MODEL.yang" : "-o OUTDIR"} is required\n\n${USAGE}`);
    return 2;
  }
  try {
    const r = writeSkeleton({ input: p.input, outDir: p.output, force: p.force, libDir: p.lib });
    const m = r.model;
    const out = [`polycube codegen: ${m.name}, a ${m.kind} service, written to ${r.outDir}:`, ...r.files.map((f) => `  ${f}`)];
    if (r.libGuessed)
      out.push(`note: no polycube source tree above ${r.outDir}; index.ts imports ${r.lib}/..., right once the folder is src/services/${m.name} (or pass --lib); a plug-in built with \`polycube service build\` gets them from the daemon wherever they point.`);
    out.push(
      "Next:",
      `  1. in src/services/index.ts: import ${camel(m.name, "Service")} from "./${m.name}/index.ts"; and add it to builtinServices`,
      "  2. fill in the TODOs of the datapath and of index.ts",
      `  3. make build; polycubectl ${m.name} add c1`,
      `Or keep it out of the daemon's tree, as a plug-in (docs/sdk.md):`,
      `  polycube service build ${r.outDir} -o ${m.name}.pcn`,
      `  polycubectl services add name=${m.name} type=lib uri=$PWD/${m.name}.pcn`,
    );
    console.log(out.join("\n"));
    return 0;
  } catch (e) {
    if (e instanceof CodegenError) {
      console.error(`polycube codegen: ${e.message}`);
      return 1;
    }
    console.error(`polycube codegen: ${(e as Error).stack ?? e}`);
    return 1;
  }
}
