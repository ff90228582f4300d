// The service side of a remote service: runs one ServiceModule in its own process and serves
// it to polycubed over gRPC. The module is the same object a local service registers; its
// CubeContext here forwards every call to the daemon.
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { remoteService, type DaemonMessage, type ServiceMessage, type ReplyMsg } from "./protocol.ts";
import { Session, OK } from "./session.ts";
import { decodeGlobals, encodeGlobals, type CubeSnapshot } from "./wire.ts";
import type {
  Change, CubeContext, CubeControl, CubeType, Direction, JsonObject, Logger, MapAccess, MapDescription, PathStep, PortInfo, ServiceModule,
} from "../sdk/types.ts";
import { ServiceError } from "../sdk/types.ts";

type DaemonSession = Session<ServiceMessage, DaemonMessage>;

/** A CubeContext whose calls travel to polycubed. */
class RemoteCubeContext implements CubeContext {
  private snapshot: CubeSnapshot;
  private mapInfo = new Map<string, MapDescription>();
  readonly log: Logger;

  constructor(
    private readonly session: DaemonSession,
    snapshot: CubeSnapshot,
  ) {
    this.snapshot = snapshot;
    const line = (level: string) => (message: string) =>
      this.session.notify({ log: { cube: this.snapshot.name, level, message } });
    this.log = {
      trace: line("TRACE"), debug: line("DEBUG"), info: line("INFO"),
      warn: line("WARN"), error: line("ERR"), critical: line("CRITICAL"),
    };
  }

  refresh(snapshot: CubeSnapshot): void {
    this.snapshot = snapshot;
  }

  get name() { return this.snapshot.name; }
  get uuid() { return this.snapshot.uuid; }
  get service() { return this.snapshot.service; }
  get type(): CubeType { return this.snapshot.type; }
  ports(): PortInfo[] { return this.snapshot.ports; }

  private sdk(op: string, fields: { name?: string; key?: Uint8Array; value?: Uint8Array; json?: string } = {}) {
    return this.session.request({ sdk: { cube: this.snapshot.name, op, ...fields } });
  }

  async loadDatapath(object: string, globals?: Record<string, number | bigint | boolean>): Promise<void> {
    const r = await this.sdk("load_datapath", { name: object, json: JSON.stringify(encodeGlobals(globals ?? {})) });
    const maps = JSON.parse(r.json || "{}") as Record<string, MapDescription>;
    for (const [name, info] of Object.entries(maps)) this.mapInfo.set(name, info);
  }

  /** As the daemon described the maps at load: sizes, and C types when it sends them. */
  describeMaps(): Record<string, MapDescription> {
    return Object.fromEntries(this.mapInfo);
  }

  map(name: string): MapAccess {
    // Sizes are known once the datapath is loaded; a map asked for before that reports 0.
    const info = this.mapInfo.get(name) ?? { keySize: 0, valueSize: 0 };
    const call = (op: string, key?: Uint8Array, value?: Uint8Array) => this.sdk(op, { name, key, value });
    return {
      keySize: info.keySize,
      valueSize: info.valueSize,
      get: async (key) => {
        const r = await call("map_get", key);
        return r.data && r.data.length > 0 ? new Uint8Array(r.data) : undefined;
      },
      getPerCpu: async (key) => {
        const r = await call("map_get_percpu", key);
        return r.values && r.values.length > 0 ? r.values.map((v) => new Uint8Array(v)) : undefined;
      },
      set: async (key, value) => { await call("map_set", key, value); },
      delete: async (key) => JSON.parse((await call("map_delete", key)).json || "false") as boolean,
      entries: async () => {
        const r = await call("map_entries");
        return (r.keys ?? []).map((k, i) => [new Uint8Array(k), new Uint8Array(r.values![i]!)] as [Uint8Array, Uint8Array]);
      },
      clear: async () => { await call("map_clear"); },
    };
  }

  async packetOut(port: number | string, frame: Uint8Array, opts?: { recirculate?: boolean }): Promise<void> {
    await this.sdk("packet_out", { value: frame, json: JSON.stringify({ port, recirculate: !!opts?.recirculate }) });
  }

  async packetOutDirection(direction: Direction, frame: Uint8Array, opts?: { recirculate?: boolean }): Promise<void> {
    await this.sdk("packet_out_direction", { value: frame, json: JSON.stringify({ direction, recirculate: !!opts?.recirculate }) });
  }
}

interface HostedCube {
  ctx: RemoteCubeContext;
  control: CubeControl;
}

