// The daemon core: services, cubes and their configuration, on top of the patch panel
// (src/lib/cube). The REST layer hands it validated whole configurations; the core applies
// the framework's part (ports, peers, log level, attachments) itself and the rest through the
// cube's service, and undoes its own part when the service refuses.
import { Fabric, type FabricCube } from "../lib/cube/fabric.ts";
import { DatapathRuntime } from "../lib/cube/runtime.ts";
import { PinStore } from "../lib/cube/pins.ts";
import { Injector, isInjectorDevice } from "../lib/cube/injector.ts";
import { netdevMac, netdevNames, netdevUsable } from "../lib/cube/netdevs.ts";
import { decodeEvent, EV_LOG, EV_SPAN } from "../lib/slowpath/events.ts";
import { ShadowNamespace, TWIN_PREFIX } from "../lib/cube/shadow.ts";
import { cubeLogger, daemonLog, LOG_LEVELS, type TaggedLogger } from "../lib/log.ts";
import { diffConfig, ext, findDataChild, loadModule, type Schema, type SchemaNode } from "../lib/yang/index.ts";
import { RemoteServiceLink } from "../lib/remote/daemon-client.ts";
import { loadPlugin, registerObjects, unloadPlugin, unregisterObjects, type LoadedPlugin } from "../lib/plugin/load.ts";
import { ServiceError, type Change, type CubeControl, type CubeType, type Direction, type Json, type JsonObject, type LogLevel, type PathStep, type ServiceModule } from "../lib/sdk/types.ts";
import type { AttachRequest, CubeSummary, DaemonCore, NetdevInfo, ServiceInfo } from "../lib/rest/core-api.ts";
import { cubeContext, portInfos } from "./cube-context.ts";

interface ServiceEntry {
  module: ServiceModule;
  schema: Schema;
  type: "lib" | "grpc";
  uri: string;
  remote?: RemoteServiceLink;
  /** Services loaded from a plug-in package (type lib, uri its file). */
  plugin?: LoadedPlugin;
  /** A remote service's own eBPF objects, registered while it is (see RemoteServiceLink.objects). */
  objects?: string[];
}

interface CubeEntry {
  service: string;
  uuid: string;
  /**
   * The cube's configuration without the framework's links: each port's peer and transparent
   * stack, and a transparent cube's parent, are the patch panel's (Fabric) and only it holds
   * them; configOf() shows them.
   */
  config: JsonObject;
  fabric: FabricCube;
  control: CubeControl;
  log: TaggedLogger;
  /** Transparent cubes: the parent the service was last told about. */
  parent: string;
  /** Transparent cubes: the parent's configuration it was last told about (JSON). */
  parentSeen?: string;
}

interface PortConfig {
  name: string;
  peer?: string;
}

const NETDEV_POLL_MS = 1000;

export interface CoreOptions {
  /** TLS towards remote services: their CA, and the client identity polycubed presents. */
  remoteTls?: { cacert: string; cert?: string; key?: string };
  /** How long a remote service may take to answer a call (RemoteServiceLink's default unless told). */
  remoteTimeoutMs?: number;
  /**
   * Pins the datapath under /sys/fs/bpf/polycube/<instance> (docs/datapath.md, "Restarts").
   * adopt: a previous daemon's pinned datapath keeps forwarding until finishAdoption();
   * otherwise whatever a previous daemon left there is removed first.
   */
  pins?: { instance: string; adopt: boolean };
}

function portsOf(config: JsonObject): PortConfig[] {
  return ((config.ports ?? []) as unknown as PortConfig[]).map((p) => ({ name: p.name, peer: p.peer ?? "" }));
}

/** State overlaid on configuration: objects merge, lists of named entries merge by name. */
/** The configuration nodes of a cube's data (read-only nodes dropped). */
function configPart(node: SchemaNode, value: Json): Json {
  if (Array.isArray(value)) return value.map((e) => configPart(node, e));
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const c = findDataChild(node, k);
    if (c?.config) out[k] = c.kind === "leaf" || c.kind === "leaf-list" ? v : configPart(c, v);
  }
  return out;
}

