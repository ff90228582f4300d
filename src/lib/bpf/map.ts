// Kernel maps by fd: raw byte access, per-CPU values, iteration, creation.
import { ptr } from "bun:ffi";
import { lib, libc } from "./libbpf.ts";
import { BpfError, check, lastErrno } from "./errors.ts";
import type { CType } from "./btf.ts";

export const MapType = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12, DEVMAP: 14, QUEUE: 22, RINGBUF: 27,
} as const;

const PERCPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, 21 /* PERCPU_CGROUP_STORAGE */]);
const ENOENT = 2;
/** Errnos that mean "this map type has no batch operations": fall back to one call per element. */
const NO_BATCH = new Set([22 /* EINVAL */, 95 /* EOPNOTSUPP */, 524 /* ENOTSUPP */]);
const BATCH_SIZE = 256;

/** struct bpf_map_batch_opts { size_t sz; u64 elem_flags; u64 flags; } */
function batchOpts(elemFlags = 0): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 24n, true);
  v.setBigUint64(8, BigInt(elemFlags), true);
  return b;
}

function errnoOf(rc: number): number {
  return rc === -1 ? lastErrno() : -rc;
}

export const possibleCpus: number = Math.max(1, lib.libbpf_num_possible_cpus());

export interface MapInfo {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  id: number;
}

function mapInfo(fd: number, name: string): MapInfo {
  // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, name[16] ...
  const buf = new Uint32Array(32);
  const len = new Uint32Array([buf.byteLength]);
  check(lib.bpf_obj_get_info_by_fd(fd, ptr(buf), ptr(len)), `read info of map ${name} (fd ${fd})`);
  return { type: buf[0]!, id: buf[1]!, keySize: buf[2]!, valueSize: buf[3]!, maxEntries: buf[4]!, flags: buf[5]! };
}

