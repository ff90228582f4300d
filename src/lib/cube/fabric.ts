// The patch panel: cubes, their ports and peers, transparent cubes stacked on ports and
// netdevs, and the netdev hooks. It checks every request against the rules of the original
// (docs/datapath.md) before changing anything, then recomputes the hops and writes those that
// changed, so the datapath always reflects the whole model.
import { ServiceError, type CubeType, type Direction, type ServiceKind, type StackPlace } from "../sdk/types.ts";
import { CubeProgram, STANDARD_ENTRIES, TRANSPARENT_ENTRIES } from "./program.ts";
import { DROP, flavourOf, HopKind, PASS, type Flavour, type Hop } from "./hops.ts";
import { NetdevHook, type HookPoint } from "./netdev-hook.ts";
import { netdevIndex, netdevUsable } from "./netdevs.ts";
import { isInjectorDevice, type Injector } from "./injector.ts";
import type { DatapathRuntime } from "./runtime.ts";
import { ShadowNamespace, TWIN_PREFIX } from "./shadow.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import { BpfError } from "../bpf/index.ts";
import type { Logger } from "../sdk/types.ts";

export const MAX_PORTS = 128;
/** pcn_cfg flags (bpf/polycube.h). */
export const CFG_SHADOW = 1;
export const CFG_SPAN = 2;
const INGRESS = 0;
const EGRESS = 1;

export interface FabricPort {
  readonly name: string;
  readonly id: number;
  readonly uuid: string;
  peer: string;
  /** Transparent cubes on this port; index 0 is nearest the cube. */
  tcubes: string[];
}

export interface FabricCube {
  readonly name: string;
  readonly service: string;
  readonly kind: ServiceKind;
  readonly type: CubeType;
  readonly flavour: Flavour;
  readonly program: CubeProgram;
  readonly ports: Map<string, FabricPort>;
  /** Transparent cubes: where `auto` stacks them (ServiceModule.stackPlace). */
  readonly stackPlace?: StackPlace;
  /** Transparent cubes: "cube:port", a netdev, or "" when detached. */
  parent: string;
  /** Shadow cubes: the namespace, and each port's hidden twin (by the port's name), peered to its interface there. */
  shadow?: ShadowNamespace;
  readonly twins: Map<string, FabricPort>;
  span: boolean;
}

/** A cube's ports and their shadow twins. */
function allPorts(c: FabricCube): FabricPort[] {
  return c.twins.size ? [...c.ports.values(), ...c.twins.values()] : [...c.ports.values()];
}

interface NetdevUse {
  readonly name: string;
  readonly ifindex: number;
  readonly flavour: Flavour;
  readonly type: CubeType;
  /** Transparent cubes on the netdev; index 0 is nearest the wire. */
  tcubes: string[];
  ingress?: NetdevHook;
  egress?: NetdevHook;
}

/** The cube a peer is checked for: it may not exist yet. */
export type PeerOwner = { name: string; type: CubeType };

export type Position = { position?: "auto" | "first" | "last"; before?: string; after?: string };

/** Where `auto` puts a transparent cube in a stack, as its service declares (rank: inner to outer). */
function autoRank(place: StackPlace | undefined): number {
  return place === "cube" ? 0 : place === "wire" ? 2 : 1;
}

function splitPeer(peer: string): [string, string] | undefined {
  const i = peer.indexOf(":");
  return i > 0 ? [peer.slice(0, i), peer.slice(i + 1)] : undefined;
}

/** The model as it was when a transaction began: what a rollback puts back. */
interface Snapshot {
  cubes: Array<{ cube: FabricCube; ports: Array<[string, FabricPort]>; twins: Array<[string, FabricPort]>; links: Array<[FabricPort, string, string[]]>; parent: string }>;
  netdevs: Array<[NetdevUse, string[]]>;
}

/** One operation on the model: all of it happens, or none of it (see Fabric.transaction). */
interface Transaction {
  snapshot: Snapshot;
  /** Run when the operation is refused (interfaces it created go). */
  undo: Array<() => void>;
  /** Run when it is accepted (interfaces of ports it removed go). */
  done: Array<() => void>;
}

const EBUSY = 16;
const EEXIST = 17;
const ENODEV = 19;
const EOPNOTSUPP = 95;

/** A netdev hook the kernel refused, as the error users see: 409 when the device is in the way, else 503. */
function hookError(netdev: string, point: HookPoint, e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  const what = point.kind === "xdp" ? `an XDP program (${point.mode} mode)` : `a TC ${point.direction} filter`;
  if (e instanceof BpfError) {
    if (e.errno === EBUSY || e.errno === EEXIST)
      return new ServiceError(`cannot attach ${what} to ${netdev}: it already has one that polycube did not put there (remove it first)`, 409);
    if (e.errno === EOPNOTSUPP) return new ServiceError(`cannot attach ${what} to ${netdev}: the device does not support it`, 409);
    if (e.errno === ENODEV) return new ServiceError(`cannot attach ${what} to ${netdev}: the device is gone`, 409);
  }
  return new ServiceError(`cannot attach ${what} to ${netdev}: ${(e as Error).message}`, 503);
}

