// nat: a transparent IPv4 NAT (the original's nat service), meant to sit on a router port.
//
// - SNAT: traffic leaving from an internal-net gets that rule's external-ip as its source.
// - masquerade: traffic leaving gets the parent port's address (the router port's `ip`, which
//   the daemon hands parentChanged() and hands again whenever it changes).
// - DNAT: traffic arriving for external-ip goes to internal-ip.
// - port forwarding: traffic arriving for external-ip:external-port (TCP, UDP, or both when
//   proto is not given) goes to internal-ip:internal-port.
// The datapath (nat.bpf.c) keeps per-flow sessions and expires them (timeouts in sessions.ts,
// POLYCUBE_NAT_TIMEOUTS read at cube creation); natting-table lists the live ones from the
// inside: the tuple as the inside host sends it, and the address and port it has outside.
// Rules: rules.ts; sessions and the datapath's configuration: sessions.ts.
//
// Rules belong to the service (ownsConfig): append actions add them with the next free id, REST
// writes of entries add, change or delete them. Every change is checked whole before anything
// is written: a refused one changes nothing. Sessions of a rule kind are flushed when rules of
// that kind change or go (new flows then follow the new rules); appends keep them.
import { u32 } from "../../lib/bpf/codec.ts";
import { bootNs } from "../../lib/sdk/clock.ts";
import { parseIpv4 } from "../../lib/sdk/ipv4.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { applyInOrder } from "../../lib/sdk/mirror.ts";
import { ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./nat.yang" with { type: "text" };
import { bad, checkRules, compileRules, K_DNAT, K_MASQ, K_PF, K_SNAT, parentAddress, parseDnat, parsePf, parseSnat, rulesJson, rulesOf, type Rules } from "./rules.ts";
import { dnatKey, dnatValue, pfKey, pfValue, sessionKey, sessionValue, snatKey, snatValue } from "./layout.ts";
import { configCodec, encodeConfig, liveSessions, parseTimeouts, TIMEOUTS_ENV, type Session } from "./sessions.ts";

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  let rules = rulesOf(config);
  const rule = (config.rule ?? {}) as JsonObject;
  let masquerade = ((rule.masquerade ?? {}) as JsonObject).enabled === true;
  let parentIp: string | undefined;
  const timeouts = parseTimeouts(process.env[TIMEOUTS_ENV]);

  await ctx.loadDatapath("nat");
  const sessionMap = typedMap(ctx, "nat_sessions", sessionKey, sessionValue).raw;
  const m = {
    config: typedMap(ctx, "nat_config", u32, configCodec).rawMirror({ what: "nat configuration" }),
    snat: typedMap(ctx, "nat_snat", snatKey, snatValue).rawMirror({ what: "SNAT rules" }),
    dnat: typedMap(ctx, "nat_dnat", dnatKey, dnatValue).rawMirror({ what: "DNAT rules" }),
    pf: typedMap(ctx, "nat_pf", pfKey, pfValue).rawMirror({ what: "port-forwarding rules" }),
  };

  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const configEntry = (r: Rules, masq: boolean): [Uint8Array, Uint8Array] => [
    u32.encode(0),
    encodeConfig({ masqIp: parentIp ? parseIpv4(parentIp)! : 0, masquerade: masq, snatRules: r.snat.length, dnatRules: r.dnat.length + r.pf.length, timeouts }),
  ];

  async function writeConfig(): Promise<void> {
    await m.config.replace([configEntry(rules, masquerade)]);
  }

  /**
   * Makes the rule maps hold exactly what `next` asks for, then the configuration that counts
   * them: only changed entries are written, and a refused write puts every map back.
   */
  async function install(next: Rules, masq = masquerade): Promise<void> {
    const want = compileRules(next);
    await applyInOrder(
      [() => m.snat.replace(want.snat), () => m.dnat.replace(want.dnat), () => m.pf.replace(want.pf), () => m.config.replace([configEntry(next, masq)])],
      (e) => ctx.log.error(`cannot restore the rule maps: ${e.message}`),
    );
    rules = next;
    masquerade = masq;
  }

  /** Drops the sessions of these kinds (keep: those it says still hold). */
  async function flush(kinds: Set<number>, keep: (k: Uint8Array, v: Uint8Array) => boolean = () => false): Promise<void> {
    if (!kinds.size) return;
    for (const [k, v] of await sessionMap.entries()) if (kinds.has(sessionValue.decode(v).kind) && !keep(k, v)) await sessionMap.delete(k);
  }

  /** The outside address of a session entry: what it rewrites the source to, or (the reply's entry) the destination it answers. */
  function outsideAddress(k: Uint8Array, v: Uint8Array): number {
    const val = sessionValue.decode(v);
    return val.rewriteSrc ? val.ip : sessionKey.decode(k).dst;
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
    return liveSessions(await sessionMap.entries(), bootNs()).map((s) => s.row);
  }

  async function applyChanges(changes: Change[], cfg: JsonObject): Promise<void> {
    const drops: Uint8Array[] = [];
    let touched = false;
    for (const ch of changes) {
      const top = ch.path[0]?.node;
      if (top === "rule") touched = true;
      else if (top === "natting-table") {
        if (ch.op !== "delete" || ch.path.length !== 1) throw bad(ch.where.slice(1), "natting-table entries are sessions the datapath makes: they can only be deleted");
        const keys = ch.path[0]!.keys ?? {};
        for (const { row, keys: entries } of liveSessions(await sessionMap.entries(), bootNs())) {
          if (row["internal-src"] === keys["internal-src"] && row["internal-dst"] === keys["internal-dst"] && String(row["internal-sport"]) === keys["internal-sport"] &&
            String(row["internal-dport"]) === keys["internal-dport"] && row.proto === String(keys.proto).toUpperCase()) drops.push(...entries);
        }
      }
    }
    let next = rules, masq = masquerade;
    if (touched) {
      next = rulesOf(cfg);
      masq = (((cfg.rule ?? {}) as JsonObject).masquerade as JsonObject | undefined)?.enabled === true;
    }
    for (const k of drops) await sessionMap.delete(k);
    if (!touched) return;
    const flushKinds = changedKinds(rules, next);
    if (masquerade && !masq) flushKinds.add(K_MASQ);
    await install(next, masq);
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
    // Masquerade sessions made with another address go; those with this one stay (a restart
    // that adopts the datapath tells the new cube its parent, and its sessions carry on).
    const now = ip === undefined ? undefined : parseIpv4(ip);
    await flush(new Set([K_MASQ]), (k, v) => outsideAddress(k, v) === now);
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
