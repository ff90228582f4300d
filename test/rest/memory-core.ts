// TEST DOUBLE of the daemon core (src/daemon/core.ts is written separately): a real in-memory
// store of services and cube configurations behind the DaemonCore contract, with just enough
// behaviour (uuids, port status, peers, attach, two actions, a refusing service) for the REST
// layer's tests. It records the Change lists the core would hand to services.
import type { AttachRequest, CubeSummary, DaemonCore, NetdevInfo, ServiceInfo } from "../../src/lib/rest/core-api.ts";
import { ServiceError, type Change, type Json, type JsonObject, type PathStep } from "../../src/lib/sdk/types.ts";
import { diffConfig, loadModule, type Schema } from "../../src/lib/yang/index.ts";

interface Cube {
  service: string;
  config: JsonObject;
  uuid: string;
  parent?: string;
  counter: number;
}

export class MemoryCore implements DaemonCore {
  private svcs = new Map<string, ServiceInfo & { schema: Schema }>();
  private cubes = new Map<string, Cube>();
  /** Every Change list passed to a service, by cube. */
  changes: Array<{ cube: string; changes: Change[] }> = [];
  /** Known netdevs (the test double invents none). */
  devices: NetdevInfo[] = [{ name: "tyrveth0", addresses: ["10.9.9.1/24"] }];
  /** Makes the core slow, to exercise concurrent requests. */
  delayMs = 0;
  /** Models that POST /services may load, by uri. */
  loadable = new Map<string, { yang: string; kind: "standard" | "transparent" }>();

  addModel(name: string, yang: string, kind: "standard" | "transparent" = "standard"): void {
    this.svcs.set(name, { name, kind, yang, type: "lib", uri: "builtin", description: `${name} test service`, version: "1.0", schema: loadModule(yang) });
  }

