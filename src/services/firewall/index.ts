// firewall: a transparent IPv4 ACL with an INGRESS and an EGRESS chain (the original's
// firewall service). Rules match source/destination prefixes, L4 protocol, ports, TCP flags
// and connection state; the first matching rule's action (DROP or FORWARD) applies, else the
// chain's default. Per-rule and default counters count packets and L2 bytes.
//
// Rules belong to the service: the actions (append, insert, delete, batch) change them, and
// REST writes of chain/rule entries are applied to them as positional edits (an id equal to
// the number of rules appends, a smaller one replaces, a larger one is refused). As in the
// original, rules added by actions are not part of the stored configuration.
//
// Every change of a chain rebuilds its classification maps under the chain's idle generation
// and then switches the generation (see firewall.bpf.c for the datapath's design): packets
// see the old rule set or the new one, never a mix. Counters follow their rules across
// rebuilds: the counts of the retired generation are folded into per-rule totals kept here.
import { struct, u32, u64 } from "../../lib/bpf/codec.ts";
import { ServiceError, setAll, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type MapAccess, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./firewall.yang" with { type: "text" };

/** FW_RULES_MAX and friends in firewall.bpf.c */
export const RULES_MAX = 4096;
const WORDS = RULES_MAX / 64;
const BITMAP_BYTES = WORDS * 8;
const SLOTS = 4;
const WILDCARD = 0x10000;
const F_PROTO = 0, F_SPORT = 1, F_DPORT = 2, F_FLAGS = 3, F_CT = 4;
const USE_SRC = 1 << 8, USE_DST = 1 << 9;
const GRACE_MS = 10;

export const CHAINS = ["INGRESS", "EGRESS"] as const;
export type ChainName = (typeof CHAINS)[number];
export type Action = "DROP" | "FORWARD";
const ACTION_CODE: Record<Action, number> = { DROP: 0, FORWARD: 1 };
export const PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1 };
const PROTO_NAME: Record<number, string> = { 6: "TCP", 17: "UDP", 1: "ICMP" };
export const TCP_FLAGS: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 };
export const CT_STATES: Record<string, number> = { NEW: 0, ESTABLISHED: 1, RELATED: 2, INVALID: 3 };
const CT_NAME = ["NEW", "ESTABLISHED", "RELATED", "INVALID"];
const RULE_FIELDS = ["src", "dst", "l4proto", "sport", "dport", "tcpflags", "conntrack", "action", "description"] as const;

/** A rule as the user wrote it (normalised), with what the datapath needs. */
export interface Rule {
  src?: string;
  dst?: string;
  l4proto?: string;
  sport?: number;
  dport?: number;
  tcpflags?: string;
  conntrack?: string;
  action: Action;
  description?: string;
  /** Parsed: prefixes as [network, length], protocol number, flag mask/value, ct state. */
  srcNet?: [number, number];
  dstNet?: [number, number];
  proto?: number;
  flags?: [number, number];
  ct?: number;
  /** Stable identity for counters. */
  uid: number;
}

const DOTTED = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})(?:\/(0|[1-9]\d?))?$/;

/** "a.b.c.d" or "a.b.c.d/n" -> [network (host order, masked), n]; undefined when malformed. */
export function parsePrefix(text: string): [number, number] | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  const len = m[5] === undefined ? 32 : Number(m[5]);
  if (len > 32) return undefined;
  const addr = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return [(addr & mask(len)) >>> 0, len];
}

function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** "SYN !ACK" (spaces or commas) -> [mask, value]; throws on an unknown flag. */
export function parseTcpFlags(text: string, field: string): [number, number] {
  let m = 0, v = 0;
  const words = text.split(/[\s,|]+/).filter(Boolean);
  if (!words.length) throw bad(field, `'${text}' names no TCP flag`);
  for (const w of words) {
    const neg = w.startsWith("!");
    const name = (neg ? w.slice(1) : w).toUpperCase();
    const bit = TCP_FLAGS[name];
    if (bit === undefined) throw bad(field, `'${w}' is not a TCP flag (${Object.keys(TCP_FLAGS).join(", ")}, each optionally preceded by '!')`);
    if (m & bit) throw bad(field, `TCP flag ${name} given twice`);
    m |= bit;
    if (!neg) v |= bit;
  }
  return [m, v];
}

