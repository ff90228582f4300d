// From a model file to a service folder: checks the input and the output folder, generates
// every file of the skeleton and writes them.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { controlSkeleton } from "./control.ts";
import { datapathSkeleton } from "./datapath.ts";
import { analyseModel, CodegenError, type ServiceModel } from "./model.ts";
import { testSkeleton } from "./testfile.ts";
import { printTree } from "./tree.ts";

export interface GeneratedFile {
  name: string;
  text: string;
}

/** Every file of a service skeleton; `lib` is the import path of the project's src/lib from the service folder. */
export function generateFiles(m: ServiceModel, lib: string): GeneratedFile[] {
  return [
    { name: `${m.name}.yang`, text: m.text },
    { name: `${m.name}.tree`, text: printTree(m.schema) },
    { name: `${m.name}.bpf.c`, text: datapathSkeleton(m) },
    { name: "index.ts", text: controlSkeleton(m, lib) },
    { name: `${m.name}.test.ts`, text: testSkeleton(m, lib) },
  ];
}

/**
 * The import path of src/lib from `outDir`: found by looking for a polycube source tree
 * (src/lib/sdk/types.ts) in `outDir` or above it; without one, the path that works once the
 * folder is moved to src/services/<name>/.
 */
export function libImportPath(outDir: string, libDir?: string): { path: string; found: boolean } {
  const from = resolve(outDir);
  let lib = libDir ? resolve(libDir) : undefined;
  if (!lib) {
    for (let d = from; ; d = dirname(d)) {
      if (existsSync(join(d, "src", "lib", "sdk", "types.ts"))) {
        lib = join(d, "src", "lib");
        break;
      }
      if (dirname(d) === d) break;
    }
  }
  if (!lib) return { path: "../../lib", found: false };
  let rel = relative(from, lib).split(sep).join("/");
  if (!rel.startsWith(".")) rel = `./${rel}`;
  return { path: rel, found: true };
}

export interface WriteOptions {
  /** The model file. */
  input: string;
  outDir: string;
  /** Write into a folder that already holds files (ours are overwritten, others kept). */
  force?: boolean;
  /** The project's src/lib, when it cannot be found above outDir. */
  libDir?: string;
}

export interface WriteResult {
  model: ServiceModel;
  outDir: string;
  files: string[];
  /** The imports of src/lib were guessed (no polycube tree above outDir). */
  libGuessed: boolean;
  lib: string;
}

export function writeSkeleton(o: WriteOptions): WriteResult {
  let text: string;
  try {
    text = readFileSync(o.input, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
    throw new CodegenError(`cannot read the model ${o.input}: ${why}`);
  }
  const model = analyseModel(text, o.input);
  if (existsSync(o.outDir)) {
    if (!statSync(o.outDir).isDirectory()) throw new CodegenError(`output ${o.outDir} exists and is not a directory`);
    if (readdirSync(o.outDir).length && !o.force) throw new CodegenError(`output directory ${o.outDir} is not empty (--force writes into it, replacing the generated files)`);
  }
  if (o.libDir && !existsSync(join(o.libDir, "sdk", "types.ts"))) throw new CodegenError(`--lib ${o.libDir}: no sdk/types.ts there`);
  const lib = libImportPath(o.outDir, o.libDir);
  const files = generateFiles(model, lib.path);
  mkdirSync(o.outDir, { recursive: true });
  for (const f of files) writeFileSync(join(o.outDir, f.name), f.text);
  return { model, outDir: o.outDir, files: files.map((f) => join(o.outDir, f.name)), libGuessed: !lib.found, lib: lib.path };
}
