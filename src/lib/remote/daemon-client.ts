// The daemon side of a remote service: dials the service's gRPC server and presents it to the
// daemon core as an ordinary ServiceModule. The core cannot tell it from a local one.
//
// When the service process goes away its cubes stay in the daemon (with their configuration);
// calls to them fail with 503 naming the service, and the link redials. When the service comes
// back, every cube is re-created there from the configuration the daemon kept, so its state is
// restored without the user doing anything.
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity } from "node:tls";
import { remoteService, type DaemonMessage, type ServiceMessage, type ReplyMsg, type SdkCallMsg } from "./protocol.ts";
import { Session, OK, SessionClosedError, SessionTimeoutError } from "./session.ts";
import { decodeGlobals, snapshotOf } from "./wire.ts";
import { ServiceError } from "../sdk/types.ts";
import type { CubeContext, CubeControl, Direction, JsonObject, Logger, PacketIn, ServiceKind, ServiceModule, StackPlace } from "../sdk/types.ts";
import { VERSION } from "../../version.ts";

type ServiceSession = Session<DaemonMessage, ServiceMessage>;

export interface RemoteLinkOptions {
  uri: string;
  /** The name the user registered; the service must call itself the same. */
  name?: string;
  log: Logger;
  tls?: { cacert: string; cert?: string; key?: string };
  /** Delay between redials after the service went away. */
  redialMs?: number;
  /** How long a call may wait for the service's answer (DEFAULT_TIMEOUT_MS unless told). */
  timeoutMs?: number;
}

/** How long the daemon waits for a remote service's answer, unless told otherwise (--remote-timeout). */
export const DEFAULT_TIMEOUT_MS = 5000;

interface RemoteCube {
  ctx: CubeContext;
  config: JsonObject;
}

export class RemoteServiceLink {
  readonly module: ServiceModule;
  private session?: ServiceSession;
  private readonly client: grpc.Client & { Session(): grpc.ClientDuplexStream<DaemonMessage, ServiceMessage> };
  private readonly cubes = new Map<string, RemoteCube>();
  private closed = false;
  private redialTimer?: ReturnType<typeof setTimeout>;
  private registration!: { name: string; kind: ServiceKind; yang: string; ownsConfig: boolean; createReplaces: string[]; stackPlace?: StackPlace };
  /** The service's own eBPF objects, when it runs from a plug-in package (the daemon registers them). */
  objects = new Map<string, Uint8Array>();