export class Fabric {
  private readonly cubes = new Map<string, FabricCube>();
  private readonly byId = new Map<number, FabricCube>();
  private readonly netdevs = new Map<string, NetdevUse>();
  /** While a restart adopts a previous daemon's datapath, netdev hooks stay as they are (releaseHooks). */
  private hooksHeld = false;
  /** The operation under way, if any: netdev hooks it no longer wants stay attached until it is accepted. */
  private tx?: Transaction;
  /** Which transaction the code running now belongs to (a nested one joins it). */
  private readonly txContext = new AsyncLocalStorage<Transaction>();
  private txQueue: Promise<void> = Promise.resolve();

  constructor(
    private readonly runtime: DatapathRuntime,
    private readonly injector: Injector,
    private readonly log?: Logger,
  ) {}

  /**
   * Runs an operation on the model (and whatever the caller does with it, such as asking the
   * cube's service) all or nothing: when fn throws, every port, peer and stack is put back as
   * it was (the same port objects: same ids and uuids), hooks it attached are removed, and the
   * hooks it would have removed were never touched (they are removed only once fn succeeds).
   * A transaction begun inside another joins it.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.tx && this.txContext.getStore() === this.tx) return fn();
    // One at a time: another one (a change the daemon makes by itself, such as a shadow port
    // whose interface went) waits for the one under way.
    const before = this.txQueue;
    let release!: () => void;
    this.txQueue = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await this.runTransaction(fn);
    } finally {
      release();
    }
  }

  private async runTransaction<T>(fn: () => Promise<T>): Promise<T> {
    const tx: Transaction = { snapshot: this.snapshot(), undo: [], done: [] };
    this.tx = tx;
    let result: T;
    try {
      result = await this.txContext.run(tx, fn);
    } catch (e) {
      this.tx = undefined;
      this.restore(tx.snapshot);
      await this.settle("rolling back");
      for (const u of tx.undo.reverse()) this.quietly("rolling back", u);
      throw e;
    }
    this.tx = undefined;
    await this.settle("finishing");
    for (const d of tx.done) this.quietly("finishing", d);
    return result;
  }

  /** Runs a model change in the transaction under way here, or in one of its own. */
  private change<T>(fn: () => Promise<T>): Promise<T> {
    return this.transaction(fn);
  }

  private snapshot(): Snapshot {
    const cubes: Snapshot["cubes"] = [];
    for (const c of this.cubes.values()) {
      const ports = [...c.ports];
      const twins = [...c.twins];
      cubes.push({ cube: c, ports, twins, links: allPorts(c).map((p) => [p, p.peer, [...p.tcubes]]), parent: c.parent });
    }
    return { cubes, netdevs: [...this.netdevs.values()].map((u) => [u, [...u.tcubes]]) };
  }

  private restore(s: Snapshot): void {
    for (const { cube, ports, twins, links, parent } of s.cubes) {
      if (this.cubes.get(cube.name) !== cube) continue; // deleted meanwhile: nothing to put back
      for (const [map, entries] of [[cube.ports, ports], [cube.twins, twins]] as const) {
        for (const p of map.values()) if (!entries.some(([, q]) => q === p)) cube.program.setHop(p.id, DROP); // added meanwhile
        map.clear();
        for (const [k, p] of entries) map.set(k, p);
      }
      for (const [p, peer, tcubes] of links) {
        p.peer = peer;
        p.tcubes.splice(0, p.tcubes.length, ...tcubes);
      }
      cube.parent = parent;
    }
    const before = new Set(s.netdevs.map(([use]) => use));
    for (const use of this.netdevs.values()) if (!before.has(use)) use.tcubes.length = 0; // its hooks go in the relink that follows
    for (const [use, tcubes] of s.netdevs) {
      use.tcubes.splice(0, use.tcubes.length, ...tcubes);
      if (!this.netdevs.has(use.name)) this.netdevs.set(use.name, use);
    }
  }

  /** After a transaction: the hops of the model, and the hooks it wants, no more. Failures are logged: the model is already decided. */
  private async settle(what: string): Promise<void> {
    try {
      await this.relink();
    } catch (e) {
      this.log?.error(`${what}: ${(e as Error).message}`);
    }
  }

