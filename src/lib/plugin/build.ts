// `polycube service build DIR -o FILE`: a plug-in package (package.ts) from a service folder in
// the codegen's layout (NAME.yang, NAME.bpf.c, index.ts): the model checked by the YANG engine,
// the control plane bundled by Bun with the daemon's modules left to the daemon (host.ts), and
// every *.bpf.c compiled by clang for TC and for XDP against bpf/polycube.h, which is embedded
// in the executable so that an installed polycube builds plug-ins without the source tree.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import polycubeH from "../../../bpf/polycube.h" with { type: "text" };
import { analyseModel, CodegenError } from "../codegen/model.ts";
import { SDK_VERSION } from "../sdk/version.ts";
import { ext } from "../yang/index.ts";
import { VERSION } from "../../version.ts";
import { hostModuleOf, hostStub, HOST_MODULES } from "./host.ts";
import { FLAVOURS, FORMAT, packBytes, type Manifest } from "./package.ts";

export class BuildError extends Error {}

/** src/lib folders whose modules a plug-in must not carry a copy of. */
const DAEMON_ONLY = /\/lib\/(sdk|yang|bpf|cube|rest|remote|slowpath|codegen|plugin)\//;

export interface BuildOptions {
  dir: string;
  out: string;
  /** The C compiler (default $CLANG or clang-19). */
  clang?: string;
}

export interface BuildResult {
  file: string;
  manifest: Manifest;
}

function findModel(dir: string): string {
  const models = readdirSync(dir).filter((f) => f.endsWith(".yang"));
  if (models.length === 0) throw new BuildError(`${dir} has no .yang model`);
  if (models.length > 1) throw new BuildError(`${dir} has more than one model (${models.join(", ")}): a service folder holds one`);
  return join(dir, models[0]!);
}

async function bundle(entry: string): Promise<string> {
  const r = await Bun.build({
    entrypoints: [entry],
    target: "bun",
    format: "esm",
    throw: false,
    plugins: [
      {
        name: "polycube-host",
        setup(build) {
          build.onResolve({ filter: /lib\// }, (args) => {
            if (!args.path.startsWith(".") && !isAbsolute(args.path)) return undefined;
            const abs = isAbsolute(args.path) ? args.path : resolve(dirname(args.importer), args.path);
            const key = hostModuleOf(abs);
            if (key) return { path: key, namespace: "polycube-host" };
            if (DAEMON_ONLY.test(abs.replace(/\\/g, "/")))
              throw new BuildError(`${args.importer} imports ${args.path}: a plug-in may use only these modules of src/lib: ${Object.keys(HOST_MODULES).join(", ")}`);
            return undefined;
          });
          build.onLoad({ filter: /.*/, namespace: "polycube-host" }, (args) => ({ contents: hostStub(args.path), loader: "js" }));
        },
      },
    ],
  }).catch((e: unknown) => {
    throw e instanceof BuildError ? e : new BuildError(`bundling ${entry}: ${(e as Error).message ?? e}`);
  });
  if (!r.success) throw new BuildError(`bundling ${entry}:\n${r.logs.map((l) => `  ${l.message ?? String(l)}`).join("\n")}`);
  if (r.outputs.length !== 1) throw new BuildError(`bundling ${entry} gave ${r.outputs.length} files, expected one`);
  return r.outputs[0]!.text();
}

async function compile(clang: string, src: string, flavour: string, includes: string[]): Promise<Uint8Array> {
  const out = join(dirname(includes[0]!), `${basename(src, ".bpf.c")}.${flavour}.o`);
  const argv = [clang, "-O2", "-g", "-target", "bpf", `-D${flavour === "xdp" ? "PCN_XDP" : "PCN_TC"}`, "-Wall", "-Werror", "-Wno-unused-function",
    ...includes.flatMap((i) => ["-I", i]), "-c", src, "-o", out];
  let p;
  try {
    p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw new BuildError(`cannot run ${clang} (set CLANG to the clang that targets BPF): ${(e as Error).message}`);
  }
  if (p.exitCode !== 0) throw new BuildError(`${clang} failed on ${src} (${flavour}):\n${p.stderr.toString().trimEnd()}`);
  return new Uint8Array(readFileSync(out));
}

export async function buildPlugin(opts: BuildOptions): Promise<BuildResult> {
  const dir = resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BuildError(`${opts.dir} is not a folder`);
  const modelFile = findModel(dir);
  const text = readFileSync(modelFile, "utf8");
  let model;
  try {
    model = analyseModel(text, basename(modelFile));
  } catch (e) {
    if (e instanceof CodegenError) throw new BuildError(e.message);
    throw e;
  }
  const entry = join(dir, "index.ts");
  if (!existsSync(entry)) throw new BuildError(`${dir} has no index.ts (the control plane)`);
  const code = await bundle(entry);

  const clang = opts.clang ?? process.env.CLANG ?? "clang-19";
  const work = mkdtempSync(join(tmpdir(), "pcn-build-"));
  const objects = new Map<string, Uint8Array>();
  const names: string[] = [];
  try {
    const inc = join(work, "include");
    mkdirSync(inc);
    writeFileSync(join(inc, "polycube.h"), polycubeH);
    const includes = [inc, dir, `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`];
    for (const src of readdirSync(dir).filter((f) => f.endsWith(".bpf.c")).sort()) {
      const name = basename(src, ".bpf.c");
      names.push(name);
      for (const f of FLAVOURS) objects.set(`${name}.${f}`, await compile(clang, join(dir, src), f, includes));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const manifest: Manifest = {
    format: FORMAT,
    name: model.name,
    version: ext(model.schema, "service-version") ?? model.schema.revision ?? "",
    kind: model.kind,
    sdk: SDK_VERSION,
    objects: names,
    sha256: {},
    builder: `polycube ${VERSION}`,
    built: new Date().toISOString(),
  };
  const bytes = await packBytes({ manifest, model: text, code, objects });
  const file = resolve(opts.out);
  writeFileSync(file, bytes);
  return { file, manifest };
}

const USAGE = `Usage: polycube service build DIR -o FILE

Builds a plug-in package from a service folder in the layout of \`polycube codegen\`
(NAME.yang, NAME.bpf.c, index.ts): checks the model, bundles the control plane, compiles
every *.bpf.c for TC and XDP (clang-19, or $CLANG). Load it with
  polycubectl services add name=NAME type=lib uri=FILE
See docs/sdk.md.`;

/** `polycube service build DIR -o FILE`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  let dir: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-o" || a === "--output") out = args[++i];
    else if (a.startsWith("--output=")) out = a.slice("--output=".length);
    else if (!a.startsWith("-") && dir === undefined) dir = a;
    else {
      console.error(`polycube service build: unexpected argument ${a}\n\n${USAGE}`);
      return 2;
    }
  }
  if (!dir || !out) {
    console.error(`polycube service build: ${!dir ? "DIR" : "-o FILE"} is required\n\n${USAGE}`);
    return 2;
  }
  try {
    const r = await buildPlugin({ dir, out });
    const m = r.manifest;
    console.log(`polycube service build: ${m.name} ${m.version} (${m.kind}, SDK ${m.sdk}, objects: ${m.objects.join(", ") || "none"}) written to ${r.file}`);
    console.log(`load it with: polycubectl services add name=${m.name} type=lib uri=${r.file}`);
    return 0;
  } catch (e) {
    console.error(`polycube service build: ${e instanceof BuildError ? e.message : ((e as Error).stack ?? e)}`);
    return 1;
  }
}
