// Persistence of the topology across daemon restarts (--cubes-dump-enable), as the original:
// after every successful configuration call the whole set of cubes is written to the dump
// file as a pretty-printed JSON array (valid YAML) of cube configurations, each with its
// "service-name". At start-up the file is replayed: cubes first, then peers, then
// transparent-cube attachments in their stack order.
//
// Difference from the original: transparent cubes attached to netdevs are kept too (as a
// "parent" member of the transparent cube), where the original lost them. Plug-ins loaded with
// `services add type=lib` are kept as entries without a cube name, before the cubes:
// {"service-name": NAME, "service-type": "lib", "service-uri": FILE}; they are loaded again
// from their file first, so that their cubes can be restored.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { DaemonCore } from "../lib/rest/core-api.ts";
import type { Json, JsonObject } from "../lib/sdk/types.ts";
import type { Logger } from "../lib/sdk/types.ts";

const MUTATORS = new Set(["createCube", "updateCube", "deleteCube", "connect", "disconnect", "attach", "detach", "addService", "deleteService"]);

/** The whole topology as the dump file holds it. */
export function snapshot(core: DaemonCore): JsonObject[] {
  const cubes: JsonObject[] = [];
  for (const s of core.services()) if (s.plugin) cubes.push({ "service-name": s.name, "service-type": "lib", "service-uri": s.uri });
  for (const name of core.cubeNames()) {
    const config = core.cubeConfig(name);
    const service = core.cubeService(name);
    if (!config || !service) continue;
    const entry: JsonObject = { ...structuredClone(config), "service-name": service };
    const parent = core.cubeSummary(name)?.parent;
    if (parent && !parent.includes(":")) entry.parent = parent;
    cubes.push(entry);
  }
  return cubes;
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Wraps a core so that every successful mutation schedules a rewrite of the dump file.
 * Writes are coalesced: a burst of calls produces one write. The file is written only while no
 * mutation is under way: a REST write edits large lists in place before the core accepts it
 * (service-api.ts), and a refused one is undone, so only a quiet moment shows what was accepted.
 */
export function persistent(core: DaemonCore, file: string, log: Logger): DaemonCore & { flush(): void } {
  let pending = false;
  let underWay = 0;
  const flush = () => {
    pending = false;
    try {
      writeAtomically(file, JSON.stringify(snapshot(core), null, 2) + "\n");
    } catch (e) {
      log.error(`cannot write the cubes dump ${file}: ${(e as Error).message}`);
    }
  };
  const schedule = () => {
    if (pending) return;
    pending = true;
    const whenQuiet = () => {
      if (!pending) return;
      if (underWay) setTimeout(whenQuiet, 50);
      else flush();
    };
    setTimeout(whenQuiet, 50);
  };
  return new Proxy(core, {
    get(target, prop, receiver) {
      if (prop === "flush") return flush;
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (!MUTATORS.has(String(prop))) return value.bind(target);
      return async (...args: unknown[]) => {
        underWay++;
        try {
          const result = await value.apply(target, args);
          schedule();
          return result;
        } finally {
          underWay--;
        }
      };
    },
  }) as DaemonCore & { flush(): void };
}

function stripPorts(cube: JsonObject): { bare: JsonObject; peers: Array<[string, string]>; tcubes: Array<[string, string[]]> } {
  const bare = structuredClone(cube);
  const peers: Array<[string, string]> = [];
  const tcubes: Array<[string, string[]]> = [];
  const ports = bare.ports;
  if (Array.isArray(ports)) {
    for (const p of ports as JsonObject[]) {
      const name = String(p.name);
      if (typeof p.peer === "string" && p.peer !== "") peers.push([name, p.peer]);
      if (Array.isArray(p.tcubes) && p.tcubes.length > 0) tcubes.push([name, p.tcubes.map(String)]);
      delete p.peer;
      delete p.tcubes;
    }
  }
  delete bare.parent;
  return { bare, peers, tcubes };
}

/** Replays a dump file into the core. Errors are logged per cube; one bad cube does not stop the rest. */
export async function restore(core: DaemonCore, file: string, log: Logger): Promise<number> {
  if (!existsSync(file)) return 0;
  let cubes: Json;
  try {
    const text = readFileSync(file, "utf8").trim();
    cubes = text === "" ? [] : JSON.parse(text);
  } catch (e) {
    log.error(`cubes dump ${file} is not valid JSON: ${(e as Error).message}`);
    return 0;
  }
  if (!Array.isArray(cubes)) return 0; // "{}" is what --cubes-dump-clean-init writes
  const later: Array<() => Promise<void>> = [];
  let created = 0;
  for (const raw of cubes) {
    if (!raw || typeof raw !== "object" || Array.isArray(raw) || raw.name !== undefined || raw["service-type"] !== "lib") continue;
    const service = String(raw["service-name"] ?? "");
    const uri = String(raw["service-uri"] ?? "");
    try {
      await core.addService({ name: service, type: "lib", uri });
      log.info(`plug-in ${service} restored from ${uri}`);
    } catch (e) {
      log.error(`cannot restore plug-in ${service} from ${uri}: ${(e as Error).message}`);
    }
  }
  for (const raw of cubes) {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) continue;
    if (raw.name === undefined && raw["service-type"] === "lib") continue;
    const cube = raw as JsonObject;
    const service = String(cube["service-name"] ?? "");
    const name = String(cube.name ?? "");
    const { bare, peers, tcubes } = stripPorts(cube);
    try {
      await core.createCube(service, bare);
      created++;
    } catch (e) {
      log.error(`cannot restore cube ${name} (${service}): ${(e as Error).message}`);
      continue;
    }
    for (const [port, peer] of peers) {
      later.push(async () => {
        const next = structuredClone(core.cubeConfig(name)!);
        const p = (next.ports as JsonObject[]).find((x) => x.name === port);
        if (p) p.peer = peer;
        await core.updateCube(name, next);
      });
    }
    for (const [port, list] of tcubes) {
      for (const t of list) later.push(() => core.attach({ cube: t, port: `${name}:${port}`, position: "last" }));
    }
    if (typeof cube.parent === "string" && cube.parent !== "") {
      const parent = cube.parent;
      later.push(() => core.attach({ cube: name, port: parent, position: "last" }));
    }
  }
  for (const step of later) {
    try {
      await step();
    } catch (e) {
      log.error(`cannot restore a link of the topology: ${(e as Error).message}`);
    }
  }
  return created;
}

export function cleanInit(file: string): void {
  writeAtomically(file, "{}\n");
}