function overlay(base: Json, state: Json): Json {
  if (Array.isArray(base) && Array.isArray(state)) {
    const keyOf = (e: Json) => (e && typeof e === "object" && !Array.isArray(e) ? (e as JsonObject).name : undefined);
    // Entries merge by name only where the names tell them apart (ports); other lists are the service's.
    const names = state.map(keyOf);
    // (An empty state list of entries without names, such as sessions that all expired, empties it too.)
    if (names.some((n) => n === undefined) || base.some((b) => keyOf(b) === undefined) || new Set(names).size !== names.length) return state;
    const out = base.map((b) => {
      const s = state.find((x) => keyOf(x) === keyOf(b));
      return s === undefined ? b : overlay(b, s);
    });
    for (const s of state) if (!base.some((b) => keyOf(b) === keyOf(s))) out.push(s);
    return out;
  }
  if (base && state && typeof base === "object" && typeof state === "object" && !Array.isArray(base) && !Array.isArray(state)) {
    const out: JsonObject = { ...(base as JsonObject) };
    for (const [k, v] of Object.entries(state as JsonObject)) out[k] = k in out ? overlay(out[k]!, v) : v;
    return out;
  }
  return state;
}

/** A configuration as the core stores it: without what the patch panel owns (see CubeEntry.config). */
function withoutLinks(config: JsonObject): JsonObject {
  const out: JsonObject = { ...config };
  delete out.parent;
  if (Array.isArray(config.ports)) {
    out.ports = (config.ports as JsonObject[]).map((p) => {
      const { peer: _p, tcubes: _t, ...rest } = p;
      return rest;
    });
  }
  return out;
}

function splitPeer(peer: string): [string, string] | undefined {
  const i = peer.indexOf(":");
  return i > 0 ? [peer.slice(0, i), peer.slice(i + 1)] : undefined;
}

export class Core implements DaemonCore {
  private readonly svcs = new Map<string, ServiceEntry>();
  private readonly cubes = new Map<string, CubeEntry>();
  private netdevTimer?: ReturnType<typeof setInterval>;

  private constructor(
    private readonly runtime: DatapathRuntime,
    private readonly injector: Injector,
    private readonly fabric: Fabric,
    private readonly opts: CoreOptions,
  ) {}

  /** Sets up the shared datapath (maps, injector, slow path) and registers the services. */
  static async start(services: ServiceModule[], opts: CoreOptions = {}): Promise<Core> {
    const runtime = new DatapathRuntime(opts.pins && new PinStore(opts.pins.instance, opts.pins.adopt, daemonLog));
    let injector: Injector | undefined;
    try {
      injector = await Injector.create(runtime);
      const core = new Core(runtime, injector, new Fabric(runtime, injector, daemonLog), opts);
      if (opts.pins?.adopt) core.fabric.holdHooks();
      for (const m of services) core.register(m, "lib", "builtin");
      await runtime.startEvents(
        (rec) => core.onEvent(rec),
        (e) => daemonLog.error(`slow path: ${e.message}`),
      );
      core.netdevTimer = setInterval(() => core.followNetdevs().catch((e) => daemonLog.error(`netdev watch: ${e}`)), NETDEV_POLL_MS);
      core.netdevTimer.unref?.();
      return core;
    } catch (e) {
      injector?.close();
      await runtime.close(opts.pins?.adopt);
      throw e;
    }
  }

  /**
   * The topology is restored: the netdev hooks switch to this daemon's chains, then what the
   * previous daemon left and nothing uses any more goes. Nothing to do unless adopting.
   */
  async finishAdoption(): Promise<void> {
    if (!this.runtime.pins?.adopting) return;
    await this.fabric.releaseHooks();
    await Bun.sleep(20); // packets already inside the previous chains finish there
    const slots = this.runtime.sweepStaleSlots();
    this.runtime.pins.sweep();
    daemonLog.info(`adopted the pinned datapath of ${this.runtime.pins.dir} (${slots} previous programs retired)`);
  }

