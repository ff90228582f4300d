// 802.1D (1998) spanning tree, one instance per VLAN: the elements of procedure of clause 8
// (root and designated port selection, port states with the forward-delay walk, message-age
// expiry, topology-change notification and acknowledgement, the hold timer), driven by BPDUs
// from the slow path and by tick(). Pure: it sends through a callback and reads a clock, so it
// runs the same against the kernel and in unit tests.

export enum PortState {
  DISABLED = 0,
  BLOCKING = 1,
  LISTENING = 2,
  LEARNING = 3,
  FORWARDING = 4,
}

export const STATE_NAMES: Record<PortState, string> = {
  [PortState.DISABLED]: "disabled",
  [PortState.BLOCKING]: "blocking",
  [PortState.LISTENING]: "listening",
  [PortState.LEARNING]: "learning",
  [PortState.FORWARDING]: "forwarding",
};

export interface ConfigBpdu {
  type: "config";
  tc: boolean;
  tca: boolean;
  rootId: bigint;
  rootPathCost: number;
  bridgeId: bigint;
  portId: number;
  /** Seconds (the wire carries 1/256 s). */
  messageAge: number;
  maxAge: number;
  helloTime: number;
  forwardDelay: number;
}

export interface TcnBpdu {
  type: "tcn";
}

export type Bpdu = ConfigBpdu | TcnBpdu;

/** Seconds. */
export interface StpTimers {
  helloTime: number;
  maxAge: number;
  forwardDelay: number;
}

export interface StpPortConfig {
  /** The cube's port id; the STP port number is id + 1. */
  id: number;
  priority: number;
  pathCost: number;
}

/** The model's defaults (the original's: a forward delay of 10 s, not 802.1D's 15). */
export const DEFAULT_TIMERS: StpTimers = { helloTime: 2, maxAge: 20, forwardDelay: 10 };
export const DEFAULT_PRIORITY = 32768;
export const DEFAULT_PORT_PRIORITY = 128;
export const DEFAULT_PATH_COST = 4;
const HOLD_TIME = 1;
const MESSAGE_AGE_INCR = 1 / 256;

export function bridgeIdOf(priority: number, mac: string): bigint {
  return (BigInt(priority & 0xffff) << 48n) | BigInt(`0x${mac.replace(/:/g, "")}`);
}

export function formatBridgeId(id: bigint): string {
  const hex = id.toString(16).padStart(16, "0");
  return `${Number.parseInt(hex.slice(0, 4), 16)}.${hex.slice(4).match(/../g)!.join(":")}`;
}

function portIdentifier(priority: number, id: number): number {
  return ((priority & 0xff) << 8) | ((id + 1) & 0xff);
}

interface Port {
  id: number;
  portId: number;
  pathCost: number;
  state: PortState;
  /** Link up, as the daemon reports it. */
  up: boolean;
  designatedRoot: bigint;
  designatedCost: number;
  designatedBridge: bigint;
  designatedPort: number;
  topologyChangeAck: boolean;
  configPending: boolean;
  /** When the recorded information was sent by the root (now - its message age). */
  infoBorn: number;
  messageAgeTimer?: number;
  forwardDelayTimer?: number;
  holdTimer?: number;
}

export interface StpEvents {
  send(portId: number, bpdu: Bpdu): void;
  /** A port's state changed. */
  stateChanged?(portId: number, state: PortState): void;
  /** This bridge detected a topology change, or heard of one from the root. */
  topologyChange?(): void;
}

export class StpInstance {
  private readonly ports = new Map<number, Port>();
  private designatedRoot: bigint;
  private rootPathCost = 0;
  private rootPort: number | undefined;
  private current: StpTimers;
  private topologyChangeDetected = false;
  /** The flag the root sets in its BPDUs while the network ages its tables quickly. */
  private tcFlag = false;
  private helloTimer?: number;
  private tcnTimer?: number;
  private topologyChangeTimer?: number;

