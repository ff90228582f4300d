// Loading a plug-in package into the daemon (`services add name=NAME type=lib uri=FILE`): every
// check runs before anything of the daemon changes, and a refusal is a ServiceError (400) that
// names the reason. What a loaded plug-in holds of the daemon (its registered eBPF objects) is
// given back by unloadPlugin(). Its code stays in Bun's module cache (ES modules cannot be
// unloaded); each load imports a fresh copy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { embeddedObjectNames, registerObject, unregisterObject, withLibbpfMessages } from "../bpf/index.ts";
import type { DatapathRuntime } from "../cube/runtime.ts";
import { ServiceError, type ServiceModule } from "../sdk/types.ts";
import { sdkMismatch } from "../sdk/version.ts";
import { loadModule } from "../yang/index.ts";
import { installHost } from "./host.ts";
import { FLAVOURS, PackageError, unpackBytes, type Manifest } from "./package.ts";

export interface LoadedPlugin {
  module: ServiceModule;
  manifest: Manifest;
  /** Registered object names ("<object>.<flavour>"). */
  objects: string[];
}

/** The verifier's (or libbpf's) words about a failed load: the lines that say why. */
export function loadFailure(messages: string[]): string {
  const lines = messages.flatMap((m) => m.split("\n")).map((l) => l.trim()).filter(Boolean);
  const end = lines.findIndex((l) => /^processed \d+ insns/.test(l) || /END PROG LOAD LOG/.test(l));
  const why = end > 0 ? lines.slice(Math.max(0, end - 2), end).filter((l) => !/BEGIN PROG LOAD LOG/.test(l)) : [];
  const failed = lines.find((l) => /load failed|failed to load/i.test(l));
  return [failed, ...why].filter(Boolean).join("; ");
}

function refuse(name: string, uri: string, why: string): ServiceError {
  return new ServiceError(`cannot load plug-in ${name} from ${uri}: ${why}`, 400);
}

/** Reads and checks a package file: its manifest, SDK version and model. */
async function readPackage(name: string | undefined, uri: string) {
  const who = name ?? uri;
  if (!isAbsolute(uri)) throw refuse(who, uri, "uri must be the absolute path of a package file on the daemon's host");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(uri));
  } catch (e) {
    throw refuse(who, uri, `cannot read it: ${(e as Error).message}`);
  }
  let pkg;
  try {
    pkg = await unpackBytes(bytes);
  } catch (e) {
    if (e instanceof PackageError) throw refuse(who, uri, e.message);
    throw e;
  }
  const m = pkg.manifest;
  if (name !== undefined && m.name !== name) throw refuse(name, uri, `the package holds the service ${m.name}, not ${name}`);
  const sdk = sdkMismatch(m.sdk);
  if (sdk) throw refuse(m.name, uri, `unsupported SDK version: ${sdk}`);
  try {
    const schema = loadModule(pkg.model);
    if (schema.module !== m.name) throw new Error(`it is the module ${schema.module}, not ${m.name}`);
  } catch (e) {
    throw refuse(m.name, uri, `invalid model: ${(e as Error).message}`);
  }
  return pkg;
}

/**
 * Registers a service's own eBPF objects ("<object>.<flavour>" -> bytes) so that its cubes'
 * loadDatapath finds them: every one must pass the verifier first, and none may take a name the
 * daemon has. Returns the registered names (for unregisterObjects).
 */
export function registerObjects(name: string, uri: string, objects: Map<string, Uint8Array>, runtime: DatapathRuntime): string[] {
  const known = new Set(embeddedObjectNames());
  for (const key of objects.keys()) {
    if (known.has(key)) throw refuse(name, uri, `its eBPF object ${key} has the name of one the daemon already has`);
    if (!FLAVOURS.includes(key.slice(key.lastIndexOf(".") + 1) as (typeof FLAVOURS)[number])) throw refuse(name, uri, `its eBPF object ${key} is not named <object>.tc or <object>.xdp`);
  }
  for (const [key, obj] of objects) {
    const flavour = key.slice(key.lastIndexOf(".") + 1) as (typeof FLAVOURS)[number];
    const r = withLibbpfMessages(() => runtime.loadBytes(obj, key.slice(0, key.lastIndexOf(".")), flavour, {}));
    if (r.error) throw refuse(name, uri, `its eBPF object ${key} does not load: ${(r.error as Error).message}${loadFailure(r.messages) ? ` (${loadFailure(r.messages)})` : ""}`);
    r.result!.close();
  }
  for (const [key, obj] of objects) registerObject(key, obj);
  return [...objects.keys()];
}

export function unregisterObjects(keys: string[]): void {
  for (const k of keys) unregisterObject(k);
}

/** Checks and loads the package at `uri` as the service `name`. */
export async function loadPlugin(name: string, uri: string, runtime: DatapathRuntime): Promise<LoadedPlugin> {
  const pkg = await readPackage(name, uri);
  const registered = registerObjects(name, uri, pkg.objects, runtime);
  try {
    const module = await packageModule(name, uri, pkg);
    return { module, manifest: pkg.manifest, objects: registered };
  } catch (e) {
    unregisterObjects(registered);
    throw e;
  }
}

/**
 * A package run as a remote service (`polycube service --package FILE`): its module, and its
 * eBPF objects, which the service hands the daemon at registration (the daemon checks them as
 * for a plug-in).
 */
export async function loadPackageForRemote(uri: string): Promise<{ module: ServiceModule; objects: Map<string, Uint8Array> }> {
  const pkg = await readPackage(undefined, uri);
  return { module: await packageModule(pkg.manifest.name, uri, pkg), objects: pkg.objects };
}

async function packageModule(name: string, uri: string, pkg: Awaited<ReturnType<typeof readPackage>>): Promise<ServiceModule> {
  const module = await importModule(name, uri, pkg.code);
  if (module.yang.trim() !== pkg.model.trim()) throw refuse(name, uri, "the model its code carries is not the package's model");
  if (module.kind !== pkg.manifest.kind) throw refuse(name, uri, `its code says ${module.kind}, its manifest ${pkg.manifest.kind}`);
  return module;
}

/** A module that has not finished evaluating by then (a top-level await that hangs) is refused. */
const IMPORT_TIMEOUT_MS = 10_000;

async function importModule(name: string, uri: string, code: string): Promise<ServiceModule> {
  installHost();
  const dir = mkdtempSync(join(tmpdir(), "pcn-plugin-"));
  const file = join(dir, `${name}.js`);
  let ns: Record<string, unknown>;
  try {
    writeFileSync(file, code);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`it did not finish within ${IMPORT_TIMEOUT_MS / 1000} s`)), IMPORT_TIMEOUT_MS);
    });
    try {
      ns = (await Promise.race([import(file), late])) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    throw refuse(name, uri, `its module threw while loading: ${(e as Error)?.message ?? String(e)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const module = ns.default as ServiceModule | undefined;
  const bad = (why: string) => refuse(name, uri, `its module's default export is not a ServiceModule: ${why}`);
  if (!module || typeof module !== "object") throw bad("there is none");
  if (module.name !== name) throw bad(`its name is ${JSON.stringify(module.name)}, not ${name}`);
  if (typeof module.yang !== "string") throw bad("it has no yang");
  if (typeof module.createCube !== "function") throw bad("it has no createCube()");
  if (module.kind !== "standard" && module.kind !== "transparent") throw bad(`kind ${JSON.stringify(module.kind)}`);
  return module;
}

/** Gives back what a plug-in registered; its cubes must be gone. */
export function unloadPlugin(p: LoadedPlugin): void {
  unregisterObjects(p.objects);
}