function bad(field: string, message: string): ServiceError {
  return new ServiceError(`${field}: ${message}`, 400, "invalid-value", field);
}

let nextUid = 1;

/** Validates and normalises a rule's fields (from a rule entry or an action's input). */
export function parseRule(input: JsonObject, where = "rule"): Rule {
  const r: Rule = { action: "DROP", uid: nextUid++ };
  for (const f of ["src", "dst"] as const) {
    const v = input[f];
    if (v === undefined || v === null || v === "") continue;
    const p = parsePrefix(String(v));
    if (!p) throw bad(`${where}.${f}`, `'${v}' is not an IPv4 address or prefix (a.b.c.d or a.b.c.d/n)`);
    r[f] = String(v);
    r[f === "src" ? "srcNet" : "dstNet"] = p;
  }
  if (input.l4proto !== undefined && input.l4proto !== null && input.l4proto !== "") {
    const name = String(input.l4proto).toUpperCase();
    const n = PROTOCOLS[name];
    if (n === undefined) throw bad(`${where}.l4proto`, `'${input.l4proto}' is not one of TCP, UDP, ICMP`);
    r.l4proto = name;
    r.proto = n;
  }
  for (const f of ["sport", "dport"] as const) {
    const v = input[f];
    if (v === undefined || v === null) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad(`${where}.${f}`, `'${v}' is not a port`);
    if (r.proto !== undefined && r.proto !== 6 && r.proto !== 17) throw bad(`${where}.${f}`, `ports apply to TCP and UDP only, not ${r.l4proto}`);
    r[f] = n;
  }
  if (input.tcpflags !== undefined && input.tcpflags !== null && input.tcpflags !== "") {
    if (r.proto !== undefined && r.proto !== 6) throw bad(`${where}.tcpflags`, `TCP flags apply to TCP only, not ${r.l4proto}`);
    r.flags = parseTcpFlags(String(input.tcpflags), `${where}.tcpflags`);
    r.tcpflags = String(input.tcpflags);
  }
  if (input.conntrack !== undefined && input.conntrack !== null) {
    const name = String(input.conntrack).toUpperCase();
    if (CT_STATES[name] === undefined) throw bad(`${where}.conntrack`, `'${input.conntrack}' is not a connection state`);
    r.conntrack = name;
    r.ct = CT_STATES[name];
  }
  if (input.action !== undefined && input.action !== null) {
    const a = String(input.action).toUpperCase();
    if (a !== "DROP" && a !== "FORWARD") throw bad(`${where}.action`, `'${input.action}' is not DROP or FORWARD`);
    r.action = a;
  }
  if (input.description !== undefined && input.description !== null) r.description = String(input.description);
  return r;
}

/** The rule's fields as the model shows them. */
export function ruleJson(r: Rule): JsonObject {
  const out: JsonObject = {};
  for (const f of RULE_FIELDS) if (r[f] !== undefined) out[f] = r[f] as Json;
  return out;
}

/** True when a delete's input names exactly this rule: every match field equal (the description only if given). */
export function sameRule(r: Rule, q: Rule, given: JsonObject): boolean {
  const eqNet = (a?: [number, number], b?: [number, number]) => (a === undefined) === (b === undefined) && (!a || (a[0] === b![0] && a[1] === b![1]));
  if (!eqNet(r.srcNet, q.srcNet) || !eqNet(r.dstNet, q.dstNet)) return false;
  if (r.proto !== q.proto || r.sport !== q.sport || r.dport !== q.dport || r.ct !== q.ct) return false;
  if ((r.flags === undefined) !== (q.flags === undefined) || (r.flags && (r.flags[0] !== q.flags![0] || r.flags[1] !== q.flags![1]))) return false;
  if (given.action !== undefined && r.action !== q.action) return false;
  if (given.description !== undefined && r.description !== q.description) return false;
  return true;
}

// ---- the datapath's maps -----------------------------------------------------------------

