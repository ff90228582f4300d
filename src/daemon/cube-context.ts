// What the daemon hands a service for each cube: its datapath, maps, ports and packet-out,
// all scoped to that one cube (the SDK's CubeContext).
import type { BpfMap } from "../lib/bpf/index.ts";
import type { Fabric, FabricCube } from "../lib/cube/fabric.ts";
import type { ShadowNamespace } from "../lib/cube/shadow.ts";
import type { TaggedLogger } from "../lib/log.ts";
import { ServiceError, type CubeContext, type Direction, type JsonObject, type MapAccess, type MapDescription, type PortInfo, type ShadowContext } from "../lib/sdk/types.ts";

export function mapAccess(get: () => BpfMap): MapAccess {
  return {
    async get(key) { return get().lookup(key); },
    async getPerCpu(key) { return get().lookupPerCpu(key); },
    async set(key, value) { get().update(key, value); },
    async delete(key) { return get().delete(key); },
    async entries() { return get().entries(); },
    async clear() { get().clear(); },
    async setMany(entries) { get().updateMany(entries); },
    async deleteMany(keys) { return get().deleteMany(keys); },
    async pop() { return get().pop(); },
    get keySize() { return get().keySize; },
    get valueSize() { return get().valueSize; },
  };
}

export function portInfos(fabric: Fabric, cube: FabricCube): PortInfo[] {
  return [...cube.ports.values()].map((p) => ({ id: p.id, name: p.name, peer: p.peer, status: fabric.portUp(cube, p) ? "UP" : "DOWN" }));
}

export function cubeContext(
  fabric: Fabric,
  cube: FabricCube,
  uuid: string,
  log: TaggedLogger,
  reconfigure?: (mutate: (config: JsonObject) => void) => Promise<void>,
): CubeContext {
  return {
    name: cube.name,
    uuid,
    service: cube.service,
    type: cube.type,
    log,
    loadDatapath: (object, globals) => fabric.loadDatapath(cube.name, object, globals),
    map(name) {
      if (name.startsWith("pcn_")) throw new ServiceError(`map ${name} belongs to the framework`, 500);
      return mapAccess(() => cube.program.map(name));
    },
    describeMaps() {
      const out: Record<string, MapDescription> = {};
      for (const m of cube.program.mapNames()) {
        const map = cube.program.map(m);
        out[m] = { keySize: map.keySize, valueSize: map.valueSize, ...map.types };
      }
      return out;
    },
    ports: () => portInfos(fabric, cube),
    async packetOut(port, frame, opts) {
      fabric.packetOut(cube.name, port, frame, opts?.recirculate);
    },
    async packetOutDirection(direction: Direction, frame, opts) {
      fabric.packetOutDirection(cube.name, direction, frame, opts?.recirculate);
    },
    shadow: cube.shadow && shadowContext(fabric, cube, cube.shadow),
    reconfigure,
  };
}

function shadowContext(fabric: Fabric, cube: FabricCube, ns: ShadowNamespace): ShadowContext {
  return {
    namespace: ns.name,
    async setInterface(port, opts) {
      if (!cube.ports.has(port)) throw new ServiceError(`Port ${port} does not exist in cube ${cube.name}`, 404);
      if (opts.mac) ns.setMac(port, opts.mac);
      if (opts.addresses) await ns.setAddresses(port, opts.addresses);
    },
    linux: () => ns.linux(),
    async packetOut(port, frame) {
      fabric.packetOutNs(cube.name, port, frame);
    },
  };
}
