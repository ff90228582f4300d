// One cube's loaded datapath: its object, the program slots its entries occupy in pcn_nodes,
// its hop table (pcn_peers) and its log level (pcn_cfg).
import type { BpfMap, BpfObject } from "../bpf/index.ts";
import { u32Bytes } from "../bpf/index.ts";
import type { LogLevel } from "../sdk/types.ts";
import { LOG_LEVELS } from "../log.ts";
import { encodeHop, sameHop, type Flavour, type Hop } from "./hops.ts";
import { DatapathRuntime } from "./runtime.ts";

/** Entry programs by name; a transparent cube has one per direction. */
export const STANDARD_ENTRIES = ["pcn_ingress"] as const;
export const TRANSPARENT_ENTRIES = ["pcn_ingress", "pcn_egress"] as const;
/** pcn_peers key of a transparent cube's EGRESS hop (PCN_EGRESS in polycube.h). */
const EGRESS_KEY = 1;

export class CubeProgram {
  private obj?: BpfObject;
  /**
   * XDP transparent cubes: the service's TC build, sharing every map of the XDP object, whose
   * egress program runs at a netdev's TC egress hook (XDP has no egress), as the original's TC
   * copy of the egress program.
   */
  private tcEgress?: BpfObject;
  /** Its slot in the TC program array. */
  tcEgressSlot?: number;
  private tcEgressHop?: Hop;
  /** Hops written so far, by key, so that a reload re-writes them. */
  private readonly hops = new Map<number, Hop>();
  /** Standard cubes with an egress program: what lies beyond each port. */
  private readonly egressHops = new Map<number, Hop>();
  private logLevel: LogLevel = "INFO";
  private flags = 0;

  constructor(
    private readonly runtime: DatapathRuntime,
    readonly flavour: Flavour,
    readonly cubeId: number,
    /** Slot of each entry program, e.g. {pcn_ingress: 5}. */
    readonly slots: Record<string, number>,
    readonly transparent = false,
    /** The cube's name: its state maps are pinned under it (runtime.pins). */
    readonly cube?: string,
  ) {}

  get loaded(): boolean {
    return !!this.obj;
  }

  /** Loads the object, or reloads it keeping every map of the previous one. */
  async load(name: string, globals: Record<string, number | bigint | boolean>): Promise<void> {
    const keep = new Map<string, number>();
    if (this.obj) for (const m of this.obj.mapNames()) if (!m.includes(".") && !DatapathRuntime.isShared(m)) keep.set(m, this.obj.map(m).fd);
    const next = await this.runtime.load(name, this.flavour, { ...globals, pcn_cube_id: this.cubeId }, keep, this.cube);
    const previous = this.obj;
    this.obj = next;
    let newSlot: number | undefined;
    try {
      // A standard cube's egress program is optional: its slot is taken when it first appears.
      if (next.hasMap("pcn_egress_next") && this.slots.pcn_egress === undefined) {
        newSlot = this.runtime.takeSlot(this.flavour);
        this.slots.pcn_egress = newSlot;
      }
      if (!previous) {
        this.writeLogLevel();
        for (const [k, h] of this.hops) this.peers().update(u32Bytes(k), encodeHop(h));
        for (const [k, h] of this.egressHops) next.map("pcn_egress_next").update(u32Bytes(k), encodeHop(h));
      }
      for (const [entry, slot] of Object.entries(this.slots)) this.runtime.nodes[this.flavour].setProgram(slot, next.program(entry).fd);
      if (this.flavour === "xdp" && this.transparent) await this.loadTcEgress(name, globals, next);
    } catch (e) {
      this.obj = previous;
      if (newSlot !== undefined) {
        delete this.slots.pcn_egress;
        this.runtime.releaseSlot(this.flavour, newSlot);
      }
      next.close();
      throw e;
    }
    previous?.close();
  }

