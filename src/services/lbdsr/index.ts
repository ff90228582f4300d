// lbdsr: Direct Server Return load balancer, as the original's pcn-loadbalancer-dsr. Requests
// from the clients reach the cube's FRONTEND port, addressed to the VIP (the cube answers ARP for
// it with the frontend MAC); each session is sent on out of the BACKEND port to one backend of the
// pool, chosen by a hash of the session and kept for it (balance.ts, lbdsr.bpf.c), with only its
// Ethernet addresses changed. The backends hold the VIP on their loopback and answer the clients
// directly.
//
// The control plane checks the whole configuration (model.ts), computes the datapath's
// configuration and pool (tables.ts) and keeps the maps equal to them with mirrors; a refused
// write puts every map back. When a backend leaves the pool (or changes its MAC), the sessions
// that went to it are removed, so that they are balanced again over the backends left; the other
// sessions stay where they are.
import { typedMap } from "../../lib/sdk/maps.ts";
import { applyInOrder, type TypedMirror } from "../../lib/sdk/mirror.ts";
import { deleteAll, type Change, type CubeContext, type CubeControl, type JsonObject, type ServiceModule } from "../../lib/sdk/types.ts";
import { u32 } from "../../lib/bpf/codec.ts";
import yang from "./lbdsr.yang" with { type: "text" };
import { checkUpdate, dsrModel } from "./model.ts";
import { backendMac, dsrConf, NO_BACKEND, sessionKey, tables, type DsrConf } from "./tables.ts";

class LbdsrCube implements CubeControl {
  private readonly config: TypedMirror<number, DsrConf>;
  private readonly pool: TypedMirror<number, { mac: string; pad: number }>;
  private readonly sessions;
  /** The pool's MACs as last written. */
  private macs = new Set<string>();

  constructor(
    private readonly ctx: CubeContext,
    private applied: JsonObject,
  ) {
    this.config = typedMap(ctx, "dsr_config", u32, dsrConf).mirror({ what: "lbdsr configuration" });
    this.pool = typedMap(ctx, "dsr_backends", u32, backendMac).mirror({ what: "backend pool", absent: NO_BACKEND });
    this.sessions = typedMap(ctx, "dsr_sessions", sessionKey, backendMac);
  }

  async apply(_changes: Change[], config: JsonObject): Promise<void> {
    checkUpdate(this.applied, config);
    const model = dsrModel(config);
    const next = tables(model, this.ctx.ports());
    // New pool entries before the count that reaches them; places no longer used after it.
    await applyInOrder(
      [
        () => this.pool.replace(next.pool, { keep: true }),
        () => this.config.replace([[0, next.config]]),
        () => this.pool.replace(next.pool),
      ],
      (e) => this.ctx.log.error(`cannot restore the tables: ${e.message}`),
    );
    this.applied = config;
    const macs = new Set(model.pool.map((b) => b.mac));
    const gone = [...this.macs].filter((m) => !macs.has(m));
    this.macs = macs;
    if (gone.length) await this.forgetSessions(new Set(gone));
  }

  /** Removes the sessions that went to one of `macs`: their next packet picks a backend again. */
  private async forgetSessions(macs: Set<string>): Promise<void> {
    const raw = this.sessions.raw;
    const stale = (await raw.entries()).filter(([, v]) => macs.has(backendMac.decode(v).mac)).map(([k]) => k);
    if (!stale.length) return;
    const n = await deleteAll(raw, stale);
    this.ctx.log.debug(`${n} sessions of backends that left the pool removed`);
  }
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  tables(dsrModel(config), ctx.ports());
  await ctx.loadDatapath("lbdsr");
  const cube = new LbdsrCube(ctx, config);
  await cube.apply([], config);
  return cube;
}

export const lbdsr: ServiceModule = { name: "lbdsr", kind: "standard", yang, createCube };
export default lbdsr;