const chainValue = struct<{ gen: number; def: number }>(8, { gen: { offset: 0, codec: u32 }, def: { offset: 4, codec: u32 } });
const genValue = struct<{ nwords: number; fields: number }>(8, { nwords: { offset: 0, codec: u32 }, fields: { offset: 4, codec: u32 } });
const configValue = struct<{ conntrack: number; acceptEstablished: number }>(8, { conntrack: { offset: 0, codec: u32 }, acceptEstablished: { offset: 4, codec: u32 } });

function lpmKey(slot: number, net: number, len: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, 32 + len, true);
  v.setUint32(4, slot, true);
  v.setUint32(8, net, false);
  return b;
}

function fieldKey(slot: number, field: number, value: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, slot | (field << 8), true);
  v.setUint32(4, value, true);
  return b;
}

function bitmapOf(rules: Rule[], admits: (r: Rule) => boolean): Uint8Array {
  const b = new Uint8Array(BITMAP_BYTES);
  rules.forEach((r, i) => {
    if (admits(r)) b[i >> 3]! |= 1 << (i & 7);
  });
  return b;
}

/** What one generation of a chain holds: the entries of each map. Pure, for tests. */
export function compileChain(rules: Rule[], slot: number) {
  const src: Array<[Uint8Array, Uint8Array]> = [];
  const dst: Array<[Uint8Array, Uint8Array]> = [];
  const fields: Array<[Uint8Array, Uint8Array]> = [];
  let used = 0;
  for (const [which, list, bit] of [["srcNet", src, USE_SRC], ["dstNet", dst, USE_DST]] as const) {
    if (rules.some((r) => r[which])) used |= bit;
    const prefixes = new Map<string, [number, number]>([["0/0", [0, 0]]]);
    for (const r of rules) if (r[which]) prefixes.set(`${r[which]![0]}/${r[which]![1]}`, r[which]!);
    for (const [net, len] of prefixes.values()) {
      // The rules whose prefix contains this one: the longest stored match is then enough.
      const bm = bitmapOf(rules, (r) => !r[which] || (r[which]![1] <= len && ((net & mask(r[which]![1])) >>> 0) === r[which]![0]));
      list.push([lpmKey(slot, net, len), bm]);
    }
  }
  const exact = (field: number, get: (r: Rule) => number | undefined) => {
    if (rules.some((r) => get(r) !== undefined)) used |= 1 << field;
    const values = new Set<number>();
    for (const r of rules) if (get(r) !== undefined) values.add(get(r)!);
    for (const v of values) fields.push([fieldKey(slot, field, v), bitmapOf(rules, (r) => get(r) === undefined || get(r) === v)]);
    fields.push([fieldKey(slot, field, WILDCARD), bitmapOf(rules, (r) => get(r) === undefined)]);
  };
  exact(F_PROTO, (r) => r.proto);
  exact(F_SPORT, (r) => r.sport);
  exact(F_DPORT, (r) => r.dport);
  exact(F_CT, (r) => r.ct);
  if (rules.some((r) => r.flags)) {
    used |= 1 << F_FLAGS;
    for (let f = 0; f < 256; f++) fields.push([fieldKey(slot, F_FLAGS, f), bitmapOf(rules, (r) => !r.flags || (f & r.flags[0]) === r.flags[1])]);
  }
  fields.push([fieldKey(slot, F_FLAGS, WILDCARD), bitmapOf(rules, (r) => !r.flags)]);
  return { src, dst, fields, used, nwords: Math.ceil(rules.length / 64) };
}

/** First matching rule's index for a packet, computed as the datapath does (tests compare both). */
export function classify(rules: Rule[], p: { src: string; dst: string; proto: number; sport?: number; dport?: number; flags?: number }): number {
  const s = parsePrefix(p.src)![0], d = parsePrefix(p.dst)![0];
  return rules.findIndex((r) =>
    (!r.srcNet || ((s & mask(r.srcNet[1])) >>> 0) === r.srcNet[0]) &&
    (!r.dstNet || ((d & mask(r.dstNet[1])) >>> 0) === r.dstNet[0]) &&
    (r.proto === undefined || r.proto === p.proto) &&
    (r.sport === undefined || r.sport === p.sport) &&
    (r.dport === undefined || r.dport === p.dport) &&
    (!r.flags || (p.flags !== undefined && ((p.flags & r.flags[0]) === r.flags[1]))) &&
    r.ct === undefined);
}

