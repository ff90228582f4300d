// firewall: the original's transparent IPv4 firewall. Two chains (INGRESS, EGRESS) of rules
// whose first match decides (DROP, LOG, ACCEPT), a default action per chain, per-rule counters,
// and connection tracking shared by both chains (conntrack.ts). The rules are the service's
// own (ownsConfig): the actions (append, insert, delete, batch) change them, and REST writes
// of chain/rule entries are positional edits as in the original (an id equal to the number of
// rules appends, a smaller one replaces, a larger one is refused).
//
// This file wires the pure parts to the cube: rules.ts (fields), chain.ts (order, ranks,
// counters), classifier.ts (the tuple space the datapath searches), generations.ts (atomic
// publication), conntrack.ts (modes, timeouts, sessions), packet-log.ts (LOG lines).
import { ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type PacketIn, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import { u32 } from "../../lib/bpf/codec.ts";
import { bootNs } from "../../lib/sdk/clock.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { Chain, type Edit } from "./chain.ts";
import { RULES_MAX } from "./classifier.ts";
import { configCodec, encodeConfig, INITIAL_MODE, modeView, parseTimeouts, sessionEntry, setAcceptEstablished, setConntrack, TIMEOUTS_ENV, type Mode } from "./conntrack.ts";
import { Generations } from "./generations.ts";
import { chainValue, counterValue, ctKey, ctValue, ruleKey, ruleValue, tupleSet } from "./layout.ts";
import { logLine } from "./packet-log.ts";
import { ACTION_CODE, ACTIONS, DEFAULT_ACTION, invalid, parseRule, ruleJson, sameRule, type Action } from "./rules.ts";
import yang from "./firewall.yang" with { type: "text" };

export const CHAINS = ["INGRESS", "EGRESS"] as const;
export type ChainName = (typeof CHAINS)[number];

/** FW_REASON_LOG in firewall.bpf.c */
const REASON_LOG = 1;

function chainName(value: Json | undefined, where: string): ChainName {
  const name = String(value ?? "").toUpperCase();
  if (name === "INGRESS" || name === "EGRESS") return name;
  throw invalid(where, `'${value}' is not a chain this firewall filters (INGRESS, EGRESS)`);
}

function actionOf(value: Json | undefined, where: string): Action {
  if (value === undefined || value === null) return DEFAULT_ACTION;
  const a = String(value).toUpperCase() as Action;
  if (!ACTIONS.includes(a)) throw invalid(where, `'${value}' is not one of ${ACTIONS.join(", ")}`);
  return a;
}

function onOff(value: Json | undefined, where: string): "ON" | "OFF" {
  const v = String(value ?? "").toUpperCase();
  if (v !== "ON" && v !== "OFF") throw invalid(where, `'${value}' is not ON or OFF`);
  return v;
}

/** The rules of a chain entry given whole (at creation, or a chain written whole): ids from 0 without gaps. */
export function rulesOfEntry(entry: JsonObject | undefined, chain: string): Edit[] {
  const list = ((entry?.rule ?? []) as JsonObject[]).slice().sort((a, b) => Number(a.id) - Number(b.id));
  list.forEach((e, i) => {
    if (Number(e.id) !== i) throw invalid(`chain[${chain}].rule`, `rule ids are positions: they run from 0 without gaps (rule ${e.id} where ${i} was expected)`);
  });
  if (list.length > RULES_MAX) throw invalid(`chain[${chain}].rule`, `at most ${RULES_MAX} rules per chain`);
  return list.map((e) => ({ op: "append", rule: parseRule(e, `chain[${chain}].rule[${e.id}]`) }));
}

/** The edits a batch's entries stand for. */
export function batchEdits(entries: JsonObject[], where: string): Edit[] {
  return entries.map((o, i) => {
    const w = `${where}.rules[${i}]`;
    const op = String(o.operation ?? "APPEND").toUpperCase();
    const id = o.id === undefined || o.id === null ? undefined : Number(o.id);
    const needId = () => {
      if (id === undefined) throw invalid(`${w}.id`, `${op} needs the id of the rule`);
      return id;
    };
    switch (op) {
      case "APPEND": return { op: "append", rule: parseRule(o, w) };
      case "INSERT": return { op: "insert", id: id ?? 0, rule: parseRule(o, w) };
      case "UPDATE": return { op: "update", id: needId(), rule: parseRule(o, w) };
      case "DELETE": return { op: "delete", id: needId() };
      default: throw invalid(`${w}.operation`, `'${o.operation}' is not one of INSERT, APPEND, DELETE, UPDATE`);
    }
  });
}

interface ChainState {
  chain: Chain;
  def: Action;
  gens: Generations;
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  const timeouts = parseTimeouts(process.env[TIMEOUTS_ENV]);
  // Everything the configuration says is checked before the datapath is loaded.
  let mode: Mode = INITIAL_MODE;
  if (config["accept-established"] !== undefined) mode = setAcceptEstablished(mode, onOff(config["accept-established"], "accept-established"));
  if (config.conntrack !== undefined) mode = setConntrack(mode, onOff(config.conntrack, "conntrack"));
  const given = new Map<ChainName, JsonObject>();
  for (const e of (config.chain ?? []) as JsonObject[]) given.set(chainName(e.name, "chain.name"), e);
  const initial = CHAINS.map((c) => ({ def: actionOf(given.get(c)?.default, `chain[${c}].default`), edits: rulesOfEntry(given.get(c), c) }));

  await ctx.loadDatapath("firewall");
  // Typed views check every codec of layout.ts against the object's BTF before anything is written.
  const maps = {
    active: typedMap(ctx, "fw_active", u32, chainValue).raw,
    tuples: typedMap(ctx, "fw_tuples", u32, tupleSet).raw,
    rules: typedMap(ctx, "fw_rules", ruleKey, ruleValue).raw,
  };
  const cfgMap = typedMap(ctx, "fw_config", u32, configCodec).raw;
  const counters = typedMap(ctx, "fw_counters", u32, counterValue);
  const sessions = typedMap(ctx, "fw_sessions", ctKey, ctValue).raw;
  const chains = {} as Record<ChainName, ChainState>;
  CHAINS.forEach((c, i) => (chains[c] = { chain: new Chain(), def: initial[i]!.def, gens: new Generations(maps, i) }));

  const counterIndex = (c: ChainName, slot: number) => CHAINS.indexOf(c) * (RULES_MAX + 1) + slot;
  const zero = { pkts: 0n, bytes: 0n };

  async function readCounter(index: number): Promise<{ pkts: number; bytes: number }> {
    const per = (await counters.getPerCpu(index)) ?? [];
    let pkts = 0n, bytes = 0n;
    for (const v of per) {
      pkts += v.pkts;
      bytes += v.bytes;
    }
    return { pkts: Number(pkts), bytes: Number(bytes) };
  }

  /** Writes what changed in a chain: new rules' counters zeroed first, then entries and tuples at once. */
  async function publish(c: ChainName): Promise<void> {
    const st = chains[c];
    const t = st.chain.take();
    for (const slot of t.freshCounters) await counters.set(counterIndex(c, slot), zero);
    await st.gens.publish(t.entries, t.tuplesChanged ? st.chain.space.list() : undefined, ACTION_CODE[st.def]);
  }

  await cfgMap.set(u32.encode(0), encodeConfig(mode, timeouts));
  for (const [i, c] of CHAINS.entries()) {
    await chains[c].gens.adopt();
    chains[c].chain.apply(initial[i]!.edits, (n) => `chain[${c}].rule[${n}]`);
    await counters.set(counterIndex(c, RULES_MAX), zero);
    await publish(c);
  }

  // One change at a time: edits, publication and reads of one cube never interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function stats(c: ChainName): Promise<JsonObject[]> {
    const st = chains[c];
    const out: JsonObject[] = [];
    const slots = st.chain.counters();
    const rules = st.chain.rules();
    for (let i = 0; i < rules.length; i++) out.push({ id: i, ...(await readCounter(counterIndex(c, slots[i]!))), ...ruleJson(rules[i]!) });
    out.push({ id: rules.length, ...(await readCounter(counterIndex(c, RULES_MAX))), action: st.def, description: "Default Policy" });
    return out;
  }

  async function sessionTable(): Promise<JsonObject[]> {
    const now = bootNs();
    const out: JsonObject[] = [];
    for (const [k, v] of await sessions.entries()) {
      const e = sessionEntry(k, v, now);
      if (e) out.push(e);
    }
    return out;
  }

  function configView(): JsonObject {
    return {
      ...modeView(mode),
      chain: CHAINS.map((c) => ({ name: c, default: chains[c].def, rule: chains[c].chain.rules().map((r, id) => ({ id, ...ruleJson(r) })) })),
    };
  }

  /** Applies edits to chains; all or nothing across them (a later chain's refusal restores the earlier ones). */
  async function edit(per: Array<[ChainName, Edit[]]>): Promise<number[]> {
    const done: Array<[ChainName, ReturnType<Chain["rules"]>]> = [];
    let ids: number[] = [];
    try {
      for (const [c, edits] of per) {
        const before = chains[c].chain.rules();
        ids = chains[c].chain.apply(edits, (i) => `chain[${c}].rule${edits.length > 1 ? `s[${i}]` : ""}`);
        done.push([c, before]);
      }
    } catch (e) {
      for (const [c, before] of done) {
        const n = chains[c].chain.length;
        chains[c].chain.apply([...Array.from({ length: n }, () => ({ op: "delete" as const, id: 0 })), ...before.map((rule) => ({ op: "append" as const, rule }))]);
      }
      throw e;
    }
    for (const [c] of per) await publish(c);
    return ids;
  }

  /** REST writes: the mode, chains' defaults, and rule entries as positional edits. */
  async function applyChanges(changes: Change[], cfg: JsonObject): Promise<void> {
    let next = mode;
    const ae = changes.find((ch) => ch.path.length === 1 && ch.path[0]!.node === "accept-established" && ch.op !== "delete");
    const ct = changes.find((ch) => ch.path.length === 1 && ch.path[0]!.node === "conntrack" && ch.op !== "delete");
    // The original's order: accept-established first, then conntrack.
    if (ae) next = setAcceptEstablished(next, onOff(ae.after, "accept-established"));
    if (ct) next = setConntrack(next, onOff(ct.after, "conntrack"));

    const defaults = new Map<ChainName, Action>();
    const whole = new Map<ChainName, Edit[]>();
    const ruleEdits: Array<{ c: ChainName; op: Change["op"]; id: number }> = [];
    for (const ch of changes) {
      if (ch.path[0]?.node !== "chain") continue;
      const c = chainName(ch.path[0].keys?.name, "chain.name");
      const second = ch.path[1]?.node;
      if (ch.path.length === 1) {
        if (ch.op === "delete") throw new ServiceError(`chain ${c}: a firewall's chains cannot be deleted`, 400, "operation-not-supported", "chain");
        const e = ch.after as JsonObject;
        defaults.set(c, actionOf(e.default, `chain[${c}].default`));
        whole.set(c, [...Array.from({ length: chains[c].chain.length }, () => ({ op: "delete" as const, id: 0 })), ...rulesOfEntry(e, c)]);
      } else if (second === "default") {
        defaults.set(c, actionOf(ch.op === "delete" ? undefined : ch.after, `chain[${c}].default`));
      } else if (second === "rule") {
        ruleEdits.push({ c, op: ch.path.length === 2 ? ch.op : "modify", id: Number(ch.path[1]!.keys?.id) });
      }
    }
    // Deletes from the highest id down, then replacements, then new entries from the lowest up.
    const rank = (e: { op: string }) => (e.op === "delete" ? 0 : e.op === "modify" ? 1 : 2);
    ruleEdits.sort((a, b) => rank(a) - rank(b) || (a.op === "delete" ? b.id - a.id : a.id - b.id));
    const per = new Map<ChainName, Edit[]>(whole);
    const lengths = new Map<ChainName, number>(CHAINS.map((c) => [c, chains[c].chain.length]));
    const seen = new Set<string>();
    for (const e of ruleEdits) {
      const key = `${e.c}/${e.id}/${e.op === "delete" ? "d" : "w"}`;
      if (seen.has(key) || whole.has(e.c)) continue; // several leaf changes of one entry
      seen.add(key);
      const list = per.get(e.c) ?? [];
      per.set(e.c, list);
      const where = `chain[${e.c}].rule[${e.id}]`;
      const n = lengths.get(e.c)!;
      if (e.op === "delete") {
        if (e.id >= n) throw new ServiceError(`${where} does not exist`, 404, "data-missing", where);
        list.push({ op: "delete", id: e.id });
        lengths.set(e.c, n - 1);
        continue;
      }
      const entry = ((((cfg.chain ?? []) as JsonObject[]).find((x) => String(x.name).toUpperCase() === e.c)?.rule ?? []) as JsonObject[]).find((r) => Number(r.id) === e.id) ?? {};
      const rule = parseRule(entry, where);
      if (e.id < n) list.push({ op: "update", id: e.id, rule });
      else if (e.id === n) {
        list.push({ op: "append", rule });
        lengths.set(e.c, n + 1);
      } else throw invalid(`${where}.id`, `rule ids are positions: ${e.id} is beyond the end of the chain (${n} rules); use ${n} to append`);
    }
    // New defaults go out with the chain's rules when it has edits, else on their own (one word).
    const before = new Map(CHAINS.map((c) => [c, chains[c].def]));
    for (const [c, a] of defaults) chains[c].def = a;
    try {
      await edit([...per]);
    } catch (e) {
      for (const [c, a] of before) chains[c].def = a;
      throw e;
    }
    for (const [c, a] of defaults) if (!per.has(c) && before.get(c) !== a) await chains[c].gens.setDefault(ACTION_CODE[a]);
    if (next !== mode) {
      mode = next;
      await cfgMap.set(u32.encode(0), encodeConfig(mode, timeouts));
    }
  }

  async function action(path: PathStep[], input: JsonObject): Promise<JsonObject | void> {
    const name = path.at(-1)!.node;
    const c = chainName(path.find((s) => s.node === "chain")?.keys?.name, "chain.name");
    const where = `chain[${c}].${name}`;
    switch (name) {
      case "append": {
        const [id] = await edit([[c, [{ op: "append", rule: parseRule(input, where) }]]]);
        return { id: id! };
      }
      case "insert": {
        const at = input.id === undefined || input.id === null ? 0 : Number(input.id);
        const [id] = await edit([[c, [{ op: "insert", id: at, rule: parseRule(input, where) }]]]);
        return { id: id! };
      }
      case "delete": {
        const q = parseRule(input, where);
        const id = chains[c].chain.rules().findIndex((r) => sameRule(r, q, input));
        if (id < 0) throw new ServiceError(`${where}: no rule of the chain has these fields`, 404, "data-missing", where);
        await edit([[c, [{ op: "delete", id }]]]);
        return;
      }
      case "batch": {
        await edit([[c, batchEdits((input.rules ?? []) as JsonObject[], where)]]);
        return;
      }
      case "reset-counters": {
        for (const slot of [...chains[c].chain.counters(), RULES_MAX]) await counters.set(counterIndex(c, slot), zero);
        return { result: true };
      }
    }
    throw new ServiceError(`${name}: no such action`, 404);
  }

  function packetIn(pkt: PacketIn): void {
    if (pkt.reason !== REASON_LOG) return;
    const c = CHAINS[pkt.metadata[0]] ?? "INGRESS";
    const slot = pkt.metadata[1] - CHAINS.indexOf(c) * (RULES_MAX + 1);
    const id = slot === RULES_MAX ? undefined : chains[c].chain.idOfCounter(slot);
    ctx.log.info(logLine(c, id !== undefined && id < 0 ? undefined : id, pkt.data));
  }

  return {
    apply: (changes, cfg) => serial(() => applyChanges(changes, cfg)),
    action: (path, input) => serial(() => action(path, input)),
    packetIn,
    ownedConfig: () => serial(async () => configView()),
    state: () =>
      serial(async () => {
        const view = configView();
        for (const e of view.chain as JsonObject[]) e.stats = await stats(e.name as ChainName);
        return { ...view, "session-table": await sessionTable() };
      }),
  };
}

// `rule add N` replaces rule N when it exists, as in the original.
export const firewall: ServiceModule = { name: "firewall", kind: "transparent", yang, createCube, ownsConfig: true, createReplaces: ["chain/rule"] };
export default firewall;
