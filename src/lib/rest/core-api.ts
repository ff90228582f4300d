// What the REST layer needs of a daemon core (src/daemon/core.ts implements it); it lives here,
// beside its only user, so that the REST layer depends on nothing above it.
// The REST layer turns requests into whole validated configurations; the core owns cubes,
// ports, peers, attachments and the services, and reports refusals as ServiceError.
import type { Change, Json, JsonObject, PathStep, ServiceKind } from "../sdk/types.ts";
import type { Schema } from "../yang/index.ts";

export interface ServiceInfo {
  name: string;
  kind: ServiceKind;
  /** The YANG model text. */
  yang: string;
  /** "lib" for services in this process, "grpc" for remote ones. */
  type: "lib" | "grpc";
  /** Where it came from: "builtin", a plug-in package's path, or the remote's host:port. */
  uri: string;
  /** Loaded from a plug-in package (services add type=lib): the cubes dump records it. */
  plugin?: boolean;
  description: string;
  version: string;
  /** ServiceModule.createReplaces */
  createReplaces?: string[];
  /** The model compiled, when the core has it already (else the REST layer compiles `yang`). */
  schema?: Schema;
}

export interface CubeSummary {
  name: string;
  uuid: string;
  "service-name": string;
  type: string;
  loglevel: string;
  ports?: Array<{ name: string; peer?: string }>;
  shadow?: boolean;
  span?: boolean;
  parent?: string;
}

export interface AttachRequest {
  cube: string;
  port: string;
  position?: "auto" | "first" | "last";
  before?: string;
  after?: string;
}

export interface NetdevInfo {
  name: string;
  addresses?: string[];
  description?: string;
}

export interface DaemonCore {
  services(): ServiceInfo[];
  service(name: string): ServiceInfo | undefined;
  addService(req: { name: string; type: string; uri: string }): Promise<void>;
  deleteService(name: string): Promise<void>;

  cubeNames(): string[];
  /** The service a cube belongs to, or undefined if there is no such cube. */
  cubeService(name: string): string | undefined;
  cubeSummary(name: string): CubeSummary | undefined;

  /** Stored configuration of a cube (defaults applied), without state: a copy the caller may change. */
  cubeConfig(name: string): JsonObject | undefined;
  /**
   * The stored configuration itself, without the cost of a copy: the caller never changes it
   * (a write copies the objects on its path; see copyPath in tree.ts).
   */
  cubeConfigShared?(name: string): JsonObject | undefined;
  /** Configuration plus state, as a GET of the cube shows it. */
  /** `at`: the path the caller reads, when it reads only that (services may skip the rest of their state). */
  readCube(name: string, at?: PathStep[]): Promise<JsonObject>;
  /**
   * One list entry (`steps` ends with a keyed step) as readCube() would show it, read alone
   * when the cube's service can (CubeControl.stateAt): `{ value }` (no value: no such entry),
   * or undefined when it cannot (then readCube()). `configAt` picks the entry from a stored
   * configuration.
   */
  readEntry?(name: string, steps: PathStep[], configAt: (config: JsonObject) => Json | undefined): Promise<{ value?: Json } | undefined>;
  /** `config` has been validated against the service's model and has its defaults. */
  createCube(service: string, config: JsonObject): Promise<void>;
  /** Replaces the whole configuration; the core diffs it against the stored one unless the caller hands it that diff. */
  /**
   * `handOver`: `next` becomes the stored configuration as it is, without a copy (it shares the
   * parts the write did not change with the previous one; neither is changed afterwards).
   */
  updateCube(name: string, next: JsonObject, changes?: Change[], opts?: { handOver?: boolean }): Promise<void>;
  deleteCube(name: string): Promise<void>;
  action(name: string, path: PathStep[], input: JsonObject): Promise<Json | undefined>;

  connect(peer1: string, peer2: string): Promise<void>;
  disconnect(peer1: string, peer2: string): Promise<void>;
  attach(req: AttachRequest): Promise<void>;
  detach(req: { cube: string; port: string }): Promise<void>;
  /** GET /topology/:ifname */
  netdevTopology(ifname: string): JsonObject;
  netdevs(): NetdevInfo[];
}
