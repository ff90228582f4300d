// libpolycube's public contract: what a service is, and what it may ask of the daemon.
//
// A service never touches daemon globals. It gets a CubeContext per cube and returns a
// CubeControl; every call that may cross a process boundary is async, so the same service
// code runs in the daemon's process (local) or in its own process over gRPC (remote).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type CubeType = "TC" | "XDP_SKB" | "XDP_DRV";
export type LogLevel = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERR" | "CRITICAL" | "OFF";
export type Direction = "INGRESS" | "EGRESS";
export type ServiceKind = "standard" | "transparent";

/** One step of a path into a cube's data tree: a node name, with list keys when it is a list entry. */
export interface PathStep {
  node: string;
  keys?: Record<string, string>;
}

/** One difference between two configurations of a cube, at leaf or list-entry granularity. */
export interface Change {
  op: "create" | "delete" | "modify";
  /** e.g. [{node:"ports",keys:{name:"p1"}},{node:"ip"}] */
  path: PathStep[];
  /** The same path as text: /ports[name=p1]/ip */
  where: string;
  before?: Json;
  after?: Json;
}

/** A packet the datapath sent to the slow path with pcn_pkt_controller(). */
export interface PacketIn {
  /** Port id the packet came in on (standard cubes), or the direction (transparent cubes). */
  portId: number;
  portName?: string;
  direction?: Direction;
  reason: number;
  trafficClass: number;
  metadata: [number, number, number];
  data: Uint8Array;
}

export interface Logger {
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  critical(msg: string): void;
}

/** A C type as the datapath object's BTF describes it (plain data: it crosses to remote services). */
export interface CType {
  /** As C writes it: "__u32", "struct rt_key", "__u8[6]". */
  name: string;
  size: number;
  /** Structs and unions: their members, in order. */
  members?: CMember[];
  /** What the type is, typedefs resolved (enough to decode a value of it: dynmon's metrics). */
  kind?: "int" | "bool" | "char" | "float" | "enum" | "ptr" | "array" | "struct" | "union" | "void";
  /** Integers, chars and enums: signed or not. */
  signed?: boolean;
  /** Arrays: the element type and how many there are. */
  elem?: CType;
  count?: number;
  /** Enums: the named values. */
  enumerators?: Array<{ name: string; value: number }>;
}

export interface CMember {
  name: string;
  /** Bytes from the start of the struct. */
  offset: number;
  size: number;
  /** Bit fields: their width (offset is then the byte the field starts in)... */
  bits?: number;
  /** ...and their exact position, in bits from the start of the struct. */
  bitOffset?: number;
  type: CType;
}

/** A map of the loaded datapath: sizes, and the C types of key and value where BTF has them. */
export interface MapDescription {
  keySize: number;
  valueSize: number;
  key?: CType;
  value?: CType;
}

/** Raw map access by name; keys and values are the kernel's bytes. Typed views: typedMap() in src/lib/sdk/maps.ts. */
export interface MapAccess {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Per-CPU maps: one value per possible CPU. */
  getPerCpu(key: Uint8Array): Promise<Uint8Array[] | undefined>;
  set(key: Uint8Array, value: Uint8Array): Promise<void>;
  delete(key: Uint8Array): Promise<boolean>;
  entries(): Promise<Array<[Uint8Array, Uint8Array]>>;
  clear(): Promise<void>;
  /** Many writes in as few kernel calls as the map type allows; contexts without it are served by setAll(). */
  setMany?(entries: Array<[Uint8Array, Uint8Array]>): Promise<void>;
  /** Many deletes at once; returns how many keys were there. */
  deleteMany?(keys: Uint8Array[]): Promise<number>;
  /** Queues and stacks: takes the next value out (undefined when empty). */
  pop?(): Promise<Uint8Array | undefined>;
  readonly keySize: number;
  readonly valueSize: number;
}

/** Writes many entries, in batches where the context can. */
export async function setAll(map: MapAccess, entries: Array<[Uint8Array, Uint8Array]>): Promise<void> {
  if (map.setMany) return map.setMany(entries);
  for (const [k, v] of entries) await map.set(k, v);
}

/** Deletes many keys, in batches where the context can; returns how many were there. */
export async function deleteAll(map: MapAccess, keys: Uint8Array[]): Promise<number> {
  if (map.deleteMany) return map.deleteMany(keys);
  let n = 0;
  for (const k of keys) if (await map.delete(k)) n++;
  return n;
}

export interface PortInfo {
  id: number;
  name: string;
  peer: string;
  status: "UP" | "DOWN";
}

/** What the daemon offers one cube of a service. */
export interface CubeContext {
  readonly name: string;
  readonly uuid: string;
  readonly service: string;
  readonly type: CubeType;
  readonly log: Logger;
  /**
   * Loads (or reloads) the cube's datapath from an embedded object, e.g. "simplebridge".
   * The daemon picks the TC or XDP build from the cube type. `globals` are the object's
   * read-only variables (const volatile), set before load. Maps survive a reload.
   */
  loadDatapath(object: string, globals?: Record<string, number | bigint | boolean>): Promise<void>;
  map(name: string): MapAccess;
  /**
   * Key and value sizes of every map of the loaded datapath (remote contexts need them up front),
   * with their C types where the object's BTF has them (typedMap() checks codecs against them).
   */
  describeMaps?(): Record<string, MapDescription>;
  ports(): PortInfo[];
  /** Sends a frame out of a port (to its peer), or into the cube as if received on it. */
  packetOut(port: number | string, frame: Uint8Array, opts?: { recirculate?: boolean }): Promise<void>;
  /** Transparent cubes: continue a frame along the chain in a direction, or re-enter this cube. */
  packetOutDirection(direction: Direction, frame: Uint8Array, opts?: { recirculate?: boolean }): Promise<void>;
  /** Shadow cubes (created with shadow=true, local services only): the cube's Linux namespace. */
  shadow?: ShadowContext;
  /**
   * Changes the cube's own configuration as if the user had (local services only): `mutate`
   * edits a copy of it, which is then applied and stored like an update (apply() is called).
   */
  reconfigure?(mutate: (config: JsonObject) => void): Promise<void>;
}

