// The daemon's datapath runtime: the maps every object shares (one program array per flavour,
// one ring buffer for packet-in and logs), program slots and cube ids, and loading a service's
// object into them. One per daemon.
import { BpfMap, BpfObject, closeFd, embeddedObject, MapType, RingBufferReader, u32Bytes } from "../bpf/index.ts";
import type { Flavour } from "./hops.ts";
import type { PinStore } from "./pins.ts";

/** Slots 1..1022 of pcn_nodes; 0 means "nothing" and 1023 is kept free, as in the original. */
const FIRST_SLOT = 1;
const LAST_SLOT = 1022;
/** Cube ids tag ring-buffer records (u16). */
const MAX_CUBE_ID = 1021;
const RING_BYTES = 1 << 22;

/** Maps that are the runtime's, never the object's own. */
const SHARED_MAPS = ["pcn_nodes", "pcn_events"] as const;

class IdPool {
  private readonly used = new Set<number>();
  constructor(private readonly first: number, private readonly last: number, private readonly what: string) {}
  take(): number {
    for (let i = this.first; i <= this.last; i++)
      if (!this.used.has(i)) {
        this.used.add(i);
        return i;
      }
    throw new Error(`no free ${this.what} (at most ${this.last - this.first + 1})`);
  }
  give(i: number): void {
    this.used.delete(i);
  }
  /** Marks an id taken (by a previous daemon's program still in place). */
  hold(i: number): void {
    this.used.add(i);
  }
}

export class DatapathRuntime {
  readonly nodes: Record<Flavour, BpfMap>;
  readonly events: BpfMap;
  private readonly slots: Record<Flavour, IdPool> = {
    tc: new IdPool(FIRST_SLOT, LAST_SLOT, "TC program slot"),
    xdp: new IdPool(FIRST_SLOT, LAST_SLOT, "XDP program slot"),
  };
  private readonly cubeIds = new IdPool(0, MAX_CUBE_ID, "cube id");
  private reader?: RingBufferReader;
  /** Slots a previous daemon's programs still occupy (adopted program arrays): emptied by sweepStaleSlots. */
  private readonly stale: Record<Flavour, number[]> = { tc: [], xdp: [] };

  /**
   * pins: the maps are pinned (and, when adopting, the previous daemon's are reused: its
   * programs keep running from their slots, which new cubes do not take until swept).
   */
  constructor(readonly pins?: PinStore) {
    const make = (spec: { type: number; name: string; keySize: number; valueSize: number; maxEntries: number }) => (pins ? pins.sharedMap(spec) : BpfMap.create(spec));
    const progArray = (name: string) => make({ type: MapType.PROG_ARRAY, name, keySize: 4, valueSize: 4, maxEntries: 1024 });
    this.nodes = { tc: progArray("pcn_nodes_tc"), xdp: progArray("pcn_nodes_xdp") };
    this.events = make({ type: MapType.RINGBUF, name: "pcn_events", keySize: 0, valueSize: 0, maxEntries: RING_BYTES });
    if (pins?.adopting)
      for (const f of ["tc", "xdp"] as const)
        for (let slot = FIRST_SLOT; slot <= LAST_SLOT; slot++) {
          let used = false;
          try {
            used = this.nodes[f].lookup(u32Bytes(slot)) !== undefined;
          } catch {
            used = false;
          }
          if (used) {
            this.slots[f].hold(slot);
            this.stale[f].push(slot);
          }
        }
  }

  /** After adoption: empties the slots of the previous daemon's programs that nothing reaches any more. */
  sweepStaleSlots(): number {
    let n = 0;
    for (const f of ["tc", "xdp"] as const) {
      for (const slot of this.stale[f]) {
        this.releaseSlot(f, slot);
        n++;
      }
      this.stale[f] = [];
    }
    return n;
  }

  /** Starts delivering ring-buffer records (packet-in and datapath logs). */
  async startEvents(onRecord: (data: Uint8Array) => void, onError: (e: Error) => void): Promise<void> {
    this.reader = new RingBufferReader(this.events.fd, "slow path ring buffer");
    await this.reader.start(onRecord, onError);
  }

  takeSlot(flavour: Flavour): number {
    try {
      return this.slots[flavour].take();
    } catch (e) {
      // Adopting with more than half the slots in use: a previous daemon's slot is overwritten
      // (its chain may drop packets until the hooks switch) rather than a cube refused.
      const slot = this.stale[flavour].pop();
      if (slot === undefined) throw e;
      return slot;
    }
  }

  /** Empties a slot: tail calls to it fail from now on, and the packets are dropped. */
  releaseSlot(flavour: Flavour, slot: number): void {
    this.nodes[flavour].clearProgram(slot);
    this.slots[flavour].give(slot);
  }

  takeCubeId(): number {
    return this.cubeIds.take();
  }

  releaseCubeId(id: number): void {
    this.cubeIds.give(id);
  }

  /**
   * Opens an embedded object ("<name>.<flavour>"), points its shared maps at the runtime's,
   * makes the maps named in `keep` reuse existing ones (a reload keeps its state), sets the
   * read-only globals, and loads it.
   */
  async load(name: string, flavour: Flavour, globals: Record<string, number | bigint | boolean>, keep: Map<string, number> = new Map(), pinFor?: string): Promise<BpfObject> {
    return this.loadBytes(await embeddedObject(`${name}.${flavour}`), name, flavour, globals, keep, pinFor);
  }

  /** As load(), from an object's bytes (a plug-in's, checked before it is registered). */
  loadBytes(bytes: Uint8Array, name: string, flavour: Flavour, globals: Record<string, number | bigint | boolean>, keep: Map<string, number> = new Map(), pinFor?: string): BpfObject {
    const obj = BpfObject.open(bytes, name);
    // pinFor (a cube's name): its state maps are pinned; a first load adopts the pinned ones
    // (reused as they are, or, when the layout changed, converted into the new maps).
    let adopted: ReturnType<PinStore["adoptMaps"]> = { reuse: new Map(), convert: [] };
    try {
      if (pinFor !== undefined && this.pins && keep.size === 0) adopted = this.pins.adoptMaps(pinFor, name, obj);
      for (const m of SHARED_MAPS) if (obj.hasMap(m)) obj.reuseMap(m, m === "pcn_nodes" ? this.nodes[flavour].fd : this.events.fd);
      for (const [m, fd] of keep) if (obj.hasMap(m)) obj.reuseMap(m, fd);
      for (const [m, fd] of adopted.reuse) obj.reuseMap(m, fd);
      obj.setGlobals(globals);
      obj.load();
      if (adopted.convert.length) this.pins!.carryOver(pinFor!, obj, adopted.convert);
    } catch (e) {
      obj.close();
      throw e;
    } finally {
      for (const fd of adopted.reuse.values()) closeFd(fd); // libbpf holds its own copies
      for (const c of adopted.convert) closeFd(c.fd);
    }
    if (pinFor !== undefined && this.pins) this.pins.pinMaps(pinFor, name, obj);
    return obj;
  }

  static isShared(map: string): boolean {
    return (SHARED_MAPS as readonly string[]).includes(map);
  }

  /** keepPins: the pinned maps stay (a restart that keeps forwarding); else the pins go too. */
  async close(keepPins = false): Promise<void> {
    await this.reader?.stop();
    this.nodes.tc.close();
    this.nodes.xdp.close();
    this.events.close();
    if (!keepPins) this.pins?.removeAll();
  }
}
