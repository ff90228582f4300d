// What outlives the daemon: the runtime's shared maps, each cube's maps and the netdev hooks'
// programs, pinned under /sys/fs/bpf/polycube/<instance>/ so that a restart (or a crash) keeps
// the datapath forwarding and the next daemon adopts them (docs/datapath.md, "Restarts").
//
//   <root>/pcn_nodes_tc, pcn_nodes_xdp, pcn_events    the runtime's maps
//   <root>/cubes/<cube>/<object>/<map>                  a cube's own maps (not the framework's pcn_*)
//   <root>/hooks/<ifindex>_<point>[_q]                  the entry program on a netdev hook (_q: the
//                                                       daemon created the device's clsact qdisc)
//
// A daemon that adopts reuses what matches and, once its topology is restored, sweeps what it
// did not claim (cubes no longer in the topology, hooks no longer wanted). A daemon that does
// not adopt removes everything it finds there first (orphans of a killed daemon).
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { BpfMap, closeFd, detachTcFilter, detachXdp, kernelMapTypes, openPinned, pinFd, programInfo, tcProgramId, xdpProgramId, type BpfObject } from "../bpf/index.ts";
import { planMigration, type MigrationPlan } from "./migrate.ts";
import type { Logger } from "../sdk/types.ts";
import type { HookPoint } from "./netdev-hook.ts";

export const PIN_ROOT = "/sys/fs/bpf/polycube";

type MapSpec = { type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number };

/** A cube or object name as one bpffs path component (names such as "../x" must stay inside). */
function component(name: string): string {
  return /^[A-Za-z0-9_-]{1,200}$/.test(name) ? name : `x${Buffer.from(name).toString("hex")}`.slice(0, 250);
}

function pointKey(point: HookPoint): string {
  return point.kind === "tc" ? `tc-${point.direction}` : `xdp-${point.mode}`;
}

/** Maps of an object that belong to the cube's state: not sections (.rodata...) nor the framework's (hops, cfg). */
export function isStateMap(name: string): boolean {
  return !name.includes(".") && !name.startsWith("pcn_");
}

/** The runtime's own maps: same kind and sizes (they have no BTF). */
function sameLayout(m: BpfMap, spec: MapSpec): boolean {
  return m.type === spec.type && m.keySize === spec.keySize && m.valueSize === spec.valueSize && m.maxEntries === spec.maxEntries;
}

export class PinStore {
  readonly dir: string;
  /** Cube pin directories (cube/object) and hook pins written by this daemon: the rest is swept. */
  private readonly claimedCubes = new Set<string>();
  private readonly claimedHooks = new Set<string>();

  constructor(instance: string, readonly adopting: boolean, private readonly log: Logger) {
    this.dir = `${PIN_ROOT}/${component(instance)}`;
    if (!adopting && existsSync(this.dir)) {
      this.log.info(`removing what a previous daemon left in ${this.dir}`);
      this.removeAll();
    }
    mkdirSync(`${this.dir}/cubes`, { recursive: true });
    mkdirSync(`${this.dir}/hooks`, { recursive: true });
  }

  // ---- the runtime's maps --------------------------------------------------------------------

  /** The pinned map of that name when adopting and its layout matches; else a new one, pinned. */
  sharedMap(spec: MapSpec & { name: string }): BpfMap {
    const path = `${this.dir}/${spec.name}`;
    if (existsSync(path)) {
      if (this.adopting) {
        try {
          const m = BpfMap.fromPin(path);
          if (sameLayout(m, spec)) return m;
          this.log.warn(`pinned map ${path} has another layout: rebuilt`);
          m.close();
        } catch (e) {
          this.log.warn(`cannot adopt ${path}: ${(e as Error).message}`);
        }
      }
      unlinkSync(path);
    }
    const m = BpfMap.create(spec);
    m.pin(path);
    return m;
  }

  // ---- cubes' maps ---------------------------------------------------------------------------

  private cubePath(cube: string, object?: string): string {
    return `${this.dir}/cubes/${component(cube)}${object ? `/${component(object)}` : ""}`;
  }

