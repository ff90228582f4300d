// bridge: an 802.1Q learning bridge with access and trunk ports and per-VLAN spanning tree.
//
// The datapath (bridge.bpf.c) classifies each frame into a VLAN, learns (VLAN, MAC) -> port,
// forwards known unicast destinations (re-tagging per output port) and sends the rest here:
//   FLOODING: a copy out of every other UP port that carries the VLAN and forwards in it,
//             tagged or untagged as that port wants;
//   BPDU:     to the VLAN's spanning-tree instance (stp.ts), when spanning tree is on.
// This control plane keeps the datapath's maps in sync with the configuration and the
// spanning-tree port states, ages the filtering database (quickly during topology changes),
// and answers GET with the live state: port states, learned entries, the MACs in use.
import { u32 } from "../../lib/bpf/codec.ts";
import { typedMap, type TypedMapAccess } from "../../lib/sdk/maps.ts";
import type { MapMirror, TypedMirror } from "../../lib/sdk/mirror.ts";
import { ServiceError, type CubeContext, type MapAccess, type CubeControl, type Json, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import { ageOf, bootSeconds, DEFAULT_AGING_TIME, ENTRY_STATIC, fdbValue, isExpired } from "../../lib/sdk/fdb.ts";
import yang from "./bridge.yang" with { type: "text" };
import { bpduFrame, bridgeCfg, encodeFdbKey, fdbKey, parseBpduFrame, portCfg, pvKey, pvVal, derivedMac, withTag } from "./frames.ts";
import {
  bridgeIdOf, DEFAULT_PATH_COST, DEFAULT_PORT_PRIORITY, DEFAULT_PRIORITY, DEFAULT_TIMERS, PortState, STATE_NAMES, StpInstance,
  type StpTimers,
} from "./stp.ts";

export const REASON_FLOODING = 1;
export const REASON_BPDU = 2;
const TICK_MS = 200;
const FAST_AGING_EVERY = 5; // ticks
const SWEEP_EVERY = 25; // ticks

interface PortStp {
  pathCost: number;
  priority: number;
}

/** What one port is, in datapath terms. */
interface PortPlan {
  id: number;
  name: string;
  mac: string;
  /** VLAN of untagged frames (0: refused). */
  untagged: number;
  /** VLANs the port carries -> whether they leave it tagged. */
  vlans: Map<number, boolean>;
  stp: Map<number, PortStp>;
}

interface VlanStp extends StpTimers {
  priority: number;
}

function num(v: Json | undefined, d: number): number {
  return typeof v === "number" ? v : v === undefined || v === null || v === "" ? d : Number(v);
}

function list(v: Json | undefined): JsonObject[] {
  return Array.isArray(v) ? (v as JsonObject[]) : [];
}

class Bridge {
  private readonly fdb: MapAccess;
  /** Static fdb entries (configuration) beside the learned ones in the same map. */
  private readonly statics: MapMirror;
  private readonly portVlan: TypedMirror<{ port: number; vlan: number }, { state: number; tagged: number }>;
  private readonly portsCfg: TypedMirror<number, { untaggedVlan: number; valid: number }>;
  private readonly cfgMap: TypedMapAccess<number, { agingTime: number; stpEnabled: number }>;
  private bridgeMac: string;
  private readonly portMacs = new Map<string, string>();
  private plans = new Map<number, PortPlan>();
  private vlanStp = new Map<number, VlanStp>();
  private readonly instances = new Map<number, StpInstance>();
  private stpEnabled = false;
  private agingTime = DEFAULT_AGING_TIME;
  private readonly linkUp = new Map<number, boolean>();
  /** (port, VLAN) pairs whose learned entries must go: the port stopped forwarding there. */
  private readonly stale: Array<{ port: number; vlan?: number }> = [];
  private queue: Promise<unknown> = Promise.resolve();
  private ticks = 0;
  private timer?: ReturnType<typeof setInterval>;
  private ticking = false;

  constructor(private readonly ctx: CubeContext) {
    const fdb = typedMap(ctx, "fwdtable", fdbKey, fdbValue);
    this.fdb = fdb.raw;
    this.statics = fdb.rawMirror({ what: "fdb" });
    this.portVlan = typedMap(ctx, "port_vlan", pvKey, pvVal).mirror();
    // An array: a port that is gone gets an invalid entry.
    this.portsCfg = typedMap(ctx, "ports_cfg", u32, portCfg).mirror({ absent: portCfg.encode({ untaggedVlan: 0, valid: 0 }) });
    this.cfgMap = typedMap(ctx, "config", u32, bridgeCfg);
    this.bridgeMac = derivedMac(ctx.name);
  }

  /** Runs one change of state at a time: ticks, BPDUs and configuration interleave otherwise. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      this.serial(() => this.tick())
        .catch((e) => this.ctx.log.warn(`bridge timer: ${(e as Error).message}`))
        .finally(() => (this.ticking = false));
    }, TICK_MS);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  // ---- configuration -----------------------------------------------------------------------

  async sync(cfg: JsonObject): Promise<void> {
    const ids = new Map(this.ctx.ports().map((p) => [p.name, p.id]));
    const plans = new Map<number, PortPlan>();
    const names = new Set<string>();
    for (const p of list(cfg.ports)) {
      const name = String(p.name);
      names.add(name);
      const id = ids.get(name);
      if (id === undefined) continue;
      let mac = typeof p.mac === "string" ? p.mac.toLowerCase() : this.portMacs.get(name);
      if (!mac) mac = derivedMac(this.ctx.name, name);
      this.portMacs.set(name, mac);
      const vlans = new Map<number, boolean>();
      let untagged = 0;
      if (String(p.mode ?? "access").toLowerCase() === "trunk") {
        const t = (p.trunk ?? {}) as JsonObject;
        for (const a of list(t.allowed)) vlans.set(num(a.vlanid, 1), true);
        if (t["native-vlan-enabled"] !== false) {
          untagged = num(t["native-vlan"], 1);
          vlans.set(untagged, false);
        }
      } else {
        untagged = num(((p.access ?? {}) as JsonObject).vlanid, 1);
        vlans.set(untagged, false);
      }
      const stp = new Map<number, PortStp>();
      for (const s of list(p.stp)) stp.set(num(s.vlan, 1), { pathCost: num(s["path-cost"], DEFAULT_PATH_COST), priority: num(s["port-priority"], DEFAULT_PORT_PRIORITY) });
      plans.set(id, { id, name, mac, untagged, vlans, stp });
    }

    const fdbCfg = (cfg.fdb ?? {}) as JsonObject;
    const statics: Array<[Uint8Array, Uint8Array]> = [];
    for (const e of list(fdbCfg.entry)) {
      const id = ids.get(String(e.port));
      // (A port that static entries name is not deleted before them.)
      if (id === undefined || !plans.has(id)) throw new ServiceError(`fdb entry ${e.vlan} ${e.mac}: port '${e.port}' is not a port of this bridge (delete the entries that name a port before it)`, 400, "invalid-value", "port");
      statics.push([encodeFdbKey(num(e.vlan, 1), String(e.mac)), fdbValue.encode({ timestamp: 0n, port: id, flags: ENTRY_STATIC })]);
    }

    const vlanStp = new Map<number, VlanStp>();
    for (const s of list(cfg.stp)) {
      vlanStp.set(num(s.vlan, 1), {
        priority: num(s.priority, DEFAULT_PRIORITY),
        forwardDelay: num(s["forward-delay"], DEFAULT_TIMERS.forwardDelay),
        helloTime: Math.max(1, num(s["hello-time"], DEFAULT_TIMERS.helloTime)),
        maxAge: num(s["max-message-age"], DEFAULT_TIMERS.maxAge),
      });
    }

    // Only the static entries that changed are written; a full table refuses the change whole.
    await this.statics.replace(statics);
    // Everything is checked: from here on the configuration is applied.
    for (const n of [...this.portMacs.keys()]) if (!names.has(n)) this.portMacs.delete(n);
    if (typeof cfg.mac === "string") this.bridgeMac = cfg.mac.toLowerCase();
    this.plans = plans;
    this.vlanStp = vlanStp;
    this.agingTime = num(fdbCfg["aging-time"], DEFAULT_AGING_TIME);
    this.stpEnabled = cfg["stp-enabled"] === true;

    await this.portsCfg.replace([...plans].map(([id, p]) => [id, { untaggedVlan: p.untagged, valid: 1 }]));
    await this.cfgMap.set(0, { agingTime: this.agingTime, stpEnabled: this.stpEnabled ? 1 : 0 });

    this.syncInstances();
    this.followLinks();
    await this.writePortVlans();

    // Learned entries towards ports that are gone, or that no longer carry the VLAN, must go.
    for (const [k, v] of await this.fdb.entries()) {
      const e = fdbValue.decode(v);
      if (e.flags & ENTRY_STATIC) continue;
      if (!plans.get(e.port)?.vlans.has(fdbKey.decode(k).vlan)) await this.fdb.delete(k);
    }
  }

  private stpOf(vlan: number): VlanStp {
    return this.vlanStp.get(vlan) ?? { priority: DEFAULT_PRIORITY, ...DEFAULT_TIMERS };
  }

  /** All VLANs some port carries. */
  private vlans(): number[] {
    const s = new Set<number>();
    for (const p of this.plans.values()) for (const v of p.vlans.keys()) s.add(v);
    return [...s].sort((a, b) => a - b);
  }

  private syncInstances(): void {
    const want = this.stpEnabled ? this.vlans() : [];
    for (const v of [...this.instances.keys()]) if (!want.includes(v)) this.instances.delete(v);
    for (const vlan of want) {
      const s = this.stpOf(vlan);
      const id = bridgeIdOf(s.priority, this.bridgeMac);
      let inst = this.instances.get(vlan);
      if (!inst) {
        inst = new StpInstance(id, s, {
          send: (port, bpdu) => {
            const p = this.plans.get(port);
            const tagged = p?.vlans.get(vlan);
            if (!p || tagged === undefined) return;
            this.ctx.packetOut(port, bpduFrame(p.mac, bpdu, vlan, tagged)).catch((e) => this.ctx.log.debug(`BPDU out of ${p.name}: ${e}`));
          },
          stateChanged: (port, state) => {
            this.ctx.log.debug(`vlan ${vlan}: port ${this.plans.get(port)?.name ?? port} ${STATE_NAMES[state]}`);
            if (state === PortState.BLOCKING || state === PortState.DISABLED) this.stale.push({ port, vlan });
          },
          topologyChange: () => this.ctx.log.debug(`vlan ${vlan}: topology change`),
        });
        this.instances.set(vlan, inst);
      }
      inst.setBridgeId(id);
      inst.setTimers(s);
      const ports = [...this.plans.values()].filter((p) => p.vlans.has(vlan));
      inst.setPorts(ports.map((p) => ({ id: p.id, priority: p.stp.get(vlan)?.priority ?? DEFAULT_PORT_PRIORITY, pathCost: p.stp.get(vlan)?.pathCost ?? DEFAULT_PATH_COST })));
    }
  }

  /** Port links as the daemon sees them (a cube-to-cube link goes down from either side). */
  private followLinks(): void {
    const status = new Map(this.ctx.ports().map((p) => [p.id, p.status === "UP"]));
    for (const id of [...this.linkUp.keys()]) if (!this.plans.has(id)) this.linkUp.delete(id);
    for (const p of this.plans.values()) {
      const up = status.get(p.id) ?? false;
      if (this.linkUp.get(p.id) && !up) this.stale.push({ port: p.id });
      this.linkUp.set(p.id, up);
      // Idempotent: a new instance learns the links of its ports here.
      for (const [vlan, inst] of this.instances) if (p.vlans.has(vlan)) inst.setPortUp(p.id, up);
    }
  }

  private stateOf(port: number, vlan: number): PortState {
    // Without spanning tree every port forwards (a port without a link has nowhere to send).
    return this.instances.get(vlan)?.state(port) ?? PortState.FORWARDING;
  }

  /** port_vlan as the plans and the spanning-tree states say; learned entries of stopped ports go. */
  private async writePortVlans(): Promise<void> {
    const want: Array<[{ port: number; vlan: number }, { state: number; tagged: number }]> = [];
    for (const p of this.plans.values())
      for (const [vlan, tagged] of p.vlans) want.push([{ port: p.id, vlan }, { state: this.stateOf(p.id, vlan), tagged: tagged ? 1 : 0 }]);
    await this.portVlan.replace(want);
    if (this.stale.length) {
      const stale = this.stale.splice(0);
      await this.deleteLearned((port, vlan) => stale.some((s) => s.port === port && (s.vlan === undefined || s.vlan === vlan)));
    }
  }

  private async deleteLearned(match: (port: number, vlan: number, age: number) => boolean): Promise<number> {
    const now = bootSeconds();
    let n = 0;
    for (const [k, v] of await this.fdb.entries()) {
      const e = fdbValue.decode(v);
      if (e.flags & ENTRY_STATIC) continue;
      if (match(e.port, fdbKey.decode(k).vlan, ageOf(e, now)) && (await this.fdb.delete(k))) n++;
    }
    return n;
  }

  // ---- time --------------------------------------------------------------------------------

  private async tick(): Promise<void> {
    this.ticks++;
    this.followLinks();
    for (const inst of this.instances.values()) inst.tick();
    await this.writePortVlans();
    if (this.ticks % FAST_AGING_EVERY === 0) {
      // During a topology change, entries age in forward-delay time (802.1D 8.3.5).
      const fast = new Map([...this.instances].filter(([, i]) => i.fastAging).map(([v, i]) => [v, i.forwardDelay]));
      if (fast.size) await this.deleteLearned((_p, vlan, age) => fast.has(vlan) && age > fast.get(vlan)!);
    }
    if (this.ticks % SWEEP_EVERY === 0) {
      const now = bootSeconds();
      for (const [k, v] of await this.fdb.entries()) if (isExpired(fdbValue.decode(v), now, this.agingTime)) await this.fdb.delete(k);
    }
  }

  // ---- slow path ---------------------------------------------------------------------------

  async packetIn(pkt: PacketIn): Promise<void> {
    const vlan = pkt.metadata[0];
    if (pkt.reason === REASON_BPDU) {
      const inst = this.instances.get(vlan);
      const bpdu = parseBpduFrame(pkt.data);
      if (!inst || !bpdu) return;
      await this.serial(async () => {
        inst.receive(pkt.portId, bpdu);
        await this.writePortVlans();
      });
      return;
    }
    if (pkt.reason !== REASON_FLOODING) return;
    const up = new Set(this.ctx.ports().filter((p) => p.status === "UP").map((p) => p.id));
    for (const p of this.plans.values()) {
      if (p.id === pkt.portId || !up.has(p.id)) continue;
      const tagged = p.vlans.get(vlan);
      if (tagged === undefined || this.stateOf(p.id, vlan) !== PortState.FORWARDING) continue;
      await this.ctx.packetOut(p.id, withTag(pkt.data, vlan, tagged));
    }
  }

  async flush(): Promise<void> {
    await this.deleteLearned(() => true);
  }

  // ---- state ------------------------------------------------------------------------------

  async state(cfg: JsonObject): Promise<JsonObject> {
    const now = bootSeconds();
    const byId = new Map([...this.plans.values()].map((p) => [p.id, p.name]));
    const entry: Json[] = [];
    for (const [k, v] of await this.fdb.entries()) {
      const e = fdbValue.decode(v);
      const port = byId.get(e.port);
      if (!port || isExpired(e, now, this.agingTime)) continue;
      const key = fdbKey.decode(k);
      entry.push({ vlan: key.vlan, mac: key.mac, type: e.flags & ENTRY_STATIC ? "static" : "dynamic", port, age: ageOf(e, now) });
    }
    const ports: Json[] = [];
    for (const p of list(cfg.ports)) {
      const name = String(p.name);
      const plan = [...this.plans.values()].find((x) => x.name === name);
      if (!plan) continue;
      const stp: Json[] = [...plan.vlans.keys()].sort((a, b) => a - b).map((vlan) => {
        const state = this.linkUp.get(plan.id) ? this.stateOf(plan.id, vlan) : PortState.DISABLED;
        const s = plan.stp.get(vlan);
        return { vlan, state: STATE_NAMES[state], "path-cost": s?.pathCost ?? DEFAULT_PATH_COST, "port-priority": s?.priority ?? DEFAULT_PORT_PRIORITY };
      });
      ports.push({ name, mac: plan.mac, stp });
    }
    const vlans = new Set([...this.vlans(), ...this.vlanStp.keys()]);
    const stp: Json[] = [...vlans].sort((a, b) => a - b).map((vlan) => {
      const s = this.stpOf(vlan);
      return { vlan, priority: s.priority, "forward-delay": s.forwardDelay, "hello-time": s.helloTime, "max-message-age": s.maxAge };
    });
    return { mac: this.bridgeMac, ports, fdb: { "aging-time": this.agingTime, entry }, stp };
  }
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  await ctx.loadDatapath("bridge");
  const bridge = new Bridge(ctx);
  let current = config;
  await bridge.serial(() => bridge.sync(config));
  bridge.start();
  return {
    async apply(changes, cfg) {
      await bridge.serial(() => bridge.sync(cfg));
      current = cfg;
    },
    state: () => bridge.serial(() => bridge.state(current)),
    async action(path) {
      const name = path[path.length - 1]?.node;
      if (name !== "flush") throw new ServiceError(`unknown action '${name}'`, 404);
      await bridge.serial(() => bridge.flush());
    },
    packetIn: (pkt) => bridge.packetIn(pkt),
    destroy() {
      bridge.stop();
    },
  };
}

export const bridge: ServiceModule = { name: "bridge", kind: "standard", yang, createCube };
export default bridge;
