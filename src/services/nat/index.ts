// nat: a transparent IPv4 NAT (the original's nat service), meant to sit on a router port.
//
// - SNAT: traffic leaving from an internal-net gets that rule's external-ip as its source.
// - masquerade: traffic leaving gets the parent port's address (the router port's `ip`, which
//   the daemon hands parentChanged() and hands again whenever it changes).
// - DNAT: traffic arriving for external-ip goes to internal-ip.
// - port forwarding: traffic arriving for external-ip:external-port (TCP, UDP, or both when
//   proto is not given) goes to internal-ip:internal-port.
// The datapath (nat.bpf.c) keeps per-flow sessions; natting-table lists them from the inside:
// the tuple as the inside host sends it, and the address and port it has outside.
//
// Rules belong to the service (ownsConfig): append actions add them with the next free id, REST
// writes of entries add, change or delete them. Every change is checked whole before anything
// is written: a refused one changes nothing. Sessions of a rule kind are flushed when rules of
// that kind change or go (new flows then follow the new rules); appends keep them.
import { ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type MapAccess, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./nat.yang" with { type: "text" };

export const KINDS = ["snat", "dnat", "masquerade", "portforwarding"] as const;
const K_SNAT = 0, K_DNAT = 1, K_MASQ = 2, K_PF = 3;
const PROTO: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1 };
const PROTO_NAME: Record<number, string> = { 6: "TCP", 17: "UDP", 1: "ICMP" };
const INGRESS = 0, EGRESS = 1;

export interface SnatRule { id: number; net: number; len: number; internalNet: string; externalIp: string }
export interface DnatRule { id: number; externalIp: string; internalIp: string }
export interface PfRule { id: number; externalIp: string; externalPort: number; proto?: string; internalIp: string; internalPort: number }
export interface Rules { snat: SnatRule[]; dnat: DnatRule[]; pf: PfRule[] }