export class BpfMap {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly id: number;
  /** Key and value C types, from the BTF of the object the map came from (unknown for a bare fd). */
  types: { key?: CType; value?: CType } = {};
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly name: string,
    info: MapInfo,
    private readonly owned: boolean,
  ) {
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.id = info.id;
  }

  static fromFd(fd: number, name: string, opts: { owned: boolean }): BpfMap {
    return new BpfMap(fd, name, mapInfo(fd, name), opts.owned);
  }

  /** Creates a standalone map (e.g. one shared by many objects); this object owns the fd. */
  static create(spec: { type: number; name: string; keySize: number; valueSize: number; maxEntries: number; flags?: number; innerMapFd?: number }): BpfMap {
    // struct bpf_map_create_opts: sz(8) btf_fd btf_key_type_id btf_value_type_id btf_vmlinux_value_type_id
    // inner_map_fd map_flags map_extra(8) numa_node map_ifindex
    const opts = new Uint32Array(14);
    new BigUint64Array(opts.buffer, 0, 1)[0] = BigInt(opts.byteLength);
    opts[6] = spec.innerMapFd ?? 0;
    opts[7] = spec.flags ?? 0;
    const fd = check(
      lib.bpf_map_create(spec.type, spec.name.slice(0, 15), spec.keySize, spec.valueSize, spec.maxEntries, ptr(opts)),
      `create map ${spec.name}`,
    );
    return BpfMap.fromFd(fd, spec.name, { owned: true });
  }

  get perCpu(): boolean {
    return PERCPU_TYPES.has(this.type);
  }

  /** Bytes of one lookup result: per-CPU maps hold one 8-byte-aligned slot per possible CPU. */
  private get valueBytes(): number {
    return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus : this.valueSize;
  }

  private key(key: Uint8Array, op: string): Uint8Array {
    if (key.length !== this.keySize) throw new BpfError(`${op} map ${this.name}: key is ${key.length} bytes, the map's are ${this.keySize}`, 22);
    return key.length === 0 ? new Uint8Array(1) : key;
  }

  private live(op: string): void {
    if (this.closed) throw new BpfError(`${op} map ${this.name} after close`, 9);
  }

  /** The value, or undefined when the key is absent (per-CPU maps: all CPUs' slots concatenated). */
  lookupRaw(key: Uint8Array): Uint8Array | undefined {
    this.live("lookup in");
    const value = new Uint8Array(this.valueBytes);
    const rc = lib.bpf_map_lookup_elem(this.fd, ptr(this.key(key, "lookup in")), ptr(value));
    if (rc < 0) {
      const errno = rc === -1 ? lastErrno() : -rc;
      if (errno === ENOENT) return undefined;
      throw new BpfError(`lookup in map ${this.name}`, errno);
    }
    return value;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const v = this.lookupRaw(key);
    return v && this.perCpu ? v.subarray(0, this.valueSize) : v;
  }

  /** Per-CPU maps: one value per possible CPU. */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    const v = this.lookupRaw(key);
    if (!v) return undefined;
    if (!this.perCpu) return [v];
    const stride = Math.ceil(this.valueSize / 8) * 8;
    return Array.from({ length: possibleCpus }, (_, i) => v.slice(i * stride, i * stride + this.valueSize));
  }

  /** flags: 0 any, 1 BPF_NOEXIST, 2 BPF_EXIST. Per-CPU maps take one value copied to every CPU, or all slots. */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.live("update");
    let v = value;
    if (this.perCpu && value.length === this.valueSize) {
      const stride = Math.ceil(this.valueSize / 8) * 8;
      v = new Uint8Array(stride * possibleCpus);
      for (let i = 0; i < possibleCpus; i++) v.set(value, i * stride);
    } else if (value.length !== this.valueBytes) {
      throw new BpfError(`update map ${this.name}: value is ${value.length} bytes, the map's are ${this.valueSize}`, 22);
    }
    check(lib.bpf_map_update_elem(this.fd, ptr(this.key(key, "update")), ptr(v), BigInt(flags)), `update map ${this.name}`);
  }

  /** Queues and stacks: takes the next value out (BPF_MAP_LOOKUP_AND_DELETE_ELEM); undefined when empty. */
  pop(): Uint8Array | undefined {
    this.live("pop from");
    const value = new Uint8Array(Math.max(1, this.valueSize));
    const rc = lib.bpf_map_lookup_and_delete_elem(this.fd, null, ptr(value));
    if (rc < 0) {
      const errno = errnoOf(rc);
      if (errno === ENOENT) return undefined;
      throw new BpfError(`pop from map ${this.name}`, errno);
    }
    return value.subarray(0, this.valueSize);
  }

  /** True if the key was there. */
  delete(key: Uint8Array): boolean {
    this.live("delete from");
    const rc = lib.bpf_map_delete_elem(this.fd, ptr(this.key(key, "delete from")));
    if (rc >= 0) return true;
    const errno = rc === -1 ? lastErrno() : -rc;
    if (errno === ENOENT) return false;
    throw new BpfError(`delete from map ${this.name}`, errno);
  }

  keys(): Uint8Array[] {
    this.live("iterate");
    const out: Uint8Array[] = [];
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(Math.max(1, this.keySize));
      const rc = lib.bpf_map_get_next_key(this.fd, prev ? ptr(prev) : null, ptr(next));
      if (rc < 0) {
        const errno = rc === -1 ? lastErrno() : -rc;
        if (errno === ENOENT) break;
        throw new BpfError(`iterate map ${this.name}`, errno);
      }
      out.push(next);
      prev = next;
      if (out.length > this.maxEntries) break; // the map changed under us; don't loop forever
    }
    return out;
  }

  /** Every entry (per-CPU maps: CPU 0's value; see entriesRaw). One syscall per 256 where the map type allows. */
  entries(): Array<[Uint8Array, Uint8Array]> {
    const raw = this.entriesRaw();
    return this.perCpu ? raw.map(([k, v]) => [k, v.subarray(0, this.valueSize)]) : raw;
  }

  /** Every entry with its whole value (per-CPU maps: every CPU's slot). */
  entriesRaw(): Array<[Uint8Array, Uint8Array]> {
    this.live("iterate");
    const batched = this.lookupBatch();
    if (batched) return batched;
    const out: Array<[Uint8Array, Uint8Array]> = [];
    for (const k of this.keys()) {
      const v = this.lookupRaw(k);
      if (v) out.push([k, v]);
    }
    return out;
  }

  /** BPF_MAP_LOOKUP_BATCH over the whole map; undefined when the map type has none. */
  private lookupBatch(): Array<[Uint8Array, Uint8Array]> | undefined {
    if (this.type === MapType.PROG_ARRAY || this.keySize === 0) return undefined;
    const out: Array<[Uint8Array, Uint8Array]> = [];
    const tokenSize = Math.max(8, this.keySize);
    let inBatch: Uint8Array | null = null;
    const outBatch = new Uint8Array(tokenSize);
    const keys = new Uint8Array(this.keySize * BATCH_SIZE);
    const values = new Uint8Array(this.valueBytes * BATCH_SIZE);
    const count = new Uint32Array(1);
    const opts = batchOpts();
    for (;;) {
      count[0] = BATCH_SIZE;
      const rc = lib.bpf_map_lookup_batch(this.fd, inBatch ? ptr(inBatch) : null, ptr(outBatch), ptr(keys), ptr(values), ptr(count), ptr(opts));
      const errno = rc < 0 ? errnoOf(rc) : 0;
      if (errno && errno !== ENOENT) {
        if (NO_BATCH.has(errno) && out.length === 0) return undefined;
        throw new BpfError(`read map ${this.name} in batches`, errno);
      }
      for (let i = 0; i < count[0]!; i++)
        out.push([keys.slice(i * this.keySize, (i + 1) * this.keySize), values.slice(i * this.valueBytes, (i + 1) * this.valueBytes)]);
      if (errno === ENOENT) return out;
      inBatch = outBatch.slice();
    }
  }

  /** Writes many entries in one call where the map type allows (one value per entry; per-CPU maps get it on every CPU). */
  updateMany(entries: Array<[Uint8Array, Uint8Array]>, flags = 0): void {
    this.live("update");
    if (entries.length === 0) return;
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const keys = new Uint8Array(this.keySize * entries.length);
    const values = new Uint8Array(this.valueBytes * entries.length);
    entries.forEach(([k, v], i) => {
      keys.set(this.key(k, "update"), i * this.keySize);
      if (this.perCpu && v.length === this.valueSize) for (let c = 0; c < possibleCpus; c++) values.set(v, i * this.valueBytes + c * stride);
      else if (v.length === this.valueBytes) values.set(v, i * this.valueBytes);
      else throw new BpfError(`update map ${this.name}: value is ${v.length} bytes, the map's are ${this.valueSize}`, 22);
    });
    const count = new Uint32Array([entries.length]);
    const rc = this.type === MapType.PROG_ARRAY ? -22 : lib.bpf_map_update_batch(this.fd, ptr(keys), ptr(values), ptr(count), ptr(batchOpts(flags)));
    if (rc >= 0) return;
    const errno = errnoOf(rc);
    if (!NO_BATCH.has(errno) || count[0] !== 0) throw new BpfError(`update map ${this.name} in a batch (${count[0]} of ${entries.length} written)`, errno);
    for (const [k, v] of entries) this.update(k, v, flags);
  }

  /** Deletes many keys in one call where the map type allows; returns how many were there. */
  deleteMany(keys: Uint8Array[]): number {
    this.live("delete from");
    if (keys.length === 0) return 0;
    const buf = new Uint8Array(this.keySize * keys.length);
    keys.forEach((k, i) => buf.set(this.key(k, "delete from"), i * this.keySize));
    const count = new Uint32Array([keys.length]);
    const rc = lib.bpf_map_delete_batch(this.fd, ptr(buf), ptr(count), ptr(batchOpts()));
    if (rc >= 0) return count[0]!;
    const errno = errnoOf(rc);
    // ENOENT stops the batch at the first missing key: finish one by one.
    if (errno === ENOENT || (NO_BATCH.has(errno) && count[0] === 0)) {
      let n = count[0]!;
      for (const k of keys.slice(count[0]!)) if (this.delete(k)) n++;
      return n;
    }
    throw new BpfError(`delete from map ${this.name} in a batch`, errno);
  }

  clear(): void {
    this.deleteMany(this.keys());
  }

  /** Program arrays: slot -> program fd. */
  setProgram(index: number, progFd: number): void {
    this.update(u32Bytes(index), u32Bytes(progFd));
  }

  clearProgram(index: number): void {
    this.delete(u32Bytes(index));
  }

  pin(path: string): void {
    check(lib.bpf_obj_pin(this.fd, path), `pin map ${this.name} at ${path}`);
  }

  /** Removes a pin (the map lives on while an fd or program holds it). */
  static unpin(path: string): void {
    check(libc.unlink(path), `unpin ${path}`);
  }

  /** Opens a pinned map; this object owns the new fd. */
  static fromPin(path: string): BpfMap {
    const fd = check(lib.bpf_obj_get(path), `open pinned map ${path}`);
    return BpfMap.fromFd(fd, path.split("/").pop() ?? path, { owned: true });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) libc.close(this.fd);
  }
}

export function u32Bytes(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

let quiesce: { outer: BpfMap; inner: BpfMap } | undefined;

/**
 * Returns once every eBPF program that was running when it was called has finished: what a
 * program read from a map before (an index that the caller has just changed) is no longer in
 * use. The kernel waits for an RCU grace period on every update of a map-of-maps
 * (maybe_wait_bpf_programs in kernel/bpf/syscall.c); this updates a private one.
 */
export function waitForPrograms(): void {
  if (!quiesce) {
    const inner = BpfMap.create({ type: MapType.ARRAY, name: "pcn_quiesce_in", keySize: 4, valueSize: 4, maxEntries: 1 });
    const outer = BpfMap.create({ type: MapType.ARRAY_OF_MAPS, name: "pcn_quiesce", keySize: 4, valueSize: 4, maxEntries: 1, innerMapFd: inner.fd });
    quiesce = { outer, inner };
  }
  quiesce.outer.update(u32Bytes(0), u32Bytes(quiesce.inner.fd));
}