  /**
   * Deletes every cube (removing all their kernel objects) and the shared datapath; with
   * keepDatapath (a restart with --cubes-dump-enable), leaves programs, maps and hooks pinned and
   * forwarding for the next daemon to adopt.
   */
  async stop(opts: { keepDatapath?: boolean } = {}): Promise<void> {
    clearInterval(this.netdevTimer);
    if (opts.keepDatapath && this.runtime.pins) {
      // Shadow namespaces are Linux's side, made again by the next daemon's restore.
      for (const c of this.cubes.values()) c.fabric.shadow?.destroy();
      for (const s of this.svcs.values()) s.remote?.close();
      this.injector.close();
      await this.runtime.close(true);
      return;
    }
    for (const name of [...this.cubes.keys()]) {
      try {
        await this.deleteCube(name);
      } catch (e) {
        daemonLog.error(`deleting cube ${name}: ${(e as Error).message}`);
      }
    }
    await this.fabric.closeAll();
    for (const s of this.svcs.values()) s.remote?.close();
    this.injector.close();
    await this.runtime.close();
  }

  private register(module: ServiceModule, type: "lib" | "grpc", uri: string, remote?: RemoteServiceLink, plugin?: LoadedPlugin, objects?: string[]): void {
    this.svcs.set(module.name, { module, schema: loadModule(module.yang), type, uri, remote, plugin, objects });
  }

  // ---- services ----------------------------------------------------------------------------

  services(): ServiceInfo[] {
    return [...this.svcs.keys()].map((n) => this.service(n)!);
  }

  service(name: string): ServiceInfo | undefined {
    const s = this.svcs.get(name);
    if (!s) return undefined;
    const m = s.schema;
    return {
      name,
      kind: s.module.kind,
      yang: s.module.yang,
      type: s.type,
      uri: s.uri,
      description: ext(m, "service-description") ?? m.description ?? "",
      version: ext(m, "service-version") ?? m.revision ?? "",
      createReplaces: s.module.createReplaces,
      schema: s.schema,
      plugin: s.plugin ? true : undefined,
    };
  }

  async addService(req: { name: string; type: string; uri: string }): Promise<void> {
    if (this.svcs.has(req.name)) throw new ServiceError("Service Controller already exists", 400);
    if (req.type === "lib") {
      const plugin = await loadPlugin(req.name, req.uri, this.runtime);
      try {
        // Another request may have taken the name while the package loaded.
        if (this.svcs.has(req.name)) throw new ServiceError("Service Controller already exists", 400);
        this.register(plugin.module, "lib", req.uri, undefined, plugin);
      } catch (e) {
        unloadPlugin(plugin);
        throw e instanceof ServiceError ? e : new ServiceError(`cannot load plug-in ${req.name} from ${req.uri}: ${(e as Error).message}`, 400);
      }
      daemonLog.info(`plug-in ${req.name} ${plugin.manifest.version} loaded from ${req.uri}`);
      return;
    }
    if (req.type !== "grpc") throw new ServiceError(`services of type ${req.type} cannot be loaded: services are lib (a plug-in package) or grpc (a remote service)`, 400);
    const link = await RemoteServiceLink.connect({ uri: req.uri, name: req.name, log: daemonLog, tls: this.opts.remoteTls, timeoutMs: this.opts.remoteTimeoutMs });
    // A service run from a plug-in package brings its datapath objects, checked as a plug-in's.
    let objects: string[] = [];
    try {
      if (link.objects.size) objects = registerObjects(req.name, req.uri, link.objects, this.runtime);
      if (this.svcs.has(req.name)) throw new ServiceError("Service Controller already exists", 400);
    } catch (e) {
      unregisterObjects(objects);
      link.close();
      throw e;
    }
    this.register(link.module, "grpc", req.uri, link, undefined, objects);
  }

  async deleteService(name: string): Promise<void> {
    const s = this.svcs.get(name);
    if (!s) throw new ServiceError("Service Controller does not exist", 400);
    if (s.plugin) {
      // As the original: a loaded service with cubes stays until they are deleted.
      const cubes = [...this.cubes].filter(([, c]) => c.service === name).map(([n]) => n);
      if (cubes.length) throw new ServiceError(`Service ${name} has cubes (${cubes.join(", ")}): delete them first`, 400);
      unloadPlugin(s.plugin);
      this.svcs.delete(name);
      daemonLog.info(`plug-in ${name} unloaded`);
      return;
    }
    for (const [cube, c] of [...this.cubes]) if (c.service === name) await this.deleteCube(cube);
    s.remote?.close();
    unregisterObjects(s.objects ?? []);
    this.svcs.delete(name);
  }