  constructor(
    private bridgeId: bigint,
    private timers: StpTimers,
    private readonly events: StpEvents,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.designatedRoot = bridgeId;
    this.current = { ...timers };
    this.helloTimer = this.clock();
  }

  // ---- configuration -------------------------------------------------------------------------

  /** The ports that carry this instance's VLAN: new ones start disabled until their link is up. */
  setPorts(configs: StpPortConfig[]): void {
    const want = new Map(configs.map((c) => [c.id, c]));
    let changed = false;
    for (const id of [...this.ports.keys()]) {
      if (want.has(id)) continue;
      this.setPortUp(id, false);
      this.ports.delete(id);
      changed = true;
    }
    for (const c of configs) {
      const p = this.ports.get(c.id);
      const portId = portIdentifier(c.priority, c.id);
      if (!p) {
        this.ports.set(c.id, {
          id: c.id, portId, pathCost: c.pathCost, state: PortState.DISABLED, up: false,
          designatedRoot: this.designatedRoot, designatedCost: this.rootPathCost, designatedBridge: this.bridgeId, designatedPort: portId,
          topologyChangeAck: false, configPending: false, infoBorn: 0,
        });
        continue;
      }
      if (p.portId !== portId) {
        if (this.isDesignated(p)) p.designatedPort = portId;
        p.portId = portId;
        changed = true;
      }
      if (p.pathCost !== c.pathCost) {
        p.pathCost = c.pathCost;
        changed = true;
      }
    }
    if (changed) this.reselect();
  }

  setBridgeId(id: bigint): void {
    if (id === this.bridgeId) return;
    const wasRoot = this.isRoot();
    for (const p of this.ports.values()) {
      if (!this.isDesignated(p)) continue;
      p.designatedBridge = id;
      p.designatedRoot = p.designatedRoot === this.bridgeId ? id : p.designatedRoot;
    }
    if (this.designatedRoot === this.bridgeId) this.designatedRoot = id;
    this.bridgeId = id;
    this.reselect(wasRoot);
  }

  setTimers(t: StpTimers): void {
    this.timers = { ...t };
    if (this.isRoot()) this.current = { ...t };
  }

  /** Link state of a port, as the daemon reports it. */
  setPortUp(id: number, up: boolean): void {
    const p = this.ports.get(id);
    if (!p || p.up === up) return;
    p.up = up;
    if (up) {
      this.initializePort(p);
      this.portStateSelection();
      return;
    }
    const wasRoot = this.isRoot();
    this.becomeDesignated(p);
    this.setState(p, PortState.DISABLED);
    p.topologyChangeAck = false;
    p.configPending = false;
    p.messageAgeTimer = p.forwardDelayTimer = p.holdTimer = undefined;
    this.reselect(wasRoot);
  }

  // ---- what it looks like ----------------------------------------------------------------------

  state(id: number): PortState {
    return this.ports.get(id)?.state ?? PortState.DISABLED;
  }

  isRoot(): boolean {
    return this.designatedRoot === this.bridgeId;
  }

  get root(): bigint {
    return this.designatedRoot;
  }

  get rootPortId(): number | undefined {
    return this.rootPort;
  }

  get pathCostToRoot(): number {
    return this.rootPathCost;
  }

  /** Tables age in forward-delay time while this is true. */
  get fastAging(): boolean {
    return this.tcFlag;
  }

  get forwardDelay(): number {
    return this.current.forwardDelay;
  }

  // ---- BPDUs -----------------------------------------------------------------------------------