interface ChainState {
  def: Action;
  rules: Rule[];
  gen: number;
  /** Keys written for each slot, to clear it when it retires. */
  written: Map<number, { src: Uint8Array[]; dst: Uint8Array[]; fields: Uint8Array[]; n: number }>;
}

const counterValue = struct<{ pkts: bigint; bytes: bigint }>(16, { pkts: { offset: 0, codec: u64 }, bytes: { offset: 8, codec: u64 } });
const ZERO_COUNTER = new Uint8Array(16);

function chainOf(path: PathStep[]): ChainName {
  const name = String(path.find((s) => s.node === "chain")?.keys?.name ?? "").toUpperCase();
  if (name !== "INGRESS" && name !== "EGRESS") throw new ServiceError(`chain: '${name}' is not INGRESS or EGRESS`, 400, "invalid-value", "chain.name");
  return name;
}

function onOff(v: Json | undefined): boolean {
  return String(v ?? "OFF").toUpperCase() === "ON";
}

/** Rules of a configured chain entry, by id; ids must run from 0 without gaps. */
export function rulesOfEntry(entry: JsonObject | undefined, chain: string): Rule[] {
  const list = ((entry?.rule ?? []) as JsonObject[]).slice().sort((a, b) => Number(a.id) - Number(b.id));
  list.forEach((e, i) => {
    if (Number(e.id) !== i) throw bad(`chain[${chain}].rule`, `rule ids must run from 0 without gaps (rule ${e.id} where ${i} was expected)`);
  });
  if (list.length > RULES_MAX) throw bad(`chain[${chain}].rule`, `at most ${RULES_MAX} rules per chain`);
  return list.map((e) => parseRule(e, `chain[${chain}].rule[${e.id}]`));
}