  /**
   * What an object being loaded for a cube takes of the pinned maps (state maps of the same
   * name): those of the same layout to reuse (fds), those whose layout changed to convert into
   * the new maps once loaded (carryOver); the others start empty, with a warning. The caller
   * closes every fd.
   */
  adoptMaps(cube: string, object: string, obj: BpfObject): { reuse: Map<string, number>; convert: Array<{ name: string; fd: number; plan: Extract<MigrationPlan, { kind: "convert" }> }> } {
    const out = { reuse: new Map<string, number>(), convert: [] as Array<{ name: string; fd: number; plan: Extract<MigrationPlan, { kind: "convert" }> }> };
    if (!this.adopting) return out;
    const dir = this.cubePath(cube, object);
    if (!existsSync(dir)) return out;
    const declared = obj.describeMaps();
    for (const name of obj.mapNames()) {
      if (!isStateMap(name) || !existsSync(`${dir}/${name}`)) continue;
      const path = `${dir}/${name}`;
      try {
        const fd = openPinned(path);
        const m = BpfMap.fromFd(fd, name, { owned: false });
        const plan = planMigration({ type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, ...kernelMapTypes(fd) }, { ...obj.mapSpec(name), ...declared[name] });
        if (plan.kind === "reuse") out.reuse.set(name, fd);
        else if (plan.kind === "convert") out.convert.push({ name, fd, plan });
        else {
          closeFd(fd);
          this.log.warn(`cube ${cube}: map ${name} changed layout (${m.keySize}/${m.valueSize}/${m.maxEntries} bytes/entries before), ${plan.why}: its entries are not kept`);
          unlinkSync(path);
        }
      } catch (e) {
        this.log.warn(`cube ${cube}: cannot adopt map ${name}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /** After load: the entries of the previous maps whose layout changed, converted into the new ones. */
  carryOver(cube: string, obj: BpfObject, convert: Array<{ name: string; fd: number; plan: Extract<MigrationPlan, { kind: "convert" }> }>): void {
    for (const { name, fd, plan } of convert) {
      try {
        const entries = BpfMap.fromFd(fd, name, { owned: false }).entries().map(([k, v]) => [plan.key(k), plan.value(v)] as [Uint8Array, Uint8Array]);
        const target = obj.map(name);
        let kept = entries.length;
        try {
          target.updateMany(entries);
        } catch {
          // (A smaller map: as many as fit.)
          kept = 0;
          for (const [k, v] of entries) {
            try {
              target.update(k, v);
              kept++;
            } catch {
              /* full, or an index beyond the new array */
            }
          }
        }
        const notes = plan.notes.length ? ` (${plan.notes.join("; ")})` : "";
        this.log.warn(`cube ${cube}: map ${name} changed layout: ${kept} of ${entries.length} entries converted${notes}`);
      } catch (e) {
        this.log.warn(`cube ${cube}: map ${name} changed layout and its entries could not be converted: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Pins a loaded object's state maps for its cube (again after a reload: same maps). Pins of
   * maps the object no longer has (a reload of other code: dynmon's) go, and their maps with them.
   */
  pinMaps(cube: string, object: string, obj: BpfObject): void {
    const dir = this.cubePath(cube, object);
    mkdirSync(dir, { recursive: true });
    this.claimedCubes.add(`${component(cube)}/${component(object)}`);
    const names = obj.mapNames();
    for (const stale of safeList(dir)) if (!names.includes(stale)) rmSync(`${dir}/${stale}`, { force: true });
    for (const name of names) {
      if (!isStateMap(name)) continue;
      const path = `${dir}/${name}`;
      try {
        if (existsSync(path)) unlinkSync(path);
        pinFd(obj.map(name).fd, path);
      } catch (e) {
        this.log.warn(`cube ${cube}: cannot pin map ${name}: ${(e as Error).message}`);
      }
    }
  }

  /** A deleted cube: its maps are not kept. */
  dropCube(cube: string): void {
    const c = component(cube);
    for (const k of [...this.claimedCubes]) if (k.startsWith(`${c}/`)) this.claimedCubes.delete(k);
    rmSync(this.cubePath(cube), { recursive: true, force: true });
  }

  // ---- netdev hooks --------------------------------------------------------------------------

  private hookPath(ifindex: number, point: HookPoint, ownsQdisc = false): string {
    return `${this.dir}/hooks/${ifindex}_${pointKey(point)}${ownsQdisc ? "_q" : ""}`;
  }

  /**
   * The program a previous daemon left on this hook, if it is still the one attached (an fd the
   * caller closes), and whether that daemon created the device's clsact qdisc.
   */
  previousHook(ifindex: number, point: HookPoint): { fd: number; ownsQdisc: boolean } | undefined {
    if (!this.adopting) return undefined;
    for (const q of [false, true]) {
      const path = this.hookPath(ifindex, point, q);
      if (!existsSync(path)) continue;
      try {
        const fd = openPinned(path);
        if (attachedId(ifindex, point) === programInfo(fd).id) return { fd, ownsQdisc: q };
        closeFd(fd);
      } catch {
        /* gone: attach as new */
      }
    }
    return undefined;
  }

  recordHook(ifindex: number, point: HookPoint, progFd: number, ownsQdisc = false): void {
    this.forgetHook(ifindex, point);
    this.claimedHooks.add(`${ifindex}_${pointKey(point)}`);
    try {
      pinFd(progFd, this.hookPath(ifindex, point, ownsQdisc));
    } catch (e) {
      this.log.warn(`cannot pin the hook program of ifindex ${ifindex}: ${(e as Error).message}`);
    }
  }

  forgetHook(ifindex: number, point: HookPoint): void {
    this.claimedHooks.delete(`${ifindex}_${pointKey(point)}`);
    for (const q of [false, true]) rmSync(this.hookPath(ifindex, point, q), { force: true });
  }

  // ---- after adoption; clean shutdown --------------------------------------------------------

  /** Removes what this daemon did not claim: cubes gone from the topology, hooks no longer wanted. */
  sweep(): void {
    for (const cube of safeList(`${this.dir}/cubes`))
      for (const object of safeList(`${this.dir}/cubes/${cube}`))
        if (!this.claimedCubes.has(`${cube}/${object}`)) {
          this.log.info(`dropping the maps of ${cube}/${object}, no longer in the topology`);
          rmSync(`${this.dir}/cubes/${cube}/${object}`, { recursive: true, force: true });
        }
    for (const cube of safeList(`${this.dir}/cubes`)) if (!safeList(`${this.dir}/cubes/${cube}`).length) rmSync(`${this.dir}/cubes/${cube}`, { recursive: true, force: true });
    for (const hook of safeList(`${this.dir}/hooks`)) if (!this.claimedHooks.has(hook.replace(/_q$/, ""))) this.removeHook(hook);
  }

  /** Detaches a hook pin's program where it is still attached, and drops the pin. */
  private removeHook(file: string): void {
    // (A clsact qdisc it created stays: other filters may have joined it since.)
    const m = /^(\d+)_(tc-ingress|tc-egress|xdp-skb|xdp-drv)(_q)?$/.exec(file);
    const path = `${this.dir}/hooks/${file}`;
    if (m) {
      const index = Number(m[1]);
      const point: HookPoint = m[2]!.startsWith("tc") ? { kind: "tc", direction: m[2] === "tc-ingress" ? "ingress" : "egress" } : { kind: "xdp", mode: m[2] === "xdp-drv" ? "drv" : "skb" };
      try {
        const fd = openPinned(path);
        const id = programInfo(fd).id;
        closeFd(fd);
        if (attachedId(index, point) === id) {
          if (point.kind === "tc") detachTcFilter(index, point.direction);
          else detachXdp(index, point.mode);
          this.log.info(`removed a previous daemon's ${pointKey(point)} hook from ifindex ${index}`);
        }
      } catch (e) {
        this.log.warn(`hook ${file}: ${(e as Error).message}`);
      }
    }
    rmSync(path, { force: true });
  }

  /** Everything: hooks detached, pins removed (maps and programs go with their last user). */
  removeAll(): void {
    for (const hook of safeList(`${this.dir}/hooks`)) this.removeHook(hook);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function attachedId(ifindex: number, point: HookPoint): number {
  return point.kind === "tc" ? tcProgramId(ifindex, point.direction) : xdpProgramId(ifindex, point.mode);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