  receive(id: number, bpdu: Bpdu): void {
    const p = this.ports.get(id);
    if (!p || p.state === PortState.DISABLED) return;
    if (bpdu.type === "tcn") {
      if (this.isDesignated(p)) {
        this.topologyChangeDetection();
        p.topologyChangeAck = true;
        this.transmitConfig(p);
      }
      return;
    }
    if (bpdu.messageAge >= bpdu.maxAge) return;
    if (this.supersedes(p, bpdu)) {
      const wasRoot = this.isRoot();
      p.designatedRoot = bpdu.rootId;
      p.designatedCost = bpdu.rootPathCost;
      p.designatedBridge = bpdu.bridgeId;
      p.designatedPort = bpdu.portId;
      p.infoBorn = this.clock() - bpdu.messageAge * 1000;
      p.messageAgeTimer = this.clock() + (bpdu.maxAge - bpdu.messageAge) * 1000;
      this.configurationUpdate();
      this.portStateSelection();
      if (!this.isRoot() && wasRoot) {
        this.helloTimer = undefined;
        if (this.topologyChangeDetected) {
          this.topologyChangeTimer = undefined;
          this.transmitTcn();
          this.tcnTimer = this.clock() + this.timers.helloTime * 1000;
        }
      }
      if (p.id === this.rootPort) {
        this.current = { maxAge: bpdu.maxAge, helloTime: bpdu.helloTime, forwardDelay: bpdu.forwardDelay };
        this.setTcFlag(bpdu.tc);
        this.configBpduGeneration();
        if (bpdu.tca) {
          this.topologyChangeDetected = false;
          this.tcnTimer = undefined;
        }
      }
    } else if (this.isDesignated(p)) {
      this.transmitConfig(p);
    }
  }

  // ---- timers ----------------------------------------------------------------------------------

  tick(): void {
    const now = this.clock();
    const due = (t: number | undefined) => t !== undefined && t <= now;
    for (const p of this.ports.values()) {
      if (due(p.holdTimer)) {
        p.holdTimer = undefined;
        if (p.configPending) this.transmitConfig(p);
      }
    }
    if (due(this.helloTimer)) {
      this.configBpduGeneration();
      this.helloTimer = now + this.current.helloTime * 1000;
    }
    if (due(this.tcnTimer)) {
      this.transmitTcn();
      this.tcnTimer = now + this.timers.helloTime * 1000;
    }
    if (due(this.topologyChangeTimer)) {
      this.topologyChangeTimer = undefined;
      this.topologyChangeDetected = false;
      this.setTcFlag(false);
    }
    for (const p of this.ports.values()) {
      if (due(p.messageAgeTimer)) {
        p.messageAgeTimer = undefined;
        const wasRoot = this.isRoot();
        this.becomeDesignated(p);
        this.reselect(wasRoot);
      }
      if (due(p.forwardDelayTimer)) {
        p.forwardDelayTimer = undefined;
        if (p.state === PortState.LISTENING) {
          this.setState(p, PortState.LEARNING);
          p.forwardDelayTimer = now + this.current.forwardDelay * 1000;
        } else if (p.state === PortState.LEARNING) {
          this.setState(p, PortState.FORWARDING);
          if ([...this.ports.values()].some((q) => q.designatedBridge === this.bridgeId)) this.topologyChangeDetection();
        }
      }
    }
  }

  // ---- elements of procedure -------------------------------------------------------------------

  private isDesignated(p: Port): boolean {
    return p.designatedBridge === this.bridgeId && p.designatedPort === p.portId;
  }

  private supersedes(p: Port, b: ConfigBpdu): boolean {
    if (b.rootId !== p.designatedRoot) return b.rootId < p.designatedRoot;
    if (b.rootPathCost !== p.designatedCost) return b.rootPathCost < p.designatedCost;
    if (b.bridgeId !== p.designatedBridge) return b.bridgeId < p.designatedBridge;
    // Our own BPDU looped back on another port, or the same designated bridge again.
    if (b.bridgeId !== this.bridgeId) return true;
    return b.portId <= p.designatedPort;
  }

  private becomeDesignated(p: Port): void {
    p.designatedRoot = this.designatedRoot;
    p.designatedCost = this.rootPathCost;
    p.designatedBridge = this.bridgeId;
    p.designatedPort = p.portId;
  }