/** What Linux in a shadow cube's namespace shows of the port interfaces. */
export interface ShadowLinuxView {
  /** IPv4 addresses (CIDR) by interface (= port) name. */
  addresses: Map<string, string[]>;
  /** Routes of the main table through a port interface; `nexthop` absent for direct routes. */
  routes: Array<{ network: string; nexthop?: string; dev: string; proto: string }>;
}

/** A shadow cube's namespace `pcn-<cube>`: one interface per port, named as the port. */
export interface ShadowContext {
  readonly namespace: string;
  /** Gives a port's interface a MAC address and exactly these IPv4 addresses (CIDR), when given. */
  setInterface(port: string, opts: { mac?: string; addresses?: string[] }): Promise<void>;
  /** Reads the namespace's addresses and routes. */
  linux(): Promise<ShadowLinuxView>;
  /** Hands a frame to Linux on a port's interface, as if it arrived there. */
  packetOut(port: number | string, frame: Uint8Array): Promise<void>;
}

/** What a service returns for each cube: the control plane of that cube. */
export interface CubeControl {
  /** A validated configuration change. Throw ServiceError to refuse it; nothing is then applied. */
  apply?(changes: Change[], config: JsonObject): Promise<void> | void;
  /**
   * Live state (config false nodes, learned entries) overlaid on the stored configuration on GET.
   * `at`: the part of the cube the caller reads (steps from the cube's root; absent: all of it);
   * the service may leave out what lies off that path (dynmon reads its maps only for metrics).
   */
  state?(at?: PathStep[]): Promise<JsonObject> | JsonObject;
  /**
   * Live state of one list entry alone (`path` ends with a keyed step), for a GET of that entry
   * or below without reading all of state(): `{ value }`, the entry as state() would show it
   * (no value: the entry is not there), or undefined when the service cannot answer for that
   * path alone (the daemon then reads state()).
   */
  stateAt?(path: PathStep[]): Promise<{ value?: Json } | undefined> | { value?: Json } | undefined;
  /**
   * Services that own their configuration (ServiceModule.ownsConfig): the configuration the
   * daemon should store, without the cost of reading live state. Without it the daemon reads
   * state() and keeps its configuration part.
   */
  ownedConfig?(): Promise<JsonObject> | JsonObject;
  /** A YANG action, e.g. fdb/flush. `path` ends with the action's name. */
  action?(path: PathStep[], input: JsonObject): Promise<JsonObject | void> | JsonObject | void;
  packetIn?(pkt: PacketIn): Promise<void> | void;
  /**
   * Transparent cubes: the cube was attached to a parent ("cube:port" or a netdev), or detached
   * (""). For a cube port, `config` is that port's configuration as its cube stores it (e.g. a
   * router port's `ip` and `mac`); it is called again, with the same parent, whenever that
   * configuration changes. Netdevs give `{ name }`.
   */
  parentChanged?(parent: string, config?: JsonObject): Promise<void> | void;
  /** Release everything; the daemon unloads the datapath after this. */
  destroy?(): Promise<void> | void;
}

/** Where a transparent service's cubes go in a stack when attached with position `auto`. */
export type StackPlace = "cube" | "wire";

/** A network function, registered by name in src/services/index.ts. */
export interface ServiceModule {
  /** REST name, e.g. "simplebridge". */
  name: string;
  kind: ServiceKind;
  /** The service's YANG model text. */
  yang: string;
  /**
   * The service keeps configuration of its own that actions change (the firewall's rules): after
   * every change and every action the daemon stores the configuration nodes of what state()
   * reports, so that later reads, writes and deletes of those entries see them.
   */
  ownsConfig?: boolean;
  /**
   * Lists, as schema paths from the module root (e.g. "chain/rule"), where creating an entry
   * that already exists replaces it instead of answering 409: the original's service did so
   * (the firewall's `rule add N` on an existing rule).
   */
  createReplaces?: string[];
  /**
   * Transparent services: `auto` attaches their cubes nearest the cube ("cube", as the
   * original's nat) or nearest the wire ("wire", as its ddosmitigator); others in attach order.
   */
  stackPlace?: StackPlace;
  /** Called after the cube's base state (name, type, ports) exists, with its whole validated config. */
  createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> | CubeControl;
}

/** An error a service or the daemon reports to the API user. */
export class ServiceError extends Error {
  constructor(
    message: string,
    /** HTTP status: 4xx for the user's mistakes, 5xx for the service's failures. */
    readonly status: number = 400,
    /** RESTCONF error tag, when the error is about a field. */
    readonly tag?: string,
    /** The field the error names. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "ServiceError";
  }
}