  // ---- cubes -------------------------------------------------------------------------------

  cubeNames(): string[] {
    return [...this.cubes.keys()];
  }

  cubeService(name: string): string | undefined {
    return this.cubes.get(name)?.service;
  }

  private must(name: string): CubeEntry {
    const c = this.cubes.get(name);
    if (!c) throw new ServiceError(`Cube ${name} does not exist`, 404);
    return c;
  }

  cubeSummary(name: string): CubeSummary | undefined {
    const c = this.cubes.get(name);
    if (!c) return undefined;
    const s: CubeSummary = { name, uuid: c.uuid, "service-name": c.service, type: c.fabric.type, loglevel: String(c.config.loglevel ?? "INFO") };
    if (c.fabric.kind === "transparent") s.parent = c.fabric.parent;
    else {
      const ports = [...c.fabric.ports.values()];
      if (ports.length) s.ports = ports.map((p) => (p.peer ? { name: p.name, peer: p.peer } : { name: p.name }));
      s.shadow = Boolean(c.config.shadow);
      s.span = Boolean(c.config.span);
    }
    return s;
  }

  cubeConfig(name: string): JsonObject | undefined {
    const c = this.cubes.get(name);
    return c ? structuredClone(this.configOf(c)) : undefined;
  }

  cubeConfigShared(name: string): JsonObject | undefined {
    const c = this.cubes.get(name);
    return c && this.configOf(c);
  }

  /**
   * A cube's configuration as users see it: the stored one with the patch panel's links (each
   * port's peer and transparent stack; a transparent cube's netdev parent). Shallow: only the
   * top object and the ports are new, so it is cheap for large tables.
   */
  private configOf(c: CubeEntry): JsonObject {
    const out: JsonObject = { ...c.config };
    if (c.fabric.kind !== "standard") {
      // Attachments to a cube's port show in that port's tcubes; a netdev parent shows here.
      if (c.fabric.parent && !splitPeer(c.fabric.parent)) out.parent = c.fabric.parent;
      return out;
    }
    if (!Array.isArray(c.config.ports)) return out;
    out.ports = (c.config.ports as JsonObject[]).map((p) => {
      const fp = c.fabric.ports.get(String(p.name));
      const q: JsonObject = { ...p };
      if (fp?.peer) q.peer = fp.peer;
      if (fp?.tcubes.length) q.tcubes = [...fp.tcubes];
      return q;
    });
    return out;
  }

  async readCube(name: string, at?: PathStep[]): Promise<JsonObject> {
    const c = this.must(name);
    let out: JsonObject = structuredClone(this.configOf(c));
    out.uuid = c.uuid;
    if (c.fabric.kind === "transparent") out.parent = c.fabric.parent;
    else {
      const info = new Map(portInfos(this.fabric, c.fabric).map((p) => [p.name, p]));
      for (const p of (out.ports ?? []) as JsonObject[]) {
        const fp = c.fabric.ports.get(String(p.name));
        if (fp) p.uuid = fp.uuid;
        p.status = info.get(String(p.name))?.status ?? "DOWN";
        p.peer = fp?.peer ?? "";
      }
    }
    if (c.control.state) out = overlay(out, await this.serviceCall(c, () => c.control.state!(at))) as JsonObject;
    return out;
  }

  async readEntry(name: string, steps: PathStep[], configAt: (config: JsonObject) => Json | undefined): Promise<{ value?: Json } | undefined> {
    const c = this.must(name);
    // Ports carry the framework's state too (uuid, status, peer): readCube() has it.
    if (!c.control.stateAt || steps[0]?.node === "ports") return undefined;
    const s = await this.serviceCall(c, () => c.control.stateAt!(steps));
    if (!s) return undefined;
    // As overlay(): entries named by `name` merge with their configuration; other lists are the service's.
    const keys = Object.keys(steps.at(-1)?.keys ?? {});
    if (keys.length !== 1 || keys[0] !== "name") return s;
    const base = configAt(this.configOf(c));
    if (base === undefined) return s;
    return { value: s.value === undefined ? structuredClone(base) : overlay(structuredClone(base), s.value) };
  }