  private async tick(): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
  }

  services(): ServiceInfo[] {
    return [...this.svcs.values()].map(({ schema: _s, ...info }) => info);
  }
  service(name: string): ServiceInfo | undefined {
    const s = this.svcs.get(name);
    if (!s) return undefined;
    const { schema: _s, ...info } = s;
    return info;
  }
  async addService(req: { name: string; type: string; uri: string }): Promise<void> {
    if (req.type === "grpc") throw new ServiceError("GRPC support has not been compiled");
    const m = this.loadable.get(req.uri);
    if (!m) throw new ServiceError(`cannot load ${req.uri}`);
    this.addModel(req.name, m.yang, m.kind);
  }
  async deleteService(name: string): Promise<void> {
    for (const [n, c] of this.cubes) if (c.service === name) this.cubes.delete(n);
    this.svcs.delete(name);
  }

  cubeNames(): string[] {
    return [...this.cubes.keys()];
  }
  cubeService(name: string): string | undefined {
    return this.cubes.get(name)?.service;
  }
  cubeSummary(name: string): CubeSummary | undefined {
    const c = this.cubes.get(name);
    if (!c) return undefined;
    const s: CubeSummary = { name, uuid: c.uuid, "service-name": c.service, type: String(c.config.type), loglevel: String(c.config.loglevel) };
    if (this.svcs.get(c.service)!.kind === "transparent") s.parent = c.parent ?? "";
    else {
      const ports = (c.config.ports as JsonObject[] | undefined) ?? [];
      if (ports.length) s.ports = ports.map((p) => (p.peer ? { name: String(p.name), peer: String(p.peer) } : { name: String(p.name) }));
      s.shadow = Boolean(c.config.shadow);
      s.span = Boolean(c.config.span);
    }
    return s;
  }
  cubeConfig(name: string): JsonObject | undefined {
    const c = this.cubes.get(name);
    return c ? structuredClone(c.config) : undefined;
  }
  async readCube(name: string): Promise<JsonObject> {
    const c = this.cubes.get(name);
    if (!c) throw new ServiceError(`Cube ${name} does not exist`, 404);
    const out = structuredClone(c.config);
    out.uuid = c.uuid;
    if (Array.isArray(out.ports))
      for (const p of out.ports as JsonObject[]) {
        p.uuid = c.uuid;
        p.status = this.portUp(name, p) ? "UP" : "DOWN";
      }
    if (this.svcs.get(c.service)!.kind === "transparent") out.parent = c.parent ?? "";
    if (this.svcs.get(c.service)!.schema.root.children.some((n) => n.name === "counter")) out.counter = c.counter;
    return out;
  }

  private portUp(cube: string, p: JsonObject): boolean {
    const peer = typeof p.peer === "string" ? p.peer : "";
    if (!peer) return false;
    if (this.devices.some((d) => d.name === peer)) return true;
    const [oc, op] = peer.split(":");
    const other = (this.cubes.get(oc ?? "")?.config.ports as JsonObject[] | undefined)?.find((x) => x.name === op);
    return other?.peer === `${cube}:${p.name}`;
  }

  /** What a service does with a change list: refuses the magic value "refuse" anywhere. */
  private apply(cube: string, changes: Change[]): void {
    for (const ch of changes) if (JSON.stringify(ch.after ?? null).includes('"refuse"')) throw new ServiceError(`the service refuses ${ch.where}`, 400);
    if (changes.length) this.changes.push({ cube, changes });
  }

  async createCube(service: string, config: JsonObject): Promise<void> {
    await this.tick();
    const name = config.name as string;
    if (this.cubes.has(name)) throw new ServiceError(`Cube ${name} already exists`, 409, "data-exists", name);
    const svc = this.svcs.get(service);
    if (!svc) throw new ServiceError(`service ${service} does not exist`);
    this.apply(name, diffConfig(svc.schema.root, {}, config));
    this.cubes.set(name, { service, config: structuredClone(config), uuid: crypto.randomUUID(), counter: 7 });
  }
  async updateCube(name: string, next: JsonObject): Promise<void> {
    await this.tick();
    const c = this.cubes.get(name);
    if (!c) throw new ServiceError(`Cube ${name} does not exist`);
    this.apply(name, diffConfig(this.svcs.get(c.service)!.schema.root, c.config, next));
    c.config = structuredClone(next);
    c.counter += 1;
  }
  async deleteCube(name: string): Promise<void> {
    await this.tick();
    if (!this.cubes.delete(name)) throw new ServiceError(`Cube ${name} does not exist`);
  }
  async action(name: string, path: PathStep[], input: JsonObject): Promise<Json | undefined> {
    const c = this.cubes.get(name);
    if (!c) throw new ServiceError(`Cube ${name} does not exist`);
    const where = path.map((p) => p.node).join("/");
    if (where === "fdb/flush") {
      const fdb = (c.config.fdb ?? {}) as JsonObject;
      const entries = (fdb.entry ?? []) as JsonObject[];
      const keep = input.vlan === undefined ? [] : entries.filter((e) => e.vlan !== input.vlan);
      const flushed = entries.length - keep.length;
      if (keep.length) fdb.entry = keep;
      else delete fdb.entry;
      return { flushed };
    }
    if (where === "chain/append") {
      const chain = ((c.config.chain ?? []) as JsonObject[]).find((x) => x.name === path[0]!.keys!.name);
      if (!chain) throw new ServiceError(`chain ${path[0]!.keys!.name} does not exist`);
      const rules = (chain.rule ??= []) as JsonObject[];
      const id = rules.length ? Math.max(...rules.map((r) => r.id as number)) + 1 : 0;
      rules.push({ id, ...input, action: input.action ?? "FORWARD" });
      return { id };
    }
    throw new ServiceError(`action ${where} is not implemented`, 500);
  }

  async connect(peer1: string, peer2: string): Promise<void> {
    const setPeer = (a: string, b: string) => {
      const [cube, port] = a.split(":");
      const p = ((this.cubes.get(cube ?? "")?.config.ports ?? []) as JsonObject[]).find((x) => x.name === port);
      if (!p) throw new ServiceError(`${a} does not exist`);
      if (p.peer) throw new ServiceError(`${a} already has a peer ${p.peer}`);
      p.peer = b;
    };
    if (!peer1.includes(":") && !peer2.includes(":")) throw new ServiceError("Error setting peer");
    if (peer1.includes(":")) setPeer(peer1, peer2);
    if (peer2.includes(":")) setPeer(peer2, peer1);
  }
  async disconnect(peer1: string, peer2: string): Promise<void> {
    for (const [a, b] of [[peer1, peer2], [peer2, peer1]] as const) {
      if (!a.includes(":")) continue;
      const [cube, port] = a.split(":");
      const p = ((this.cubes.get(cube ?? "")?.config.ports ?? []) as JsonObject[]).find((x) => x.name === port);
      if (!p || p.peer !== b) throw new ServiceError(`${a} is not connected to ${b}`);
      p.peer = "";
    }
  }
  async attach(req: AttachRequest): Promise<void> {
    const c = this.cubes.get(req.cube);
    if (!c) throw new ServiceError(`Cube ${req.cube} does not exist`);
    if (this.svcs.get(c.service)!.kind !== "transparent") throw new ServiceError(`Cube ${req.cube} is not transparent`);
    if (c.parent) throw new ServiceError(`Cube ${req.cube} is already attached`);
    c.parent = req.port;
  }
  async detach(req: { cube: string; port: string }): Promise<void> {
    const c = this.cubes.get(req.cube);
    if (!c || c.parent !== req.port) throw new ServiceError("Cube doesn't exist");
    c.parent = "";
  }
  netdevTopology(ifname: string): JsonObject {
    return { name: ifname };
  }
  netdevs(): NetdevInfo[] {
    return this.devices;
  }
}