  private initializePort(p: Port): void {
    this.becomeDesignated(p);
    this.setState(p, PortState.BLOCKING);
    p.topologyChangeAck = false;
    p.configPending = false;
    p.messageAgeTimer = p.forwardDelayTimer = p.holdTimer = undefined;
  }

  /** Root and designated ports anew, port states, and becoming root if that is the outcome. */
  private reselect(wasRoot = this.isRoot()): void {
    this.configurationUpdate();
    this.portStateSelection();
    if (this.isRoot() && !wasRoot) {
      this.current = { ...this.timers };
      this.topologyChangeDetection();
      this.tcnTimer = undefined;
      this.configBpduGeneration();
      this.helloTimer = this.clock() + this.current.helloTime * 1000;
    }
  }

  private configurationUpdate(): void {
    let best: Port | undefined;
    for (const p of this.ports.values()) {
      if (p.state === PortState.DISABLED || this.isDesignated(p) || p.designatedRoot >= this.bridgeId) continue;
      if (!best || this.betterRootPort(p, best)) best = p;
    }
    this.rootPort = best?.id;
    if (best) {
      this.designatedRoot = best.designatedRoot;
      this.rootPathCost = best.designatedCost + best.pathCost;
    } else {
      this.designatedRoot = this.bridgeId;
      this.rootPathCost = 0;
    }
    for (const p of this.ports.values()) {
      if (p.state === PortState.DISABLED) continue;
      if (
        this.isDesignated(p) ||
        p.designatedRoot !== this.designatedRoot ||
        this.rootPathCost < p.designatedCost ||
        (this.rootPathCost === p.designatedCost &&
          (this.bridgeId < p.designatedBridge || (this.bridgeId === p.designatedBridge && p.portId <= p.designatedPort)))
      )
        this.becomeDesignated(p);
    }
  }

  private betterRootPort(p: Port, q: Port): boolean {
    if (p.designatedRoot !== q.designatedRoot) return p.designatedRoot < q.designatedRoot;
    const pc = p.designatedCost + p.pathCost;
    const qc = q.designatedCost + q.pathCost;
    if (pc !== qc) return pc < qc;
    if (p.designatedBridge !== q.designatedBridge) return p.designatedBridge < q.designatedBridge;
    if (p.designatedPort !== q.designatedPort) return p.designatedPort < q.designatedPort;
    return p.portId < q.portId;
  }

  private portStateSelection(): void {
    for (const p of this.ports.values()) {
      if (p.state === PortState.DISABLED) continue;
      if (p.id === this.rootPort) {
        p.configPending = false;
        p.topologyChangeAck = false;
        this.makeForwarding(p);
      } else if (this.isDesignated(p)) {
        p.messageAgeTimer = undefined;
        this.makeForwarding(p);
      } else {
        p.configPending = false;
        p.topologyChangeAck = false;
        this.makeBlocking(p);
      }
    }
  }

  private makeForwarding(p: Port): void {
    if (p.state !== PortState.BLOCKING) return;
    this.setState(p, PortState.LISTENING);
    p.forwardDelayTimer = this.clock() + this.current.forwardDelay * 1000;
  }

  private makeBlocking(p: Port): void {
    if (p.state === PortState.DISABLED || p.state === PortState.BLOCKING) return;
    if (p.state === PortState.FORWARDING || p.state === PortState.LEARNING) this.topologyChangeDetection();
    this.setState(p, PortState.BLOCKING);
    p.forwardDelayTimer = undefined;
  }

  private setState(p: Port, s: PortState): void {
    if (p.state === s) return;
    p.state = s;
    this.events.stateChanged?.(p.id, s);
  }

  private setTcFlag(on: boolean): void {
    const rising = on && !this.tcFlag;
    this.tcFlag = on;
    if (rising) this.events.topologyChange?.();
  }

