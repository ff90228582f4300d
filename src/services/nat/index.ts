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
import { bootNs } from "../../lib/sdk/clock.ts";
import { ServiceError, type Change, type CubeContext, type CubeControl, type Json, type JsonObject, type MapAccess, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./nat.yang" with { type: "text" };
import { bad, checkRules, compileRules, K_DNAT, K_MASQ, K_PF, K_SNAT, parentAddress, parseDnat, parseIp, parsePf, parseSnat, rulesJson, rulesOf, type Rules } from "./rules.ts";
import { encodeConfig, liveSessions, parseTimeouts, TIMEOUTS_ENV, type Session } from "./sessions.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  let rules = rulesOf(config);
  const rule = (config.rule ?? {}) as JsonObject;
  let masquerade = ((rule.masquerade ?? {}) as JsonObject).enabled === true;
  let parentIp: string | undefined;
  const timeouts = parseTimeouts(process.env[TIMEOUTS_ENV]);

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
    const v = encodeConfig({ masqIp: parentIp ? parseIp(parentIp)! : 0, masquerade, snatRules: rules.snat.length, dnatRules: rules.dnat.length + rules.pf.length, timeouts });
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
    return liveSessions(await m.sessions.entries(), bootNs()).map((s) => s.row);
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
        for (const { row, keys: entries } of liveSessions(await m.sessions.entries(), bootNs())) {
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
    for (const k of drops) await m.sessions.delete(k);
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