  /** A service's own failure is a 5xx naming it, unless it chose its status. */
  private async serviceCall<T>(c: { service: string }, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ServiceError) throw e;
      throw new ServiceError(`${c.service}: ${(e as Error).message}`, 500);
    }
  }

  async createCube(service: string, config: JsonObject): Promise<void> {
    const svc = this.svcs.get(service);
    if (!svc) throw new ServiceError(`Service ${service} does not exist`, 404);
    const name = String(config.name);
    if (this.cubes.has(name)) throw new ServiceError(`Cube ${name} already exists`, 409, "data-exists", "name");
    const shadow = config.shadow === true;
    if (config.span === true && !shadow) throw new ServiceError("Span mode is not present in no-shadow services", 400, "invalid-value", "span");
    if (shadow && svc.module.kind !== "standard") throw new ServiceError(`${service} cubes are transparent: only standard cubes can be shadow`, 400, "invalid-value", "shadow");
    const type = String(config.type ?? "TC") as CubeType;
    const ports = portsOf(config);
    this.fabric.checkPortSet({ name, type }, ports);
    if (shadow) {
      ShadowNamespace.check(name);
      for (const p of ports) ShadowNamespace.checkPort(name, p.name);
    }

    const fabricCube = this.fabric.addCube({ name, service, kind: svc.module.kind, type, stackPlace: svc.module.stackPlace, shadow });
    const level = String(config.loglevel ?? "INFO") as LogLevel;
    const log = cubeLogger(service, name, level);
    fabricCube.program.setLogLevel(level);
    const uuid = crypto.randomUUID();
    try {
      if (config.span === true) this.fabric.setSpan(name, true);
      for (const p of ports) await this.fabric.addPort(name, p.name, p.peer);
      const ctx = cubeContext(this.fabric, fabricCube, uuid, log, (mutate) => this.reconfigure(name, mutate));
      const control = await this.serviceCall({ service }, () => svc.module.createCube(ctx, config));
      this.cubes.set(name, { service, uuid, config: withoutLinks(structuredClone(config)), fabric: fabricCube, control, log, parent: "" });
      // A service that owns its configuration may keep the first one differently (lbrp's ALL).
      if (svc.module.ownsConfig) await this.adoptServiceConfig(name);
      this.recordStacks();
    } catch (e) {
      this.cubes.delete(name);
      await this.fabric.removeCube(name);
      throw e;
    }
    daemonLog.info(`cube ${name} (${service}, ${type}) created`);
  }

  async updateCube(name: string, next: JsonObject, known?: Change[], opts?: { handOver?: boolean }): Promise<void> {
    const c = this.must(name);
    const svc = this.svcs.get(c.service)!;
    const before = this.configOf(c);
    const changes = known ?? diffConfig(svc.schema.root, before, next);
    if (!changes.length) return;
    if (Boolean(next.shadow) !== Boolean(before.shadow)) throw new ServiceError("shadow can be set only at creation", 400, "invalid-value", "shadow");
    if (next.span === true && !c.fabric.shadow) throw new ServiceError("Span mode is not present in no-shadow services", 400, "invalid-value", "span");
    if (c.fabric.kind === "standard") this.fabric.checkPortSet(c.fabric, portsOf(next));
    // The ports change first (the service sees them), and go back as they were, untouched,
    // when the service refuses the configuration (Fabric.transaction).
    await this.fabric.transaction(async () => {
      if (c.fabric.kind === "standard") await this.syncPorts(c, portsOf(next));
      if (c.control.apply) await this.serviceCall(c, () => c.control.apply!(serviceChanges(changes), next));
    });
    c.config = withoutLinks(opts?.handOver ? next : structuredClone(next));
    if (svc.module.ownsConfig) await this.adoptServiceConfig(name);
    this.recordStacks();
    this.setLogLevel(c, String(next.loglevel ?? "INFO") as LogLevel);
    if (c.fabric.kind === "standard" && c.fabric.span !== (next.span === true)) this.fabric.setSpan(name, next.span === true);
  }

  /** A change the cube itself asks for (e.g. Linux changed a shadow port's address): applied as an update of its configuration. */
  private async reconfigure(name: string, mutate: (config: JsonObject) => void): Promise<void> {
    const c = this.cubes.get(name);
    if (!c) return;
    const next = structuredClone(this.configOf(c));
    mutate(next);
    await this.updateCube(name, next);
  }

  private setLogLevel(c: CubeEntry, level: LogLevel): void {
    if (!LOG_LEVELS.includes(level)) return;
    c.log.setLevel(level);
    c.fabric.program.setLogLevel(level);
  }

  /** Makes the fabric's ports those of a configuration: removals, then peers, then additions. */
  private async syncPorts(c: CubeEntry, want: PortConfig[]): Promise<void> {
    const names = new Set(want.map((p) => p.name));
    for (const p of [...c.fabric.ports.keys()]) if (!names.has(p)) await this.fabric.removePort(c.fabric.name, p);
    // Clear changed peers first, so that two ports may swap netdevs in one request.
    for (const p of want) {
      const cur = c.fabric.ports.get(p.name);
      if (cur && cur.peer !== p.peer) await this.fabric.setPeer(c.fabric.name, p.name, "");
    }
    for (const p of want) {
      const cur = c.fabric.ports.get(p.name);
      if (!cur) await this.fabric.addPort(c.fabric.name, p.name, p.peer);
      else if (cur.peer !== p.peer) await this.fabric.setPeer(c.fabric.name, p.name, p.peer ?? "");
    }
  }

  async deleteCube(name: string): Promise<void> {
    const c = this.must(name);
    // The cube is still there while its service lets go of it: a remote service's destroy()
    // may still read its maps through the daemon.
    try {
      await c.control.destroy?.();
    } catch (e) {
      c.log.error(`while destroying: ${(e as Error).message}`);
    }
    this.cubes.delete(name);
    await this.fabric.removeCube(name);
    // Transparent cubes that sat on its ports are detached now; a deleted transparent cube
    // leaves its stack.
    this.recordStacks();
    daemonLog.info(`cube ${name} deleted`);
  }

  async action(name: string, path: PathStep[], input: JsonObject): Promise<Json | undefined> {
    const c = this.must(name);
    if (!c.control.action) throw new ServiceError(`${c.service} has no actions`, 405);
    const out = await this.serviceCall(c, () => c.control.action!(path, input));
    if (this.svcs.get(c.service)?.module.ownsConfig) await this.adoptServiceConfig(name);
    return (out ?? undefined) as Json | undefined;
  }

  /** A service that owns its configuration: the stored one becomes what the service reports. */
  private async adoptServiceConfig(name: string): Promise<void> {
    const c = this.must(name);
    const svc = this.svcs.get(c.service)!;
    const live = c.control.ownedConfig ? await this.serviceCall(c, () => c.control.ownedConfig!()) : (configPart(svc.schema.root, await this.readCube(name)) as JsonObject);
    for (const k of ["name", "uuid", "parent"]) delete live[k];
    const stored: JsonObject = { ...c.config };
    for (const [k, v] of Object.entries(live)) stored[k] = v;
    c.config = withoutLinks(stored);
  }

  /** Tells transparent cubes whose parent changed (attached, detached, its port or cube deleted, its configuration changed). */
  private recordStacks(): void {
    for (const c of this.cubes.values()) {
      if (c.fabric.kind !== "standard") {
        const cfg = this.parentConfig(c.fabric.parent);
        const seen = JSON.stringify(cfg ?? null);
        if (c.parent !== c.fabric.parent || c.parentSeen !== seen) {
          c.parent = c.fabric.parent;
          c.parentSeen = seen;
          Promise.resolve(c.control.parentChanged?.(c.parent, cfg)).catch((e) => c.log.error(`parent change: ${(e as Error).message}`));
        }
      }
    }
  }

  /** What a transparent cube is told of its parent: the port's stored configuration (without the base's `tcubes`), or a netdev's name. */
  private parentConfig(parent: string): JsonObject | undefined {
    if (!parent) return undefined;
    const cp = splitPeer(parent);
    if (!cp) return { name: parent };
    const owner = this.cubes.get(cp[0]);
    const port = ((owner ? this.configOf(owner).ports ?? [] : []) as JsonObject[]).find((p) => p.name === cp[1]);
    if (!port) return undefined;
    const { tcubes: _, ...rest } = structuredClone(port);
    return rest;
  }

  // ---- links -------------------------------------------------------------------------------

  private portConfig(peer: string): { cube: CubeEntry; port: JsonObject } | undefined {
    const cp = splitPeer(peer);
    if (!cp) return undefined;
    const cube = this.cubes.get(cp[0]);
    if (!cube) throw new ServiceError(`Cube ${cp[0]} does not exist`, 404);
    const port = ((this.configOf(cube).ports ?? []) as JsonObject[]).find((p) => p.name === cp[1]);
    if (!port) throw new ServiceError(`Port ${cp[1]} does not exist in cube ${cp[0]}`, 404);
    return { cube, port };
  }

  private async setPortPeer(peer: string, value: string): Promise<void> {
    const cp = splitPeer(peer)!;
    const c = this.must(cp[0]);
    const next = structuredClone(this.configOf(c));
    const port = ((next.ports ?? []) as JsonObject[]).find((p) => p.name === cp[1])!;
    port.peer = value;
    await this.updateCube(cp[0], next);
  }

  async connect(peer1: string, peer2: string): Promise<void> {
    const ends = [this.portConfig(peer1), this.portConfig(peer2)];
    if (!ends[0] && !ends[1]) throw new ServiceError("Error setting peer", 400);
    for (const [i, e] of ends.entries()) {
      const name = i === 0 ? peer1 : peer2;
      if (e && e.port.peer) throw new ServiceError(`${name} already has a peer ${e.port.peer}`, 400);
    }
    if (ends[0]) await this.setPortPeer(peer1, peer2);
    if (ends[1]) {
      try {
        await this.setPortPeer(peer2, peer1);
      } catch (e) {
        if (ends[0]) await this.setPortPeer(peer1, "");
        throw e;
      }
    }
  }

  async disconnect(peer1: string, peer2: string): Promise<void> {
    const ends: Array<[string, string]> = [[peer1, peer2], [peer2, peer1]];
    for (const [a, b] of ends) {
      const e = this.portConfig(a);
      if (e && (e.port.peer ?? "") !== b) throw new ServiceError(`${a} is not connected to ${b}`, 400);
    }
    if (!splitPeer(peer1) && !splitPeer(peer2)) throw new ServiceError(`${peer1} is not connected to ${peer2}`, 400);
    for (const [a] of ends) if (splitPeer(a)) await this.setPortPeer(a, "");
  }

  async attach(req: AttachRequest): Promise<void> {
    const t = this.cubes.get(req.cube);
    if (!t) throw new ServiceError(`Cube ${req.cube} does not exist`, 400);
    const cfg = this.parentConfig(req.port);
    await this.fabric.transaction(async () => {
      await this.fabric.attach(req.cube, req.port, { position: req.position, before: req.before, after: req.after });
      await this.serviceCall(t, () => t.control.parentChanged?.(req.port, cfg));
    });
    t.parent = req.port;
    t.parentSeen = JSON.stringify(cfg ?? null);
    this.recordStacks();
  }

  async detach(req: { cube: string; port: string }): Promise<void> {
    await this.fabric.detach(req.cube, req.port);
    this.recordStacks();
  }

  netdevTopology(ifname: string): JsonObject {
    const out: JsonObject = { name: ifname };
    const stack = this.fabric.netdevStack(ifname);
    const owner = this.fabric.netdevPort(ifname);
    if (!stack.length && !owner) return out;
    out["cubes, ingress_index, egress_index"] = stack.map((t) => {
      const slots = this.cubes.get(t)?.fabric.program.slots ?? {};
      return `${t},\t${slots.pcn_ingress ?? 0},\t${slots.pcn_egress ?? 0}`;
    });
    const beyond = owner ?? "stack";
    out["ingress service chain"] = [...stack, beyond].join(" ---> ");
    out["egress service chain"] = [...[...stack].reverse(), "stack"].join(" ---> ");
    return out;
  }

  netdevs(): NetdevInfo[] {
    return netdevNames()
      .filter((n) => netdevUsable(n) && !isInjectorDevice(n))
      .map((name) => {
        const info: NetdevInfo = { name };
        const mac = netdevMac(name);
        if (mac) info.description = `mac ${mac}`;
        const addresses = ipv4Addresses(name);
        if (addresses.length) info.addresses = addresses;
        return info;
      });
  }

  // ---- datapath events ---------------------------------------------------------------------

  private onEvent(rec: Uint8Array): void {
    const ev = decodeEvent(rec);
    if (!ev) return;
    const fc = this.fabric.cubeById(ev.cubeId);
    const c = fc && this.cubes.get(fc.name);
    if (!c) return;
    if (ev.type === EV_SPAN) {
      try {
        this.fabric.packetOutNs(c.fabric.name, ev.port, ev.data);
      } catch (e) {
        c.log.debug(`span: ${(e as Error).message}`);
      }
      return;
    }
    if (ev.type === EV_LOG) {
      c.log.log(LOG_LEVELS[ev.level] ?? "INFO", ev.message);
      return;
    }
    const transparent = c.fabric.kind === "transparent";
    const port = transparent ? undefined : [...c.fabric.ports.values()].find((p) => p.id === ev.port);
    const pkt = {
      portId: ev.port,
      portName: port?.name,
      direction: transparent ? ((ev.port === 0 ? "INGRESS" : "EGRESS") as Direction) : undefined,
      reason: ev.reason,
      trafficClass: ev.trafficClass,
      metadata: ev.metadata,
      data: ev.data,
    };
    Promise.resolve()
      .then(() => c.control.packetIn?.(pkt))
      .catch((e) => c.log.error(`slow path: ${(e as Error).message}`));
  }

  /** Netdevs that disappear take their peers and attachments with them, as in the original. */
  private async followNetdevs(): Promise<void> {
    const gone = await this.fabric.forgetVanishedNetdevs();
    for (const [cube, port] of gone.ports) {
      const c = this.cubes.get(cube);
      // A shadow port whose interface was deleted in the namespace goes, as in the original.
      if (c && port.startsWith(TWIN_PREFIX)) {
        const user = port.slice(TWIN_PREFIX.length);
        c.log.info(`port ${user}: its interface in ${c.fabric.shadow?.name} is gone, port removed`);
        await this.reconfigure(cube, (cfg) => {
          cfg.ports = ((cfg.ports ?? []) as JsonObject[]).filter((x) => x.name !== user);
        }).catch((e) => c.log.error(`removing port ${user}: ${(e as Error).message}`));
        continue;
      }
      c?.log.info(`port ${port}: its netdev is gone, peer cleared`);
    }
    if (gone.tcubes.length) this.recordStacks();
    for (const netdev of await this.fabric.restoreRemovedHooks()) daemonLog.warn(`${netdev}: a hook of the daemon was removed by someone else: put back`);
  }
}

/** Changes of the framework's own leaves are not the service's business. */
function serviceChanges(changes: Change[]): Change[] {
  return changes.filter(
    (ch) =>
      !(ch.path.length === 1 && ["loglevel", "type", "shadow", "span"].includes(ch.path[0]!.node)) &&
      !(ch.path.length === 2 && ch.path[0]!.node === "ports" && ch.path[1]!.node === "tcubes"),
  );
}

function ipv4Addresses(dev: string): string[] {
  // /proc/net/fib_trie does not say which device an address is on; `ip` is the reliable source.
  const r = Bun.spawnSync(["ip", "-j", "-4", "addr", "show", "dev", dev], { stdout: "pipe", stderr: "ignore" });
  try {
    const j = JSON.parse(r.stdout.toString() || "[]") as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
    return (j[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  } catch {
    return [];
  }
}