/** One batch operation (or a REST edit) on a list of rules, in place. Throws without side effects on the list when refused. */
export function editRules(rules: Rule[], op: string, id: number | undefined, input: JsonObject, where: string): number {
  switch (op) {
    case "append": {
      if (rules.length >= RULES_MAX) throw bad(where, `the chain holds ${RULES_MAX} rules already`);
      rules.push(parseRule(input, where));
      return rules.length - 1;
    }
    case "insert": {
      const at = id ?? 0;
      if (at > rules.length) throw bad(`${where}.id`, `${at} is beyond the end of the chain (${rules.length} rules)`);
      if (rules.length >= RULES_MAX) throw bad(where, `the chain holds ${RULES_MAX} rules already`);
      rules.splice(at, 0, parseRule(input, where));
      return at;
    }
    case "update": {
      if (id === undefined || id >= rules.length) throw bad(`${where}.id`, `there is no rule ${id}`);
      const r = parseRule(input, where);
      r.uid = rules[id]!.uid; // keeps its counters
      rules[id] = r;
      return id;
    }
    case "delete": {
      if (id === undefined || id >= rules.length) throw bad(`${where}.id`, `there is no rule ${id}`);
      rules.splice(id, 1);
      return id;
    }
    default:
      throw bad(`${where}.operation`, `'${op}' is not insert, append, update or delete`);
  }
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  const entries = new Map<string, JsonObject>();
  for (const e of (config.chain ?? []) as JsonObject[]) entries.set(String(e.name).toUpperCase(), e);
  const chains = {} as Record<ChainName, ChainState>;
  for (const c of CHAINS) {
    const e = entries.get(c);
    chains[c] = { def: String(e?.default ?? "DROP").toUpperCase() as Action, rules: rulesOfEntry(e, c), gen: 0, written: new Map() };
  }
  let conntrack = onOff(config.conntrack);
  let acceptEstablished = onOff(config["accept-established"]);

  await ctx.loadDatapath("firewall");
  const m = {
    active: ctx.map("fw_active"),
    gens: ctx.map("fw_gens"),
    config: ctx.map("fw_config"),
    src: ctx.map("fw_src"),
    dst: ctx.map("fw_dst"),
    fields: ctx.map("fw_fields"),
    actions: ctx.map("fw_actions"),
    counters: ctx.map("fw_counters"),
    sessions: ctx.map("fw_sessions"),
  };
  /** Counts of retired generations, by rule uid; and of each default. */
  const base = new Map<number, { pkts: bigint; bytes: bigint }>();
  const defaultBase: Record<ChainName, { pkts: bigint; bytes: bigint }> = { INGRESS: { pkts: 0n, bytes: 0n }, EGRESS: { pkts: 0n, bytes: 0n } };

  // One change at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const writeConfig = () => m.config.set(u32.encode(0), configValue.encode({ conntrack: conntrack ? 1 : 0, acceptEstablished: acceptEstablished ? 1 : 0 }));
  const writeActive = (c: ChainName) => m.active.set(u32.encode(CHAINS.indexOf(c)), chainValue.encode({ gen: chains[c].gen, def: ACTION_CODE[chains[c].def] }));
  const counterKey = (slot: number, i: number) => u32.encode(slot * RULES_MAX + i);
  const defaultKey = (c: ChainName) => u32.encode(SLOTS * RULES_MAX + CHAINS.indexOf(c));

  async function readCounter(key: Uint8Array) {
    const v = await m.counters.get(key);
    return v ? counterValue.decode(v) : { pkts: 0n, bytes: 0n };
  }

  /** Writes `rules` as the chain's next generation, switches to it and retires the old one. */
  async function install(c: ChainName, rules: Rule[]): Promise<void> {
    const st = chains[c];
    const ci = CHAINS.indexOf(c);
    const oldSlot = (st.gen << 1) | ci;
    const gen = st.gen ^ 1;
    const slot = (gen << 1) | ci;
    const compiled = compileChain(rules, slot);
    await setAll(m.src, compiled.src);
    await setAll(m.dst, compiled.dst);
    await setAll(m.fields, compiled.fields);
    await setAll(m.actions, rules.map((r, i) => [counterKey(slot, i), u32.encode(ACTION_CODE[r.action])]));
    await setAll(m.counters, rules.map((_, i) => [counterKey(slot, i), ZERO_COUNTER]));
    await m.gens.set(u32.encode(slot), genValue.encode({ nwords: compiled.nwords, fields: compiled.used }));
    const oldRules = st.rules;
    st.rules = rules;
    st.gen = gen;
    st.written.set(slot, { src: compiled.src.map(([k]) => k), dst: compiled.dst.map(([k]) => k), fields: compiled.fields.map(([k]) => k), n: rules.length });
    await writeActive(c); // the switch
    await Bun.sleep(GRACE_MS); // packets that read the old generation are done with it
    const old = st.written.get(oldSlot);
    if (old) {
      for (let i = 0; i < old.n; i++) {
        const k = counterKey(oldSlot, i);
        const v = await readCounter(k);
        const uid = oldRules[i]?.uid;
        if (uid !== undefined && (v.pkts || v.bytes)) {
          const b = base.get(uid) ?? { pkts: 0n, bytes: 0n };
          base.set(uid, { pkts: b.pkts + v.pkts, bytes: b.bytes + v.bytes });
        }
      }
      await m.gens.set(u32.encode(oldSlot), genValue.encode({ nwords: 0, fields: 0 }));
      for (const [map, keys] of [[m.src, old.src], [m.dst, old.dst], [m.fields, old.fields]] as Array<[MapAccess, Uint8Array[]]>) {
        for (const k of keys) await map.delete(k);
      }
      st.written.delete(oldSlot);
    }
    // Counters of rules that are gone go with them.
    const live = new Set<number>();
    for (const ch of CHAINS) for (const r of chains[ch].rules) live.add(r.uid);
    for (const uid of base.keys()) if (!live.has(uid)) base.delete(uid);
  }

  async function stats(c: ChainName): Promise<JsonObject[]> {
    const st = chains[c];
    const slot = (st.gen << 1) | CHAINS.indexOf(c);
    const out: JsonObject[] = [];
    for (let i = 0; i < st.rules.length; i++) {
      const r = st.rules[i]!;
      const v = await readCounter(counterKey(slot, i));
      const b = base.get(r.uid) ?? { pkts: 0n, bytes: 0n };
      out.push({ id: i, pkts: Number(v.pkts + b.pkts), bytes: Number(v.bytes + b.bytes), ...ruleJson(r) });
    }
    const d = await readCounter(defaultKey(c));
    out.push({ id: st.rules.length, pkts: Number(d.pkts - defaultBase[c].pkts), bytes: Number(d.bytes - defaultBase[c].bytes), action: st.def, description: "Default Policy" });
    return out;
  }

  async function resetCounters(c: ChainName): Promise<void> {
    const st = chains[c];
    const slot = (st.gen << 1) | CHAINS.indexOf(c);
    for (let i = 0; i < st.rules.length; i++) {
      const v = await readCounter(counterKey(slot, i));
      base.set(st.rules[i]!.uid, { pkts: -v.pkts, bytes: -v.bytes });
    }
    const d = await readCounter(defaultKey(c));
    defaultBase[c] = { pkts: d.pkts, bytes: d.bytes };
  }

  async function sessionTable(): Promise<JsonObject[]> {
    const out: JsonObject[] = [];
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    for (const [k, v] of await m.sessions.entries()) {
      const kv = new DataView(k.buffer, k.byteOffset, k.byteLength);
      const vv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const ipLo = kv.getUint32(0, false), ipHi = kv.getUint32(4, false);
      const portLo = kv.getUint16(8, false), portHi = kv.getUint16(10, false);
      const proto = kv.getUint32(12, true);
      const last = vv.getBigUint64(0, true);
      const initiator = vv.getUint32(8, false);
      const established = vv.getUint8(14) !== 0;
      const timeout = !established ? 30n : proto === 6 ? 432000n : proto === 17 ? 180n : 30n;
      const age = (now - last) / 1_000_000_000n;
      if (age >= timeout) continue;
      const fromLo = initiator === ipLo;
      const ip = (n: number) => [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255].join(".");
      out.push({
        src: ip(fromLo ? ipLo : ipHi), dst: ip(fromLo ? ipHi : ipLo), l4proto: PROTO_NAME[proto] ?? String(proto),
        sport: fromLo ? portLo : portHi, dport: fromLo ? portHi : portLo,
        state: established ? "ESTABLISHED" : "NEW", eta: Number(timeout - age),
      });
    }
    return out;
  }

  await writeConfig();
  for (const c of CHAINS) {
    await writeActive(c);
    await install(c, chains[c].rules);
  }

  /** REST edits of chains and rules, applied to copies and installed only if all are accepted. */
  async function applyChanges(changes: Change[], cfg: JsonObject): Promise<void> {
    const next: Record<ChainName, { def: Action; rules: Rule[] }> = {
      INGRESS: { def: chains.INGRESS.def, rules: chains.INGRESS.rules.slice() },
      EGRESS: { def: chains.EGRESS.def, rules: chains.EGRESS.rules.slice() },
    };
    const touched = new Set<ChainName>();
    let ct = conntrack, ae = acceptEstablished;
    const cfgChain = (c: ChainName) => ((cfg.chain ?? []) as JsonObject[]).find((e) => String(e.name).toUpperCase() === c);
    const ruleEdits: Array<{ c: ChainName; op: Change["op"]; id: number }> = [];
    for (const ch of changes) {
      const top = ch.path[0]?.node;
      if (top === "conntrack") ct = onOff(ch.after);
      else if (top === "accept-established") ae = onOff(ch.after);
      else if (top === "chain") {
        const c = chainOf(ch.path);
        const second = ch.path[1]?.node;
        if (ch.path.length === 1) {
          // A whole chain entry: created with its default and rules, or deleted (rules gone, DROP).
          touched.add(c);
          if (ch.op === "delete") next[c] = { def: "DROP", rules: [] };
          else {
            const e = ch.after as JsonObject;
            next[c] = { def: String(e.default ?? "DROP").toUpperCase() as Action, rules: rulesOfEntry(e, c) };
          }
        } else if (second === "default") {
          touched.add(c);
          next[c].def = String(ch.after ?? "DROP").toUpperCase() as Action;
        } else if (second === "rule") {
          touched.add(c);
          ruleEdits.push({ c, op: ch.path.length === 2 ? ch.op : "modify", id: Number(ch.path[1]!.keys?.id) });
        }
      }
    }
    // Deletes from the highest id down, then replacements, then new entries from the lowest up.
    const order = (e: { op: string }) => (e.op === "delete" ? 0 : e.op === "modify" ? 1 : 2);
    ruleEdits.sort((a, b) => order(a) - order(b) || (a.op === "delete" ? b.id - a.id : a.id - b.id));
    const seen = new Set<string>();
    for (const e of ruleEdits) {
      const key = `${e.c}/${e.id}/${e.op === "delete" ? "d" : "w"}`;
      if (seen.has(key)) continue; // several leaf changes of one entry
      seen.add(key);
      const rules = next[e.c].rules;
      const where = `chain[${e.c}].rule[${e.id}]`;
      if (e.op === "delete") {
        if (e.id >= rules.length) throw new ServiceError(`${where} does not exist`, 409, "data-missing", where);
        rules.splice(e.id, 1);
        continue;
      }
      const entry = ((cfgChain(e.c)?.rule ?? []) as JsonObject[]).find((r) => Number(r.id) === e.id) ?? {};
      if (e.id < rules.length) editRules(rules, "update", e.id, entry, where);
      else if (e.id === rules.length) editRules(rules, "append", undefined, entry, where);
      else throw bad(`${where}.id`, `${e.id} is beyond the end of the chain (${rules.length} rules): ids are positions`);
    }
    const ctChanged = ct !== conntrack || ae !== acceptEstablished;
    conntrack = ct;
    acceptEstablished = ae;
    if (ctChanged) await writeConfig();
    for (const c of touched) {
      const rulesChanged = next[c].rules.length !== chains[c].rules.length || next[c].rules.some((r, i) => r !== chains[c].rules[i]);
      chains[c].def = next[c].def;
      if (rulesChanged) await install(c, next[c].rules);
      else await writeActive(c);
    }
  }

  async function action(path: PathStep[], input: JsonObject): Promise<JsonObject | void> {
    const name = path.at(-1)!.node;
    const c = chainOf(path);
    const rules = chains[c].rules.slice();
    const where = `chain[${c}].${name}`;
    switch (name) {
      case "append": {
        const id = editRules(rules, "append", undefined, input, where);
        await install(c, rules);
        return { id };
      }
      case "insert": {
        const id = editRules(rules, "insert", input.id === undefined ? undefined : Number(input.id), input, where);
        await install(c, rules);
        return { id };
      }
      case "delete": {
        const q = parseRule(input, where);
        const keep = rules.filter((r) => !sameRule(r, q, input));
        if (keep.length === rules.length) throw new ServiceError(`${where}: no rule has these fields`, 404, "data-missing", where);
        await install(c, keep);
        return;
      }
      case "batch": {
        const ops = (input.rules ?? []) as JsonObject[];
        ops.forEach((o, i) => editRules(rules, String(o.operation ?? "append").toLowerCase(), o.id === undefined ? undefined : Number(o.id), o, `${where}.rules[${i}]`));
        await install(c, rules);
        return;
      }
      case "reset-counters":
        await resetCounters(c);
        return { result: true };
    }
    throw new ServiceError(`${name}: no such action`, 404);
  }

  return {
    apply: (changes, cfg) => serial(() => applyChanges(changes, cfg)),
    action: (path, input) => serial(() => action(path, input)),
    state: () =>
      serial(async () => {
        const chain: JsonObject[] = [];
        for (const c of CHAINS) chain.push({ name: c, default: chains[c].def, rule: chains[c].rules.map((r, id) => ({ id, ...ruleJson(r) })), stats: await stats(c) });
        return { conntrack: conntrack ? "ON" : "OFF", "accept-established": acceptEstablished ? "ON" : "OFF", "session-table": await sessionTable(), chain };
      }),
  };
}

export const firewall: ServiceModule = { name: "firewall", kind: "transparent", yang, createCube, ownsConfig: true };
export default firewall;