  private quietly(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log?.error(`${what}: ${(e as Error).message}`);
    }
  }

  cube(name: string): FabricCube | undefined {
    return this.cubes.get(name);
  }

  cubeById(id: number): FabricCube | undefined {
    return this.byId.get(id);
  }

  private must(name: string): FabricCube {
    const c = this.cubes.get(name);
    if (!c) throw new ServiceError(`Cube ${name} does not exist`, 404);
    return c;
  }

  // ---- cubes -------------------------------------------------------------------------------

  addCube(spec: { name: string; service: string; kind: ServiceKind; type: CubeType; stackPlace?: StackPlace; shadow?: boolean }): FabricCube {
    if (this.cubes.has(spec.name)) throw new ServiceError(`Cube ${spec.name} already exists`, 409, "data-exists", "name");
    if (spec.shadow && spec.kind !== "standard") throw new ServiceError(`Cube ${spec.name} is transparent: only standard cubes can be shadow`, 400, "invalid-value", "shadow");
    if (spec.shadow) ShadowNamespace.check(spec.name);
    const flavour = flavourOf(spec.type);
    const entries = spec.kind === "transparent" ? TRANSPARENT_ENTRIES : STANDARD_ENTRIES;
    const taken: number[] = [];
    const cubeId = this.runtime.takeCubeId();
    try {
      const slots: Record<string, number> = {};
      for (const e of entries) {
        slots[e] = this.runtime.takeSlot(flavour);
        taken.push(slots[e]);
      }
      const { shadow, ...rest } = spec;
      const cube: FabricCube = { ...rest, flavour, program: new CubeProgram(this.runtime, flavour, cubeId, slots, spec.kind === "transparent", spec.name), ports: new Map(), parent: "", twins: new Map(), span: false };
      if (shadow) {
        cube.shadow = ShadowNamespace.create(spec.name);
        cube.program.setFlags(CFG_SHADOW);
      }
      this.cubes.set(spec.name, cube);
      this.byId.set(cubeId, cube);
      return cube;
    } catch (e) {
      for (const s of taken) this.runtime.releaseSlot(flavour, s);
      this.runtime.releaseCubeId(cubeId);
      if (e instanceof ServiceError) throw e;
      throw new ServiceError(`cannot create cube ${spec.name}: ${(e as Error).message}`, 507);
    }
  }

  /** Loads (or reloads) a cube's datapath and links it into place. */
  async loadDatapath(cube: string, object: string, globals: Record<string, number | bigint | boolean> = {}): Promise<void> {
    const c = this.must(cube);
    await c.program.load(object, globals);
    await this.relink();
  }

  /** Unlinks a cube everywhere, then unloads it. Other ports that named it go DOWN. */
  async removeCube(name: string): Promise<void> {
    const c = this.cubes.get(name);
    if (!c) return;
    if (c.parent) this.unstack(c);
    for (const p of c.ports.values()) for (const t of p.tcubes) this.cubes.get(t)!.parent = "";
    c.ports.clear();
    c.twins.clear();
    this.cubes.delete(name);
    this.byId.delete(c.program.cubeId);
    // Deleting goes through whatever the hooks say: they are put right on the next change.
    if (this.txContext.getStore()) await this.relink();
    else await this.settle(`deleting cube ${name}`);
    c.program.close();
    this.runtime.releaseCubeId(c.program.cubeId);
    c.shadow?.destroy();
  }

  /** Shadow cubes: turns span mode on or off (the datapath mirrors every port's traffic into the namespace). */
  setSpan(cube: string, on: boolean): void {
    const c = this.must(cube);
    if (!c.shadow) {
      if (on) throw new ServiceError("Span mode is not present in no-shadow services", 400, "invalid-value", "span");
      return;
    }
    c.span = on;
    c.program.setFlags(CFG_SHADOW | (on ? CFG_SPAN : 0));
  }

  // ---- ports -------------------------------------------------------------------------------

  /** Checks that a port can be added with this peer; adds nothing. */
  checkPort(cube: string, port: string, peer: string): void {
    const c = this.must(cube);
    if (c.kind !== "standard") throw new ServiceError(`Cube ${cube} is transparent: it has no ports`, 400);
    if (c.ports.has(port)) throw new ServiceError(`Port ${port} already exists`, 409, "data-exists", "name");
    const max = c.shadow ? MAX_PORTS / 2 : MAX_PORTS;
    if (c.ports.size >= max) throw new ServiceError(`Cube ${cube} has the maximum of ${max} ports`, 400);
    c.shadow?.checkPort(port);
    this.checkPeer(c, port, peer);
  }

  addPort(cube: string, port: string, peer = ""): Promise<FabricPort> {
    return this.change(() => this.addPortNow(cube, port, peer));
  }

  private async addPortNow(cube: string, port: string, peer: string): Promise<FabricPort> {
    this.checkPort(cube, port, peer);
    const c = this.must(cube);
    const used = new Set(allPorts(c).map((p) => p.id));
    // A shadow cube's ports come in pairs, as in the original: the port has an even id, its twin the next one.
    const step = c.shadow ? 2 : 1;
    let id = 0;
    while (used.has(id)) id += step;
    const p: FabricPort = { name: port, id, uuid: crypto.randomUUID(), peer, tcubes: [] };
    if (c.shadow) {
      const shadow = c.shadow;
      const host = shadow.addPort(port);
      this.tx?.undo.push(() => shadow.removePort(port));
      c.twins.set(port, { name: `${TWIN_PREFIX}${port}`, id: id + 1, uuid: crypto.randomUUID(), peer: host, tcubes: [] });
    }
    c.ports.set(port, p);
    await this.relink();
    return p;
  }

  /** Removes a port: its peer is cleared and its transparent cubes are detached. */
  removePort(cube: string, port: string): Promise<void> {
    return this.change(() => this.removePortNow(cube, port));
  }

  private async removePortNow(cube: string, port: string): Promise<void> {
    const c = this.must(cube);
    const p = c.ports.get(port);
    if (!p) throw new ServiceError(`Port ${port} does not exist`, 404);
    for (const t of p.tcubes) this.cubes.get(t)!.parent = "";
    c.ports.delete(port);
    c.program.setHop(p.id, DROP);
    const twin = c.twins.get(port);
    if (twin) {
      c.twins.delete(port);
      c.program.setHop(twin.id, DROP);
    }
    await this.relink();
    // The port's interface in the namespace goes once the operation is accepted.
    const shadow = c.shadow;
    if (twin && shadow) this.tx!.done.push(() => shadow.removePort(port));
  }

  /**
   * Checks the whole port set a configuration asks of a cube, existing or about to be
   * created, before anything changes: every new or changed peer, one netdev per port, and
   * the port limit.
   */
  checkPortSet(owner: PeerOwner, want: Array<{ name: string; peer?: string }>): void {
    const current = this.cubes.get(owner.name)?.ports;
    const netdevs = new Set<string>();
    for (const p of want) {
      const peer = p.peer ?? "";
      if (peer && !splitPeer(peer)) {
        if (netdevs.has(peer)) throw new ServiceError("Iface already in use", 400, "invalid-value", "peer");
        netdevs.add(peer);
      }
      if (current?.get(p.name)?.peer === peer) continue;
      this.checkPeer(owner, p.name, peer);
    }
    if (want.length > MAX_PORTS) throw new ServiceError(`Cube ${owner.name} would have ${want.length} ports: at most ${MAX_PORTS}`, 400);
  }

  /** Throws the original's error for a peer this port cannot take. */
  checkPeer(c: PeerOwner, port: string, peer: string): void {
    if (peer === "") return;
    const self = `${c.name}:${port}`;
    const target = splitPeer(peer);
    if (target) {
      if (peer === self) throw new ServiceError(`Port ${self} cannot be its own peer`, 400, "invalid-value", "peer");
      const other = this.cubes.get(target[0]);
      if (other && other.kind === "transparent") throw new ServiceError(`Cube ${target[0]} is transparent: it has no ports`, 400, "invalid-value", "peer");
      if (other && other.flavour !== flavourOf(c.type)) throw new ServiceError("It is not possible to connect TC and XDP ports", 400, "invalid-value", "peer");
      return;
    }
    if (netdevIndex(peer) === undefined || !netdevUsable(peer) || isInjectorDevice(peer))
      throw new ServiceError(`Interface ${peer} does not exist or is down`, 400, "invalid-value", "peer");
    const user = this.portOfNetdev(peer);
    if (user && `${user[0].name}:${user[1].name}` !== self) throw new ServiceError("Iface already in use", 400, "invalid-value", "peer");
    const use = this.netdevs.get(peer);
    if (use && use.type !== c.type) throw new ServiceError(`${peer} is already used by ${use.type} cubes: ${c.name} is ${c.type}`, 400, "invalid-value", "peer");
  }

  async setPeer(cube: string, port: string, peer: string): Promise<void> {
    const c = this.must(cube);
    const p = c.ports.get(port);
    if (!p) throw new ServiceError(`Port ${port} does not exist`, 404);
    this.checkPeer(c, port, peer);
    await this.change(async () => {
      p.peer = peer;
      await this.relink();
    });
  }

  port(cube: string, port: string): FabricPort | undefined {
    return this.cubes.get(cube)?.ports.get(port);
  }

  portUp(c: FabricCube, p: FabricPort): boolean {
    const h = this.peerTarget(c, p);
    return h.kind !== HopKind.DROP;
  }

  private portOfNetdev(netdev: string): [FabricCube, FabricPort] | undefined {
    for (const c of this.cubes.values()) for (const p of allPorts(c)) if (p.peer === netdev) return [c, p];
    return undefined;
  }

  // ---- transparent cubes -------------------------------------------------------------------

  async attach(tcube: string, target: string, pos: Position = {}): Promise<void> {
    const t = this.must(tcube);
    if (t.kind !== "transparent") throw new ServiceError(`Cube ${tcube} is not transparent`, 400);
    if (t.parent) throw new ServiceError(`Cube ${tcube} is already attached`, 400);
    if ((pos.position && (pos.before || pos.after)) || (pos.before && pos.after))
      throw new ServiceError("position, before and after are mutually exclusive", 400);
    await this.change(async () => {
      const stack = this.stackFor(t, target);
      const index = this.insertionIndex(t, stack, pos, !splitPeer(target));
      stack.splice(index, 0, tcube);
      t.parent = target;
      await this.relink();
    });
  }

  async detach(tcube: string, target: string): Promise<void> {
    const t = this.cubes.get(tcube);
    if (!t || t.kind !== "transparent" || t.parent !== target) {
      if (!splitPeer(target) && netdevIndex(target) === undefined) throw new ServiceError(`netdev ${target} not found`, 404);
      throw new ServiceError("Cube doesn't exist", 404);
    }
    await this.change(async () => {
      this.unstack(t);
      await this.relink();
    });
  }

  /** The stack a transparent cube would join at `target`, after checking it may. */
  private stackFor(t: FabricCube, target: string): string[] {
    const cp = splitPeer(target);
    if (cp) {
      const c = this.must(cp[0]);
      if (c.kind === "transparent") throw new ServiceError(`Cube ${cp[0]} is transparent`, 400);
      const p = c.ports.get(cp[1]);
      if (!p) throw new ServiceError(`Port ${cp[1]} does not exist in cube ${cp[0]}`, 404);
      if (c.flavour !== t.flavour) throw new ServiceError(`${t.name} and ${c.name} have incompatible types`, 400);
      return p.tcubes;
    }
    const index = netdevIndex(target);
    if (index === undefined) throw new ServiceError(`netdev ${target} not found`, 404);
    const use = this.netdevs.get(target);
    const owner = this.portOfNetdev(target);
    const type = use?.type ?? owner?.[0].type;
    if (type && flavourOf(type) !== t.flavour) throw new ServiceError(`${t.name} and ${target} have incompatible types`, 400);
    if (use) return use.tcubes;
    // The stack lives with the netdev's hooks; relink creates them.
    const fresh: NetdevUse = { name: target, ifindex: index, flavour: t.flavour, type: type ?? t.type, tcubes: [] };
    this.netdevs.set(target, fresh);
    return fresh.tcubes;
  }

  private insertionIndex(t: FabricCube, stack: string[], pos: Position, onNetdev: boolean): number {
    const at = (name: string) => {
      const i = stack.indexOf(name);
      if (i < 0) throw new ServiceError(`Cube ${name} is not attached there`, 400);
      return i;
    };
    // "first" and "last" name the chain as packets entering it meet it, as `topology` shows.
    if (pos.before) return at(pos.before);
    if (pos.after) return at(pos.after) + 1;
    if (pos.position === "first") return 0;
    if (pos.position === "last") return stack.length;
    // auto: services that ask for it nearest the cube (nat) or the wire (ddosmitigator), others in attach order.
    const rank = (name: string) => {
      const r = autoRank(this.cubes.get(name)!.stackPlace);
      return onNetdev ? 2 - r : r;
    };
    const mine = rank(t.name);
    let i = 0;
    while (i < stack.length && rank(stack[i]!) <= mine) i++;
    return i;
  }

  private unstack(t: FabricCube): void {
    const parent = t.parent;
    t.parent = "";
    const cp = splitPeer(parent);
    const stack = cp ? this.cubes.get(cp[0])?.ports.get(cp[1])?.tcubes : this.netdevs.get(parent)?.tcubes;
    if (!stack) return;
    const i = stack.indexOf(t.name);
    if (i >= 0) stack.splice(i, 1);
  }

  /** Transparent cubes on a netdev, nearest the wire first; empty when none. */
  netdevStack(netdev: string): string[] {
    return [...(this.netdevs.get(netdev)?.tcubes ?? [])];
  }

  /** The cube port a netdev is the peer of, if any. */
  netdevPort(netdev: string): string | undefined {
    const u = this.portOfNetdev(netdev);
    return u ? `${u[0].name}:${u[1].name}` : undefined;
  }

  // ---- hops --------------------------------------------------------------------------------

  private entry(c: FabricCube, program: "pcn_ingress" | "pcn_egress", port: number): Hop {
    const index = c.program.slots[program];
    return index === undefined ? DROP : { kind: HopKind.CUBE, index, port };
  }

  private tIngress(name: string): Hop {
    return this.entry(this.cubes.get(name)!, "pcn_ingress", INGRESS);
  }

  private tEgress(name: string): Hop {
    return this.entry(this.cubes.get(name)!, "pcn_egress", EGRESS);
  }

  /**
   * A transparent cube's egress program as a netdev's TC egress hook reaches it: an XDP cube's
   * runs there in its TC companion (XDP has no egress hook).
   */
  private tEgressTc(name: string): Hop {
    const t = this.cubes.get(name)!;
    if (t.flavour === "tc") return this.tEgress(name);
    const index = t.program.tcEgressSlot;
    return index === undefined ? DROP : { kind: HopKind.CUBE, index, port: EGRESS };
  }

  /**
   * Where an XDP cube's packet for a netdev goes: through the netdev's transparent cubes'
   * egress programs, then out. XDP redirects skip the netdev's TC egress hook, so XDP cubes walk
   * that chain themselves, as the original's netdev egress chain did.
   */
  private xdpToNetdev(netdev: string): Hop {
    const stack = this.netdevs.get(netdev)?.tcubes ?? [];
    if (stack.length) return this.tEgress(stack[stack.length - 1]!);
    const ifindex = netdevIndex(netdev);
    return ifindex === undefined ? DROP : { kind: HopKind.NETDEV, ifindex };
  }

  /** Where a packet entering port P of C from its peer goes first. */
  private ingressEntry(c: FabricCube, p: FabricPort): Hop {
    return p.tcubes.length ? this.tIngress(p.tcubes[p.tcubes.length - 1]!) : this.entry(c, "pcn_ingress", p.id);
  }

  /** What lies beyond port P of C: its peer's entry, a netdev, or nothing. */
  private peerTarget(c: FabricCube, p: FabricPort): Hop {
    if (!p.peer) return DROP;
    const cp = splitPeer(p.peer);
    if (!cp) {
      const index = netdevIndex(p.peer);
      return index === undefined ? DROP : { kind: HopKind.NETDEV, ifindex: index };
    }
    const other = this.cubes.get(cp[0]);
    const op = other?.ports.get(cp[1]);
    if (!other || !op || op.peer !== `${c.name}:${p.name}` || !other.program.loaded) return DROP;
    return this.ingressEntry(other, op);
  }

  /** Where a packet leaving port P of C goes first: the port's transparent cubes, then what follows them. */
  private outHop(c: FabricCube, p: FabricPort): Hop {
    return p.tcubes.length ? this.tEgress(p.tcubes[0]!) : this.afterStack(c, p);
  }

  /**
   * What follows port P's transparent cubes on the way out. As in the original, a standard
   * cube's egress program sees only what leaves through a netdev, after the port's transparent
   * cubes and before the netdev's (its programs-chain tests expect "th2 [EGRESS]", "hw1
   * [EGRESS]", "th1 [EGRESS]", and nothing from hw1's egress program between two cubes). TC
   * cubes run it at the netdev's TC egress hook, so it also sees what the host sends there; XDP
   * redirects skip that hook, so an XDP cube runs it before redirecting.
   */
  private afterStack(c: FabricCube, p: FabricPort): Hop {
    if (c.flavour === "xdp" && this.leadsToNetdev(p)) return c.program.hasEgress ? this.entry(c, "pcn_egress", p.id) : this.xdpToNetdev(p.peer);
    return this.peerTarget(c, p);
  }

  private leadsToNetdev(p: FabricPort): boolean {
    return !!p.peer && !splitPeer(p.peer);
  }

  /** What follows a standard cube's egress program for port P. */
  private afterEgressProgram(c: FabricCube, p: FabricPort): Hop {
    if (c.flavour === "xdp") return this.leadsToNetdev(p) ? this.xdpToNetdev(p.peer) : this.peerTarget(c, p);
    const stack = this.netdevs.get(p.peer)?.tcubes ?? [];
    return stack.length ? this.tEgress(stack[stack.length - 1]!) : PASS;
  }

  /** The next hops of a transparent cube, by direction. */
  private transparentHops(t: FabricCube): [Hop, Hop] {
    const cp = splitPeer(t.parent);
    if (cp) {
      const c = this.cubes.get(cp[0]);
      const p = c?.ports.get(cp[1]);
      if (!c || !p) return [DROP, DROP];
      const i = p.tcubes.indexOf(t.name);
      const ingress = i > 0 ? this.tIngress(p.tcubes[i - 1]!) : this.entry(c, "pcn_ingress", p.id);
      const egress = i < p.tcubes.length - 1 ? this.tEgress(p.tcubes[i + 1]!) : this.afterStack(c, p);
      return [ingress, egress];
    }
    const use = this.netdevs.get(t.parent);
    if (!use) return [DROP, DROP];
    const i = use.tcubes.indexOf(t.name);
    const owner = this.portOfNetdev(use.name);
    const beyond = owner ? this.ingressEntry(owner[0], owner[1]) : PASS;
    const ingress = i < use.tcubes.length - 1 ? this.tIngress(use.tcubes[i + 1]!) : beyond;
    // Past the cube nearest the wire: the wire (TC), or a redirect out of the netdev (XDP).
    const out: Hop = t.flavour === "xdp" ? { kind: HopKind.NETDEV, ifindex: use.ifindex } : PASS;
    const egress = i > 0 ? this.tEgress(use.tcubes[i - 1]!) : out;
    return [ingress, egress];
  }

  /** An XDP transparent cube on a netdev: what follows its TC companion in the netdev's TC egress chain. */
  private tcEgressNext(t: FabricCube): Hop {
    const use = !splitPeer(t.parent) ? this.netdevs.get(t.parent) : undefined;
    const i = use ? use.tcubes.indexOf(t.name) : -1;
    return i > 0 ? this.tEgressTc(use!.tcubes[i - 1]!) : PASS;
  }

  /** Recomputes every hop and netdev hook from the model; writes only what changed. */
  async relink(): Promise<void> {
    for (const c of this.cubes.values()) {
      if (c.kind === "standard")
        for (const p of allPorts(c)) {
          if (c.program.hasEgress) c.program.setEgressNext(p.id, this.afterEgressProgram(c, p));
          c.program.setHop(p.id, this.outHop(c, p));
        }
      else {
        const [i, e] = c.parent ? this.transparentHops(c) : [DROP, DROP];
        c.program.setHop(INGRESS, i);
        c.program.setHop(EGRESS, e);
        if (c.flavour === "xdp") c.program.setTcEgressHop(this.tcEgressNext(c));
      }
    }
    await this.syncNetdevHooks();
  }

  /** Leaves every netdev hook as it is (still the previous daemon's chains) until releaseHooks. */
  holdHooks(): void {
    this.hooksHeld = true;
  }

  /** Puts the hooks of the model in place: each replaces a previous daemon's on the same hook in one step. */
  async releaseHooks(): Promise<void> {
    this.hooksHeld = false;
    await this.relink();
  }

  private async syncNetdevHooks(): Promise<void> {
    if (this.hooksHeld) return;
    // Netdevs that are some port's peer or carry transparent cubes need hooks.
    const wanted = new Map<string, { type: CubeType; ingress?: Hop; egress?: Hop }>();
    for (const c of this.cubes.values())
      for (const p of allPorts(c))
        if (this.leadsToNetdev(p) && netdevIndex(p.peer) !== undefined) {
          // A TC cube's egress program sits at the netdev's egress hook, ahead of its transparent cubes.
          const egress = c.program.hasEgress && c.flavour === "tc" ? this.entry(c, "pcn_egress", p.id) : undefined;
          wanted.set(p.peer, { type: c.type, ingress: this.ingressEntry(c, p), egress });
        }
    for (const use of this.netdevs.values()) {
      if (!use.tcubes.length) continue;
      const w = wanted.get(use.name) ?? { type: use.type };
      w.ingress = this.tIngress(use.tcubes[0]!);
      w.egress ??= this.tEgressTc(use.tcubes[use.tcubes.length - 1]!);
      wanted.set(use.name, w);
    }
    for (const [name, use] of this.netdevs) {
      const present = netdevIndex(name) === use.ifindex;
      // A hook the operation under way no longer wants stays as it is until the operation is accepted.
      if (present && (wanted.has(name) || this.tx)) continue;
      this.closeUse(use);
    }
    for (const [name, w] of wanted) {
      let use = this.netdevs.get(name);
      if (!use) {
        use = { name, ifindex: netdevIndex(name)!, flavour: flavourOf(w.type), type: w.type, tcubes: [] };
        this.netdevs.set(name, use);
      }
      try {
        await this.syncHook(use, "ingress", w.ingress);
        await this.syncHook(use, "egress", w.egress);
      } catch (e) {
        // Inside an operation it is refused (and rolled back); elsewhere (a datapath reload,
        // a cube deleted) the netdev stays without hooks, and the log says why.
        if (this.txContext.getStore()) throw e;
        this.log?.error((e as Error).message);
      }
    }
  }

  /** Removes a netdev's hooks and forgets it. */
  private closeUse(use: NetdevUse): void {
    for (const dir of ["ingress", "egress"] as const) {
      const h = use[dir];
      use[dir] = undefined;
      if (h) this.quietly(`removing the ${dir} hook of ${use.name}`, () => h.close(this.log));
    }
    if (this.netdevs.get(use.name) === use) this.netdevs.delete(use.name);
  }

  private async syncHook(use: NetdevUse, dir: "ingress" | "egress", hop: Hop | undefined): Promise<void> {
    const current = use[dir];
    if (!hop) {
      current?.close();
      use[dir] = undefined;
      return;
    }
    if (current) return current.setHop(hop);
    // XDP has no egress hook: a netdev's egress chain starts at TC egress for every cube type.
    const point: HookPoint = use.flavour === "tc" || dir === "egress" ? { kind: "tc", direction: dir } : { kind: "xdp", mode: use.type === "XDP_DRV" ? "drv" : "skb" };
    try {
      use[dir] = await NetdevHook.attach(this.runtime, use.name, point, hop);
    } catch (e) {
      throw hookError(use.name, point, e);
    }
  }

  /**
   * Netdevs that went away: ports peered to them lose their peer and transparent cubes on
   * them are detached. Returns what changed so the daemon can update the configuration.
   */
  async forgetVanishedNetdevs(): Promise<{ ports: Array<[string, string]>; tcubes: string[] }> {
    const ports: Array<[string, string]> = [];
    const tcubes: string[] = [];
    for (const c of this.cubes.values())
      for (const p of allPorts(c))
        if (p.peer && !splitPeer(p.peer) && netdevIndex(p.peer) === undefined) {
          p.peer = "";
          ports.push([c.name, p.name]);
        }
    for (const use of this.netdevs.values())
      if (netdevIndex(use.name) !== use.ifindex)
        for (const t of [...use.tcubes]) {
          this.unstack(this.cubes.get(t)!);
          tcubes.push(t);
        }
    if (ports.length || tcubes.length || [...this.netdevs.values()].some((u) => netdevIndex(u.name) !== u.ifindex)) await this.settle("following netdevs");
    return { ports, tcubes };
  }

  /**
   * Hooks someone removed behind the daemon's back (`tc qdisc del ... clsact`, `ip link set ...
   * xdp off`, a device moved away and back between two checks): put back. Returns the netdevs.
   */
  async restoreRemovedHooks(): Promise<string[]> {
    if (this.hooksHeld) return [];
    const restored: string[] = [];
    for (const use of this.netdevs.values()) {
      if (netdevIndex(use.name) !== use.ifindex) continue; // gone: forgetVanishedNetdevs' business
      for (const dir of ["ingress", "egress"] as const) {
        const h = use[dir];
        if (!h || h.present()) continue;
        h.abandon();
        use[dir] = undefined;
        if (!restored.includes(use.name)) restored.push(use.name);
      }
    }
    if (restored.length) await this.settle("putting back removed hooks");
    return restored;
  }

  // ---- packet-out --------------------------------------------------------------------------

  /** Sends a frame out of a port of a standard cube (to its peer), or into the cube on it. */
  packetOut(cube: string, port: number | string, frame: Uint8Array, recirculate = false): boolean {
    const c = this.must(cube);
    const p = typeof port === "number" ? [...c.ports.values()].find((x) => x.id === port) : c.ports.get(port);
    if (!p) throw new ServiceError(`Port ${port} does not exist in cube ${cube}`, 404);
    const hop = recirculate ? this.entry(c, "pcn_ingress", p.id) : this.outHop(c, p);
    return this.injector.send(c.flavour, hop, frame);
  }

  /** Shadow cubes: hands a frame to Linux, on the namespace's interface of a port (by id or name). */
  packetOutNs(cube: string, port: number | string, frame: Uint8Array): boolean {
    const c = this.must(cube);
    if (!c.shadow) throw new ServiceError(`Cube ${cube} is not shadow`, 400);
    const p = typeof port === "number" ? [...c.ports.values()].find((x) => x.id === port) : c.ports.get(port);
    const twin = p && c.twins.get(p.name);
    if (!twin) throw new ServiceError(`Port ${port} does not exist in cube ${cube}`, 404);
    return this.injector.send(c.flavour, this.peerTarget(c, twin), frame);
  }

  /** Continues a frame along a transparent cube's chain, or re-enters the cube. */
  packetOutDirection(cube: string, direction: Direction, frame: Uint8Array, recirculate = false): boolean {
    const t = this.must(cube);
    if (t.kind !== "transparent") throw new ServiceError(`Cube ${cube} is not transparent`, 400);
    if (!t.parent) return false;
    const d = direction === "INGRESS" ? INGRESS : EGRESS;
    const onNetdev = !splitPeer(t.parent);
    // An XDP cube's egress on a netdev continues in the TC chain: the rest of that chain runs in
    // TC companions, and a frame written out of the netdev would meet this cube's egress again.
    const viaTc = d === EGRESS && onNetdev && t.flavour === "xdp";
    const onward = viaTc ? this.tcEgressNext(t) : this.transparentHops(t)[d];
    const hop: Hop = recirculate ? (d === INGRESS ? this.tIngress(cube) : viaTc ? this.tEgressTc(cube) : this.tEgress(cube)) : onward;
    // Past the last cube of a netdev's egress chain lies the wire, past the last of its
    // ingress chain its stack: the frame must not run through that chain again.
    if (hop.kind === HopKind.PASS && onNetdev) {
      const index = netdevIndex(t.parent);
      if (index === undefined) return false;
      if (d === EGRESS) this.injector.sendToWire(index, frame);
      // Generic XDP runs again on a frame redirected into the netdev: it would loop.
      else if (t.flavour === "xdp") throw new ServiceError(`packet-out into the stack of ${t.parent} is not supported for XDP cubes`, 501);
      else this.injector.sendToStack(index, frame);
      return true;
    }
    return this.injector.send(viaTc ? "tc" : t.flavour, hop, frame);
  }

  /** Every hook and program: for shutdown. */
  async closeAll(): Promise<void> {
    for (const name of [...this.cubes.keys()]) await this.removeCube(name);
    for (const use of [...this.netdevs.values()]) this.closeUse(use);
    this.netdevs.clear();
  }
}