  private topologyChangeDetection(): void {
    if (this.isRoot()) {
      this.setTcFlag(true);
      this.topologyChangeTimer = this.clock() + (this.timers.maxAge + this.timers.forwardDelay) * 1000;
    } else if (!this.topologyChangeDetected) {
      this.transmitTcn();
      this.tcnTimer = this.clock() + this.timers.helloTime * 1000;
      this.events.topologyChange?.();
    }
    this.topologyChangeDetected = true;
  }

  private configBpduGeneration(): void {
    for (const p of this.ports.values()) if (this.isDesignated(p) && p.state !== PortState.DISABLED) this.transmitConfig(p);
  }

  private transmitConfig(p: Port): void {
    if (p.holdTimer !== undefined) {
      p.configPending = true;
      return;
    }
    const root = this.rootPort === undefined ? undefined : this.ports.get(this.rootPort);
    const messageAge = root ? (this.clock() - root.infoBorn) / 1000 + MESSAGE_AGE_INCR : 0;
    if (messageAge >= this.current.maxAge) return;
    this.events.send(p.id, {
      type: "config",
      tc: this.tcFlag,
      tca: p.topologyChangeAck,
      rootId: this.designatedRoot,
      rootPathCost: this.rootPathCost,
      bridgeId: this.bridgeId,
      portId: p.portId,
      messageAge,
      ...this.current,
    });
    p.topologyChangeAck = false;
    p.configPending = false;
    p.holdTimer = this.clock() + Math.min(HOLD_TIME, this.current.helloTime) * 1000;
  }

  private transmitTcn(): void {
    if (this.rootPort !== undefined) this.events.send(this.rootPort, { type: "tcn" });
  }
}

// ---- wire format ---------------------------------------------------------------------------------

export const BPDU_MAC = "01:80:c2:00:00:00";
const LLC = [0x42, 0x42, 0x03];

/** The BPDU as it follows the 802.3 length field: LLC header, then the BPDU. */
export function encodeBpdu(b: Bpdu): Uint8Array {
  if (b.type === "tcn") return Uint8Array.from([...LLC, 0, 0, 0, 0x80]);
  const out = new Uint8Array(3 + 35);
  out.set(LLC, 0);
  const v = new DataView(out.buffer, 3);
  v.setUint16(0, 0);
  v.setUint8(2, 0);
  v.setUint8(3, 0);
  v.setUint8(4, (b.tc ? 0x01 : 0) | (b.tca ? 0x80 : 0));
  v.setBigUint64(5, b.rootId);
  v.setUint32(13, b.rootPathCost >>> 0);
  v.setBigUint64(17, b.bridgeId);
  v.setUint16(25, b.portId);
  const t = (s: number) => Math.min(0xffff, Math.round(s * 256));
  v.setUint16(27, t(b.messageAge));
  v.setUint16(29, t(b.maxAge));
  v.setUint16(31, t(b.helloTime));
  v.setUint16(33, t(b.forwardDelay));
  return out;
}

/** A BPDU from the bytes after the 802.3 length field, or undefined if it is not one. */
export function decodeBpdu(llc: Uint8Array): Bpdu | undefined {
  if (llc.length < 7 || llc[0] !== 0x42 || llc[1] !== 0x42 || llc[2] !== 0x03) return undefined;
  const v = new DataView(llc.buffer, llc.byteOffset + 3, llc.byteLength - 3);
  if (v.getUint16(0) !== 0) return undefined;
  const type = v.getUint8(3);
  if (type === 0x80) return { type: "tcn" };
  if (type !== 0x00 || v.byteLength < 35) return undefined;
  const flags = v.getUint8(4);
  const t = (o: number) => v.getUint16(o) / 256;
  return {
    type: "config",
    tc: (flags & 0x01) !== 0,
    tca: (flags & 0x80) !== 0,
    rootId: v.getBigUint64(5),
    rootPathCost: v.getUint32(13),
    bridgeId: v.getBigUint64(17),
    portId: v.getUint16(25),
    messageAge: t(27),
    maxAge: t(29),
    helloTime: t(31),
    forwardDelay: t(33),
  };
}