function bad(field: string, message: string, status = 400): ServiceError {
  return new ServiceError(`${field}: ${message}`, status, status === 409 ? "data-exists" : "invalid-value", field);
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "a.b.c.d" -> host-order number; undefined when malformed. */
export function parseIp(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

export function ipText(n: number): string {
  return [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255].join(".");
}

/** "a.b.c.d/n" -> [network (host bits cleared), n]. */
export function parseNet(text: string): [number, number] | undefined {
  const [a, l, ...rest] = text.split("/");
  if (rest.length || l === undefined || !/^\d{1,2}$/.test(l) || Number(l) > 32) return undefined;
  const ip = parseIp(a!);
  if (ip === undefined) return undefined;
  const len = Number(l);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return [(ip & mask) >>> 0, len];
}

function needIp(v: Json | undefined, field: string): string {
  const s = String(v ?? "");
  const n = parseIp(s);
  if (n === undefined) throw bad(field, `'${s}' is not an IPv4 address`);
  if (n === 0) throw bad(field, `0.0.0.0 cannot be translated to or from`);
  return s;
}

function needPort(v: Json | undefined, field: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw bad(field, `'${v}' is not a port (1-65535)`);
  return n;
}

export function parseSnat(e: JsonObject, id: number, where: string): SnatRule {
  const net = parseNet(String(e["internal-net"] ?? ""));
  if (!net) throw bad(`${where}.internal-net`, `'${e["internal-net"]}' is not an IPv4 prefix (a.b.c.d/n)`);
  return { id, net: net[0], len: net[1], internalNet: `${ipText(net[0])}/${net[1]}`, externalIp: needIp(e["external-ip"], `${where}.external-ip`) };
}

export function parseDnat(e: JsonObject, id: number, where: string): DnatRule {
  return { id, externalIp: needIp(e["external-ip"], `${where}.external-ip`), internalIp: needIp(e["internal-ip"], `${where}.internal-ip`) };
}

export function parsePf(e: JsonObject, id: number, where: string): PfRule {
  const r: PfRule = {
    id,
    externalIp: needIp(e["external-ip"], `${where}.external-ip`),
    externalPort: needPort(e["external-port"], `${where}.external-port`),
    internalIp: needIp(e["internal-ip"], `${where}.internal-ip`),
    internalPort: needPort(e["internal-port"], `${where}.internal-port`),
  };
  if (e.proto !== undefined && e.proto !== null && e.proto !== "") {
    const p = String(e.proto).toUpperCase();
    if (p !== "TCP" && p !== "UDP") throw bad(`${where}.proto`, `'${e.proto}' is not TCP or UDP (leave it out for both)`);
    r.proto = p;
  }
  return r;
}

/** Two rules of a kind that would match the same packets are refused. */
export function checkRules(r: Rules): void {
  const seen = new Map<string, number>();
  const once = (key: string, id: number, where: string, what: string) => {
    const other = seen.get(key);
    if (other !== undefined) throw bad(where, `${what} is already translated by rule ${other}`, 409);
    seen.set(key, id);
  };
  for (const s of r.snat) once(`s ${s.internalNet}`, s.id, `rule.snat.entry[${s.id}].internal-net`, `internal-net ${s.internalNet}`);
  for (const d of r.dnat) once(`d ${d.externalIp}`, d.id, `rule.dnat.entry[${d.id}].external-ip`, `external-ip ${d.externalIp}`);
  for (const p of r.pf) {
    for (const proto of p.proto ? [p.proto] : ["TCP", "UDP"]) {
      once(`p ${p.externalIp}:${p.externalPort}/${proto}`, p.id, `rule.port-forwarding.entry[${p.id}].external-port`, `${p.externalIp}:${p.externalPort}/${proto}`);
    }
  }
}

/** Rules as the configuration holds them. */
export function rulesOf(cfg: JsonObject): Rules {
  const rule = (cfg.rule ?? {}) as JsonObject;
  const entries = (k: string) => (((rule[k] ?? {}) as JsonObject).entry ?? []) as JsonObject[];
  const out: Rules = {
    snat: entries("snat").map((e) => parseSnat(e, Number(e.id), `rule.snat.entry[${e.id}]`)),
    dnat: entries("dnat").map((e) => parseDnat(e, Number(e.id), `rule.dnat.entry[${e.id}]`)),
    pf: entries("port-forwarding").map((e) => parsePf(e, Number(e.id), `rule.port-forwarding.entry[${e.id}]`)),
  };
  checkRules(out);
  return out;
}

export function rulesJson(r: Rules, masquerade: boolean): JsonObject {
  return {
    snat: { entry: r.snat.map((s) => ({ id: s.id, "internal-net": s.internalNet, "external-ip": s.externalIp })) },
    masquerade: { enabled: masquerade },
    dnat: { entry: r.dnat.map((d) => ({ id: d.id, "external-ip": d.externalIp, "internal-ip": d.internalIp })) },
    "port-forwarding": {
      entry: r.pf.map((p) => ({ id: p.id, "external-ip": p.externalIp, "external-port": p.externalPort, ...(p.proto ? { proto: p.proto } : {}), "internal-ip": p.internalIp, "internal-port": p.internalPort })),
    },
  };
}

// ---- the datapath's maps (layouts in nat.bpf.c) ---------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function be32(n: number, into: DataView, off: number) { into.setUint32(off, n >>> 0, false); }

/** Every map entry the rules ask for, by map. Pure, for tests. */
export function compileRules(r: Rules): { snat: Array<[Uint8Array, Uint8Array]>; dnat: Array<[Uint8Array, Uint8Array]>; pf: Array<[Uint8Array, Uint8Array]> } {
  const snat = r.snat.map((s) => {
    const k = new Uint8Array(8), v = new Uint8Array(8);
    const kv = new DataView(k.buffer), vv = new DataView(v.buffer);
    kv.setUint32(0, s.len, true);
    be32(s.net, kv, 4);
    be32(parseIp(s.externalIp)!, vv, 0);
    vv.setUint32(4, s.id, true);
    return [k, v] as [Uint8Array, Uint8Array];
  });
  const dnat = r.dnat.map((d) => {
    const k = new Uint8Array(4), v = new Uint8Array(4);
    be32(parseIp(d.externalIp)!, new DataView(k.buffer), 0);
    be32(parseIp(d.internalIp)!, new DataView(v.buffer), 0);
    return [k, v] as [Uint8Array, Uint8Array];
  });
  const pf: Array<[Uint8Array, Uint8Array]> = [];
  for (const p of r.pf) {
    for (const proto of p.proto ? [p.proto] : ["TCP", "UDP"]) {
      const k = new Uint8Array(8), v = new Uint8Array(8);
      const kv = new DataView(k.buffer), vv = new DataView(v.buffer);
      be32(parseIp(p.externalIp)!, kv, 0);
      kv.setUint16(4, p.externalPort, false);
      kv.setUint8(6, PROTO[proto]!);
      be32(parseIp(p.internalIp)!, vv, 0);
      vv.setUint16(4, p.internalPort, false);
      pf.push([k, v]);
    }
  }
  return { snat, dnat, pf };
}

export interface Session {
  "internal-src": string;
  "internal-dst": string;
  "internal-sport": number;
  "internal-dport": number;
  proto: string;
  "originating-rule": string;
  "external-ip": string;
  "external-port": number;
}

/** A session map entry leaving (EGRESS) as a natting-table row; the reverse entries are not listed. */
export function sessionRow(k: Uint8Array, v: Uint8Array): Session | undefined {
  const kv = new DataView(k.buffer, k.byteOffset, k.byteLength), vv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  if (kv.getUint8(13) !== EGRESS) return undefined;
  const proto = kv.getUint8(12);
  return {
    "internal-src": ipText(kv.getUint32(0, false)),
    "internal-dst": ipText(kv.getUint32(4, false)),
    "internal-sport": kv.getUint16(8, false),
    "internal-dport": kv.getUint16(10, false),
    proto: PROTO_NAME[proto] ?? String(proto),
    "originating-rule": KINDS[vv.getUint8(7)] ?? "snat",
    "external-ip": ipText(vv.getUint32(0, false)),
    "external-port": vv.getUint16(4, false),
  };
}

/** The key of a leaving session entry's reverse (arriving) entry. */
export function reverseKey(k: Uint8Array, v: Uint8Array): Uint8Array {
  const kv = new DataView(k.buffer, k.byteOffset, k.byteLength), vv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(16);
  const o = new DataView(out.buffer);
  const icmp = kv.getUint8(12) === 1;
  o.setUint32(0, kv.getUint32(4, false), false);
  o.setUint32(4, vv.getUint32(0, false), false);
  o.setUint16(8, icmp ? vv.getUint16(4, false) : kv.getUint16(10, false), false);
  o.setUint16(10, vv.getUint16(4, false), false);
  o.setUint8(12, kv.getUint8(12));
  o.setUint8(13, INGRESS);
  return out;
}

/** The address a parent port's configuration gives (a router port's ip is a prefix). */
export function parentAddress(cfg: JsonObject | undefined): string | undefined {
  const ip = cfg?.ip;
  if (typeof ip !== "string") return undefined;
  const a = ip.split("/")[0]!;
  return parseIp(a) ? a : undefined;
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  let rules = rulesOf(config);
  const rule = (config.rule ?? {}) as JsonObject;
  let masquerade = ((rule.masquerade ?? {}) as JsonObject).enabled === true;
  let parentIp: string | undefined;

  await ctx.loadDatapath("nat");
  const m = { config: ctx.map("nat_config"), sessions: ctx.map("nat_sessions"), snat: ctx.map("nat_snat"), dnat: ctx.map("nat_dnat"), pf: ctx.map("nat_pf") };
  const written = { snat: new Map<string, Uint8Array>(), dnat: new Map<string, Uint8Array>(), pf: new Map<string, Uint8Array>() };

  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function writeConfig(): Promise<void> {
    const v = new Uint8Array(16);
    const dv = new DataView(v.buffer);
    be32(parentIp ? parseIp(parentIp)! : 0, dv, 0);
    dv.setUint32(4, masquerade ? 1 : 0, true);
    dv.setUint32(8, rules.snat.length, true);
    dv.setUint32(12, rules.dnat.length + rules.pf.length, true);
    await m.config.set(new Uint8Array(4), v);
  }

  /** Makes the rule maps hold exactly what `next` asks for. */
  async function install(next: Rules): Promise<void> {
    const want = compileRules(next);
    for (const which of ["snat", "dnat", "pf"] as const) {
      const map: MapAccess = m[which];
      const target = new Map(want[which].map(([k, v]) => [hex(k), [k, v] as const]));
      for (const [h, k] of written[which]) {
        if (!target.has(h)) {
          await map.delete(k);
          written[which].delete(h);
        }
      }
      for (const [h, [k, v]] of target) {
        await map.set(k, v);
        written[which].set(h, k);
      }
    }
    rules = next;
    await writeConfig();
  }

  async function flush(kinds: Set<number>): Promise<void> {
    if (!kinds.size) return;
    for (const [k, v] of await m.sessions.entries()) if (kinds.has(v[7]!)) await m.sessions.delete(k);
  }

  /** Kinds whose rules were changed or removed (not only added) between two rule sets. */
  function changedKinds(a: Rules, b: Rules): Set<number> {
    const out = new Set<number>();
    const gone = <T extends { id: number }>(x: T[], y: T[]) => x.some((r) => { const n = y.find((s) => s.id === r.id); return !n || JSON.stringify(n) !== JSON.stringify(r); });
    if (gone(a.snat, b.snat)) out.add(K_SNAT);
    if (gone(a.dnat, b.dnat)) out.add(K_DNAT);
    if (gone(a.pf, b.pf)) out.add(K_PF);
    return out;
  }

  async function sessions(): Promise<Session[]> {
    const out: Session[] = [];
    for (const [k, v] of await m.sessions.entries()) {
      const row = sessionRow(k, v);
      if (row) out.push(row);
    }
    return out;
  }

  async function applyChanges(changes: Change[], cfg: JsonObject): Promise<void> {
    const drops: Array<[Uint8Array, Uint8Array]> = [];
    let touched = false;
    for (const ch of changes) {
      const top = ch.path[0]?.node;
      if (top === "rule") touched = true;
      else if (top === "natting-table") {
        if (ch.op !== "delete" || ch.path.length !== 1) throw bad(ch.where.slice(1), "natting-table entries are sessions the datapath makes: they can only be deleted");
        const keys = ch.path[0]!.keys ?? {};
        for (const [k, v] of await m.sessions.entries()) {
          const row = sessionRow(k, v);
          if (row && row["internal-src"] === keys["internal-src"] && row["internal-dst"] === keys["internal-dst"] && String(row["internal-sport"]) === keys["internal-sport"] &&
            String(row["internal-dport"]) === keys["internal-dport"] && row.proto === String(keys.proto).toUpperCase()) drops.push([k, v]);
        }
      }
    }
    let next = rules, masq = masquerade;
    if (touched) {
      next = rulesOf(cfg);
      masq = (((cfg.rule ?? {}) as JsonObject).masquerade as JsonObject | undefined)?.enabled === true;
    }
    for (const [k, v] of drops) {
      await m.sessions.delete(reverseKey(k, v));
      await m.sessions.delete(k);
    }
    if (!touched) return;
    const flushKinds = changedKinds(rules, next);
    if (masquerade && !masq) flushKinds.add(K_MASQ);
    masquerade = masq;
    await install(next);
    await flush(flushKinds);
  }

  const nextId = (list: Array<{ id: number }>) => list.reduce((a, r) => Math.max(a, r.id + 1), 0);

  async function action(path: PathStep[], input: JsonObject): Promise<JsonObject | void> {
    const name = path.at(-1)!.node;
    const kind = path.at(-2)?.node;
    if (kind === "masquerade") {
      const on = name === "enable";
      if (masquerade !== on) {
        masquerade = on;
        await writeConfig();
        if (!on) await flush(new Set([K_MASQ]));
      }
      if (on && !parentIp) ctx.log.warn("masquerade is on, but the parent port has no IPv4 address yet: nothing is translated until it has one");
      return { result: true };
    }
    const next: Rules = { snat: rules.snat.slice(), dnat: rules.dnat.slice(), pf: rules.pf.slice() };
    let id: number;
    if (kind === "snat") next.snat.push(parseSnat(input, (id = nextId(next.snat)), "rule.snat.append"));
    else if (kind === "dnat") next.dnat.push(parseDnat(input, (id = nextId(next.dnat)), "rule.dnat.append"));
    else if (kind === "port-forwarding") next.pf.push(parsePf(input, (id = nextId(next.pf)), "rule.port-forwarding.append"));
    else throw new ServiceError(`${name}: no such action`, 404);
    checkRules(next);
    await install(next);
    return { id };
  }

  async function setParent(parent: string, cfg?: JsonObject): Promise<void> {
    const ip = parent ? parentAddress(cfg) : undefined;
    if (ip === parentIp) return;
    if (parentIp && masquerade) ctx.log.info(`masquerade address ${parentIp} -> ${ip ?? "none"}`);
    parentIp = ip;
    await writeConfig();
    await flush(new Set([K_MASQ]));
  }

  await install(rules);

  return {
    apply: (changes, cfg) => serial(() => applyChanges(changes, cfg)),
    action: (path, input) => serial(() => action(path, input)),
    parentChanged: (parent, cfg) => serial(() => setParent(parent, cfg)),
    state: () => serial(async () => ({ rule: rulesJson(rules, masquerade), "natting-table": (await sessions()) as unknown as Json })),
  };
}

export const nat: ServiceModule = { name: "nat", kind: "transparent", yang, createCube, ownsConfig: true, stackPlace: "cube" };
export default nat;