/** Serves one polycubed session: the cubes it creates live as long as the session. */
function serveSession(module: ServiceModule, stream: grpc.ServerDuplexStream<DaemonMessage, ServiceMessage>, log: (m: string) => void, objects: Array<{ name: string; data: Uint8Array }>): void {
  const cubes = new Map<string, HostedCube>();
  const session: DaemonSession = new Session<ServiceMessage, DaemonMessage>(stream, async (msg) => {
    if (msg.hello) {
      log(`polycubed ${msg.hello.daemonVersion} connected`);
      return { ok: true, registration: { name: module.name, kind: module.kind, yang: module.yang, version: "", ownsConfig: !!module.ownsConfig, createReplaces: module.createReplaces ?? [], stackPlace: module.stackPlace ?? "", objects } };
    }
    if (msg.packetIn) {
      const p = msg.packetIn;
      const cube = cubes.get(p.cube);
      if (!cube?.control.packetIn) return undefined;
      cube.ctx.refresh(JSON.parse(p.context));
      await cube.control.packetIn({
        portId: p.portId,
        portName: p.portName || undefined,
        direction: (p.direction || undefined) as Direction | undefined,
        reason: p.reason,
        trafficClass: p.trafficClass,
        metadata: [p.metadata[0] ?? 0, p.metadata[1] ?? 0, p.metadata[2] ?? 0],
        data: new Uint8Array(p.data),
      });
      return undefined;
    }
    if (msg.call) return handleCall(msg.call.op, msg.call.cube, msg.call.json, msg.call.context);
    throw new ServiceError("unexpected message from polycubed", 500);
  });

  async function handleCall(op: string, name: string, json: string, context: string): Promise<ReplyMsg> {
    const args = json ? JSON.parse(json) : {};
    if (op === "create_cube") {
      const old = cubes.get(name);
      if (old) await old.control.destroy?.();
      const ctx = new RemoteCubeContext(session, JSON.parse(context));
      const control = await module.createCube(ctx, args as JsonObject);
      cubes.set(name, { ctx, control });
      return OK;
    }
    const cube = cubes.get(name);
    if (!cube) throw new ServiceError(`Cube ${name} does not exist in remote service ${module.name}`, 500);
    if (context) cube.ctx.refresh(JSON.parse(context));
    const c = cube.control;
    switch (op) {
      case "apply":
        await c.apply?.(args.changes as Change[], args.config as JsonObject);
        return OK;
      case "state":
        return { ok: true, json: JSON.stringify((await c.state?.(args.at as PathStep[] | undefined)) ?? {}) };
      case "action": {
        const out = await c.action?.(args.path as PathStep[], args.input as JsonObject);
        return { ok: true, json: JSON.stringify(out ?? null) };
      }
      case "parent_changed":
        await c.parentChanged?.(String(args.parent ?? ""), (args.config ?? undefined) as JsonObject | undefined);
        return OK;
      case "destroy":
        cubes.delete(name);
        await c.destroy?.();
        return OK;
    }
    throw new ServiceError(`unknown call ${op}`, 500);
  }

  session.onClose(async (why) => {
    log(`polycubed session closed: ${why}`);
    for (const { control } of cubes.values()) {
      try {
        await control.destroy?.();
      } catch {
        /* the daemon is gone; nothing to report to */
      }
    }
    cubes.clear();
  });
}

export interface RemoteTls {
  cert: string;
  key: string;
  /** CA that signs polycubed's client certificate; when set, clients must present one. */
  cacert?: string;
}

/** Starts the gRPC server of a remote service; resolves with the bound port. */
export async function serveRemoteService(
  module: ServiceModule,
  address: string,
  opts: { tls?: RemoteTls; log?: (m: string) => void; objects?: Array<{ name: string; data: Uint8Array }> } = {},
): Promise<{ port: number; stop(): Promise<void> }> {
  const log = opts.log ?? ((m: string) => console.log(`[${module.name}] ${m}`));
  const server = new grpc.Server();
  server.addService(remoteService().service, {
    Session: (stream: grpc.ServerDuplexStream<DaemonMessage, ServiceMessage>) => serveSession(module, stream, log, opts.objects ?? []),
  });
  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(
        opts.tls.cacert ? readFileSync(opts.tls.cacert) : null,
        [{ cert_chain: readFileSync(opts.tls.cert), private_key: readFileSync(opts.tls.key) }],
        !!opts.tls.cacert,
      )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  log(`serving service ${module.name} on ${address.replace(/:\d+$/, "")}:${port}`);
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export { decodeGlobals };