  private constructor(private readonly opts: RemoteLinkOptions) {
    // Bun's TLS refuses an IP address as the SNI server name, which grpc-js sends for an
    // address like 127.0.0.1:50051. For such targets the name sent is a placeholder and the
    // certificate is still checked against the real address (its IP subjectAltName).
    const host = opts.uri.replace(/^\[/, "").replace(/\]?:\d+$/, "");
    const byAddress = isIP(host) !== 0;
    const creds = opts.tls
      ? grpc.credentials.createSsl(
          readFileSync(opts.tls.cacert),
          opts.tls.key ? readFileSync(opts.tls.key) : null,
          opts.tls.cert ? readFileSync(opts.tls.cert) : null,
          byAddress ? { checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) } : {},
        )
      : grpc.credentials.createInsecure();
    const channelOptions = opts.tls && byAddress ? { "grpc.ssl_target_name_override": "polycube-remote-service" } : {};
    const Client = remoteService();
    this.client = new Client(opts.uri, creds, channelOptions) as unknown as RemoteServiceLink["client"];
    const link = this;
    this.module = {
      get name() { return link.registration.name; },
      get kind() { return link.registration.kind; },
      get yang() { return link.registration.yang; },
      get ownsConfig() { return link.registration.ownsConfig; },
      get createReplaces() { return link.registration.createReplaces; },
      get stackPlace() { return link.registration.stackPlace; },
      createCube: (ctx, config) => link.createCube(ctx, config),
    };
  }

  /** Dials the service and learns its name and model; fails if it cannot be reached. */
  static async connect(opts: RemoteLinkOptions): Promise<RemoteServiceLink> {
    const link = new RemoteServiceLink(opts);
    try {
      const { reg, session } = await link.open();
      link.use(session);
      if (opts.name && reg.name !== opts.name) {
        throw new ServiceError(`remote service at ${opts.uri} is ${reg.name}, not ${opts.name}`, 400);
      }
      link.registration = { name: reg.name, kind: reg.kind as ServiceKind, yang: reg.yang, ownsConfig: !!reg.ownsConfig, createReplaces: reg.createReplaces ?? [],
        stackPlace: reg.stackPlace === "cube" || reg.stackPlace === "wire" ? reg.stackPlace : undefined };
      for (const o of reg.objects ?? []) link.objects.set(o.name, new Uint8Array(o.data));
      return link;
    } catch (e) {
      link.close();
      if (e instanceof ServiceError) throw e;
      throw new ServiceError(`cannot reach remote service at ${opts.uri}: ${(e as Error).message}`, 400);
    }
  }

  get available(): boolean {
    return !!this.session?.isOpen;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.redialTimer);
    this.redialTimer = undefined;
    this.session?.close("service removed");
    this.client.close();
  }

  /** A session on which the service answered: calls go there from now on. */
  private use(session: ServiceSession): void {
    this.session = session;
    session.onClose((why) => this.lost(why));
  }

  /** Dials, and waits for the service's registration (not taken into use yet). */
  private async open(): Promise<{ reg: NonNullable<ReplyMsg["registration"]>; session: ServiceSession }> {
    const deadline = Date.now() + 5000;
    await new Promise<void>((resolve, reject) =>
      this.client.waitForReady(deadline, (err) => (err ? reject(err) : resolve())),
    );
    const session: ServiceSession = new Session<DaemonMessage, ServiceMessage>(this.client.Session(), (m) => this.serve(m));
    try {
      const reply = await session.request({ hello: { daemonVersion: VERSION } }, this.timeoutMs);
      if (!reply.registration?.name) throw new ServiceError(`remote service at ${this.opts.uri} did not register`, 502);
      return { reg: reply.registration, session };
    } catch (e) {
      session.close("no registration");
      throw e;
    }
  }

  private lost(why: string): void {
    if (this.closed) return;
    this.opts.log.warn(`remote service ${this.registration?.name ?? this.opts.uri} lost (${why}); its cubes wait for it to come back`);
    this.scheduleRedial();
  }

  private scheduleRedial(): void {
    if (this.closed || this.redialTimer) return;
    this.redialTimer = setTimeout(() => {
      this.redialTimer = undefined;
      void this.redial();
    }, this.opts.redialMs ?? 500);
  }

  private async redial(): Promise<void> {
    if (this.closed || this.available) return;
    let session: ServiceSession | undefined;
    try {
      const opened = await this.open();
      session = opened.session;
      if (opened.reg.name !== this.registration.name) throw new Error(`a different service (${opened.reg.name}) answers at ${this.opts.uri}`);
      // Its cubes are created again before anything else reaches it.
      for (const [name, cube] of this.cubes) await this.callOn(session, name, "create_cube", cube.config, cube.ctx);
      this.use(session);
      this.opts.log.info(`remote service ${opened.reg.name} is back at ${this.opts.uri}; ${this.cubes.size} cubes restored`);
    } catch (e) {
      this.opts.log.debug(`redial ${this.opts.uri}: ${(e as Error).message}`);
      session?.close("redial failed");
      this.scheduleRedial();
    }
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private unreachable(): ServiceError {
    return new ServiceError(`remote service ${this.registration.name} at ${this.opts.uri} is unreachable`, 503);
  }

  /**
   * One call to the service, within the deadline. A service that does not answer in time is
   * taken as gone: the session closes (so that nothing it answers later is applied: its cubes
   * are created again from the daemon's configuration when it answers again), the call fails
   * with 504 and the following ones with 503, without waiting, until the redial succeeds.
   */
  private call(cube: string, op: string, args: unknown, ctx: CubeContext): Promise<ReplyMsg> {
    return this.callOn(this.session, cube, op, args, ctx);
  }

  private async callOn(session: ServiceSession | undefined, cube: string, op: string, args: unknown, ctx: CubeContext): Promise<ReplyMsg> {
    if (!session?.isOpen) throw this.unreachable();
    try {
      return await session.request(
        { call: { cube, op, json: JSON.stringify(args ?? {}), context: JSON.stringify(snapshotOf(ctx)) } },
        this.timeoutMs,
      );
    } catch (e) {
      if (e instanceof SessionTimeoutError) {
        const name = this.registration?.name ?? this.opts.uri;
        session.close(`no answer to ${op} of cube ${cube} within ${this.timeoutMs / 1000} s`);
        throw new ServiceError(`remote service ${name} at ${this.opts.uri} did not answer within ${this.timeoutMs / 1000} s (${op} of cube ${cube})`, 504);
      }
      if (e instanceof SessionClosedError) throw this.unreachable();
      throw e;
    }
  }

  private async createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
    const name = ctx.name;
    this.creating.set(name, ctx);
    try {
      await this.call(name, "create_cube", config, ctx);
    } finally {
      this.creating.delete(name);
    }
    this.cubes.set(name, { ctx, config });
    const call = (op: string, args?: unknown) => this.call(name, op, args, ctx);
    return {
      apply: async (changes, next) => {
        await call("apply", { changes, config: next });
        this.cubes.get(name)!.config = next;
      },
      state: async (at) => JSON.parse((await call("state", at ? { at } : undefined)).json || "{}") as JsonObject,
      action: async (path, input) => JSON.parse((await call("action", { path, input })).json || "null") ?? undefined,
      parentChanged: async (parent, config) => { await call("parent_changed", { parent, config: config ?? null }); },
      packetIn: (pkt: PacketIn) => {
        this.session?.notify({
          packetIn: {
            cube: name, portId: pkt.portId, portName: pkt.portName ?? "", direction: pkt.direction ?? "",
            reason: pkt.reason, trafficClass: pkt.trafficClass, metadata: [...pkt.metadata], data: pkt.data,
            context: JSON.stringify(snapshotOf(ctx)),
          },
        });
      },
      destroy: async () => {
        // The service may still read its maps while it lets go of the cube.
        try {
          if (this.available) await call("destroy");
        } finally {
          this.cubes.delete(name);
        }
      },
    };
  }

  /** A request from the service: an SDK call of one of its cubes, or a log line. */
  private async serve(msg: ServiceMessage): Promise<ReplyMsg | undefined> {
    if (msg.log) {
      const cube = this.cubes.get(msg.log.cube);
      const log = cube?.ctx.log ?? this.opts.log;
      const level = msg.log.level;
      const fn = level === "TRACE" ? log.trace : level === "DEBUG" ? log.debug : level === "WARN" ? log.warn
        : level === "ERR" ? log.error : level === "CRITICAL" ? log.critical : log.info;
      fn.call(log, msg.log.message);
      return undefined;
    }
    if (msg.sdk) return this.sdk(msg.sdk);
    throw new ServiceError("unexpected message from remote service", 500);
  }

  private async sdk(call: SdkCallMsg): Promise<ReplyMsg> {
    // During create_cube the cube is not registered yet, but its context is the pending one.
    const ctx = this.cubes.get(call.cube)?.ctx ?? this.pendingContext(call.cube);
    if (!ctx) throw new ServiceError(`Cube ${call.cube} does not exist`, 404);
    const args = call.json ? JSON.parse(call.json) : {};
    const key = call.key ? new Uint8Array(call.key) : new Uint8Array();
    switch (call.op) {
      case "load_datapath": {
        await ctx.loadDatapath(call.name!, decodeGlobals(args));
        return { ok: true, json: JSON.stringify(ctx.describeMaps?.() ?? {}) };
      }
      case "map_get":
        return { ok: true, data: (await ctx.map(call.name!).get(key)) ?? new Uint8Array() };
      case "map_get_percpu":
        return { ok: true, values: (await ctx.map(call.name!).getPerCpu(key)) ?? [] };
      case "map_set":
        await ctx.map(call.name!).set(key, new Uint8Array(call.value ?? []));
        return OK;
      case "map_delete":
        return { ok: true, json: JSON.stringify(await ctx.map(call.name!).delete(key)) };
      case "map_entries": {
        const entries = await ctx.map(call.name!).entries();
        return { ok: true, keys: entries.map((e) => e[0]), values: entries.map((e) => e[1]) };
      }
      case "map_clear":
        await ctx.map(call.name!).clear();
        return OK;
      case "packet_out":
        await ctx.packetOut(args.port, new Uint8Array(call.value ?? []), { recirculate: !!args.recirculate });
        return OK;
      case "packet_out_direction":
        await ctx.packetOutDirection(args.direction as Direction, new Uint8Array(call.value ?? []), { recirculate: !!args.recirculate });
        return OK;
    }
    throw new ServiceError(`unknown SDK call ${call.op}`, 500);
  }

  private readonly creating = new Map<string, CubeContext>();
  private pendingContext(name: string): CubeContext | undefined {
    return this.creating.get(name);
  }
}