  /**
   * Loads (or reloads) the TC companion of an XDP transparent cube over the XDP object's maps,
   * all but its hop table: what follows the cube differs between the netdev's TC egress chain
   * (packets from the host) and the XDP one (packets that XDP cubes redirect there).
   */
  private async loadTcEgress(name: string, globals: Record<string, number | bigint | boolean>, main: BpfObject): Promise<void> {
    const keep = new Map<string, number>();
    for (const m of main.mapNames()) if (!m.includes(".") && !DatapathRuntime.isShared(m) && m !== "pcn_peers") keep.set(m, main.map(m).fd);
    const companion = await this.runtime.load(name, "tc", { ...globals, pcn_cube_id: this.cubeId }, keep);
    try {
      if (this.tcEgressHop) companion.map("pcn_peers").update(u32Bytes(EGRESS_KEY), encodeHop(this.tcEgressHop));
      if (this.tcEgressSlot === undefined) this.tcEgressSlot = this.runtime.takeSlot("tc");
      this.runtime.nodes.tc.setProgram(this.tcEgressSlot, companion.program("pcn_egress").fd);
    } catch (e) {
      companion.close();
      throw e;
    }
    this.tcEgress?.close();
    this.tcEgress = companion;
  }

  /** XDP transparent cubes on a netdev: what follows the TC companion's egress program. */
  setTcEgressHop(hop: Hop): void {
    if (this.tcEgressHop && sameHop(this.tcEgressHop, hop)) return;
    this.tcEgressHop = hop;
    this.tcEgress?.map("pcn_peers").update(u32Bytes(EGRESS_KEY), encodeHop(hop));
  }

  /** True when the loaded datapath has a standard cube's egress program. */
  get hasEgress(): boolean {
    return this.slots.pcn_egress !== undefined && !!this.obj?.hasMap("pcn_egress_next");
  }

  /** Standard cubes with an egress program: where a packet goes after it, per port. */
  setEgressNext(port: number, hop: Hop): void {
    const before = this.egressHops.get(port);
    if (before && sameHop(before, hop)) return;
    this.egressHops.set(port, hop);
    if (this.obj?.hasMap("pcn_egress_next")) this.obj.map("pcn_egress_next").update(u32Bytes(port), encodeHop(hop));
  }

  private peers(): BpfMap {
    if (!this.obj) throw new Error("the datapath is not loaded");
    return this.obj.map("pcn_peers");
  }

  /** Points a port (standard cube) or a direction (transparent cube) at a hop. */
  setHop(key: number, hop: Hop): void {
    const before = this.hops.get(key);
    if (before && sameHop(before, hop)) return;
    this.hops.set(key, hop);
    if (this.obj) this.peers().update(u32Bytes(key), encodeHop(hop));
  }

  hop(key: number): Hop | undefined {
    return this.hops.get(key);
  }

  setLogLevel(level: LogLevel): void {
    this.logLevel = level;
    if (this.obj) this.writeLogLevel();
  }

  /** Run-time switches of the datapath (PCN_CFG_* in bpf/polycube.h): shadow and span. */
  setFlags(flags: number): void {
    this.flags = flags;
    if (this.obj) this.writeLogLevel();
  }

  private writeLogLevel(): void {
    const v = new Uint8Array(8);
    new DataView(v.buffer).setUint32(0, LOG_LEVELS.indexOf(this.logLevel), true);
    new DataView(v.buffer).setUint32(4, this.flags, true);
    this.obj!.map("pcn_cfg").update(u32Bytes(0), v);
  }

  map(name: string): BpfMap {
    if (!this.obj) throw new Error(`map ${name}: the datapath is not loaded`);
    return this.obj.map(name);
  }

  mapNames(): string[] {
    return this.obj ? this.obj.mapNames().filter((m) => !m.includes(".") && !m.startsWith("pcn_")) : [];
  }

  /** Empties the slots and unloads the object. */
  close(): void {
    for (const slot of Object.values(this.slots)) this.runtime.releaseSlot(this.flavour, slot);
    if (this.tcEgressSlot !== undefined) this.runtime.releaseSlot("tc", this.tcEgressSlot);
    this.tcEgressSlot = undefined;
    this.tcEgress?.close();
    this.tcEgress = undefined;
    this.obj?.close();
    this.obj = undefined;
    if (this.cube !== undefined) this.runtime.pins?.dropCube(this.cube);
  }
}
