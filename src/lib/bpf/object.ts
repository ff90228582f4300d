// An eBPF object file opened from bytes: set its read-only globals, share maps, load it.
import { ptr, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { lib } from "./libbpf.ts";
import { BpfError, check, checkPtr } from "./errors.ts";
import { BpfMap } from "./map.ts";
import { mapTypes, type CType } from "./btf.ts";

const BTF_KIND_VAR = 14;
const BTF_KIND_DATASEC = 15;

export interface BpfProgram {
  readonly name: string;
  readonly fd: number;
}

type GlobalValue = number | bigint | boolean;

export class BpfObject {
  private handle: Pointer | null;
  private loaded = false;
  private readonly maps = new Map<string, BpfMap>();
  /** Keeps the ELF bytes alive: libbpf reads from them until load. */
  private readonly bytes: Uint8Array;

  private constructor(handle: Pointer, bytes: Uint8Array, readonly name: string) {
    this.handle = handle;
    this.bytes = bytes;
  }

  /** Opens an object from ELF bytes (e.g. one embedded in the executable). */
  static open(bytes: Uint8Array, name: string): BpfObject {
    if (bytes.length === 0) throw new BpfError(`open eBPF object ${name}`, 22);
    const copy = new Uint8Array(bytes); // libbpf keeps pointers into it until load
    // bpf_object_open_opts: sz then object_name; libbpf names the object from it.
    const opts = new BigUint64Array(2);
    const nameBuf = Buffer.from(`${name.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 15)}\0`);
    opts[0] = 16n;
    opts[1] = BigInt(ptr(nameBuf));
    const h = checkPtr(lib.bpf_object__open_mem(ptr(copy), copy.length, ptr(opts)) as Pointer | null, `open eBPF object ${name}`);
    const obj = new BpfObject(h, copy, name);
    (obj as unknown as { nameBuf: Buffer }).nameBuf = nameBuf;
    return obj;
  }

  private get h(): Pointer {
    if (!this.handle) throw new BpfError(`use eBPF object ${this.name} after close`, 9);
    return this.handle;
  }

  /** Sets `const volatile` globals (the .rodata section) before load; sizes come from BTF. */
  setGlobals(values: Record<string, GlobalValue>, section = ".rodata"): void {
    if (this.loaded) throw new BpfError(`set globals of ${this.name} after load`, 16);
    const entries = Object.entries(values);
    if (entries.length === 0) return;
    const mapPtr = lib.bpf_object__find_map_by_name(this.h, section.startsWith(".") ? `${this.name.slice(0, 8)}${section}`.slice(0, 15) : section);
    const rodata = (mapPtr as Pointer | null) ?? this.findMapBySuffix(section);
    if (!rodata) throw new BpfError(`set globals of ${this.name}: it has no ${section} section (declare them const volatile)`, 2);
    const sizeBuf = new BigUint64Array(1);
    const data = checkPtr(lib.bpf_map__initial_value(rodata, ptr(sizeBuf)), `read ${section} of ${this.name}`);
    const size = Number(sizeBuf[0]);
    const view = new DataView(toArrayBuffer(data, 0, size));
    const layout = this.sectionLayout(section);
    for (const [name, value] of entries) {
      const v = layout.get(name);
      if (!v) throw new BpfError(`set global ${name} of ${this.name}: no such variable in ${section}`, 2);
      writeScalar(view, v.offset, v.size, value, `${this.name}.${name}`);
    }
  }

  /** The object's maps, in libbpf's order. */
  private *eachMap(): Generator<Pointer> {
    for (let m = lib.bpf_object__next_map(this.h, null); m; m = lib.bpf_object__next_map(this.h, m)) yield m as Pointer;
  }

  private findMapBySuffix(suffix: string): Pointer | null {
    for (const m of this.eachMap()) if (String(lib.bpf_map__name(m)).endsWith(suffix)) return m;
    return null;
  }

  /** Variable name -> offset and size inside a data section, read from the object's BTF. */
  private sectionLayout(section: string): Map<string, { offset: number; size: number }> {
    const btf = checkPtr(lib.bpf_object__btf(this.h), `read BTF of ${this.name} (build it with -g)`);
    const id = lib.btf__find_by_name_kind(btf, section, BTF_KIND_DATASEC);
    check(id, `find ${section} in the BTF of ${this.name}`);
    const t = checkPtr(lib.btf__type_by_id(btf, id), `read ${section} type of ${this.name}`);
    const info = read.u32(t, 4);
    const vlen = info & 0xffff;
    const out = new Map<string, { offset: number; size: number }>();
    for (let i = 0; i < vlen; i++) {
      // struct btf_type is 12 bytes; each btf_var_secinfo {type, offset, size} follows.
      const varId = read.u32(t, 12 + i * 12);
      const offset = read.u32(t, 16 + i * 12);
      const size = read.u32(t, 20 + i * 12);
      const vt = lib.btf__type_by_id(btf, varId);
      if (!vt || ((read.u32(vt, 4) >> 24) & 0x1f) !== BTF_KIND_VAR) continue;
      const name = String(lib.btf__name_by_offset(btf, read.u32(vt, 0)));
      out.set(name, { offset, size });
    }
    return out;
  }

  /** Makes a map of this object use an existing map (shared between objects) instead of a new one. */
  reuseMap(name: string, fd: number): void {
    if (this.loaded) throw new BpfError(`reuse map ${name} in ${this.name} after load`, 16);
    const m = checkPtr(lib.bpf_object__find_map_by_name(this.h, name), `reuse map ${name}: ${this.name} has no such map`);
    check(lib.bpf_map__reuse_fd(m, fd), `reuse map fd ${fd} as ${name} in ${this.name}`);
  }

  /** A map's definition as the object declares it (known from open): what a reused map must match. */
  mapSpec(name: string): { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number } {
    const m = checkPtr(lib.bpf_object__find_map_by_name(this.h, name), `find map ${name} in ${this.name}`);
    return { type: lib.bpf_map__type(m), keySize: lib.bpf_map__key_size(m), valueSize: lib.bpf_map__value_size(m), maxEntries: lib.bpf_map__max_entries(m), flags: lib.bpf_map__map_flags(m) };
  }

  hasMap(name: string): boolean {
    return !!lib.bpf_object__find_map_by_name(this.h, name);
  }

  load(): void {
    check(lib.bpf_object__load(this.h), `load eBPF object ${this.name}`);
    this.loaded = true;
  }

  program(name: string): BpfProgram {
    const p = checkPtr(lib.bpf_object__find_program_by_name(this.h, name), `find program ${name} in ${this.name}`);
    const fd = lib.bpf_program__fd(p);
    if (fd < 0) throw new BpfError(`program ${name} of ${this.name} is not loaded`, 9);
    return { name, fd };
  }

  programNames(): string[] {
    const names: string[] = [];
    for (let p = lib.bpf_object__next_program(this.h, null); p; p = lib.bpf_object__next_program(this.h, p)) names.push(String(lib.bpf_program__name(p)));
    return names;
  }

  map(name: string): BpfMap {
    const cached = this.maps.get(name);
    if (cached) return cached;
    const m = checkPtr(lib.bpf_object__find_map_by_name(this.h, name), `find map ${name} in ${this.name}`);
    const fd = lib.bpf_map__fd(m);
    if (fd < 0) throw new BpfError(`map ${name} of ${this.name} is not created (load the object first)`, 9);
    const map = BpfMap.fromFd(fd, name, { owned: false });
    map.types = mapTypes(lib.bpf_object__btf(this.h) as Pointer | null, m as Pointer);
    this.maps.set(name, map);
    return map;
  }

  /** Sizes and C types (from BTF) of the key and value of every map; known from open, before load. */
  describeMaps(): Record<string, { keySize: number; valueSize: number; key?: CType; value?: CType }> {
    const out: Record<string, { keySize: number; valueSize: number; key?: CType; value?: CType }> = {};
    const btf = lib.bpf_object__btf(this.h) as Pointer | null;
    for (const m of this.eachMap()) {
      const name = String(lib.bpf_map__name(m));
      if (!name.includes(".")) out[name] = { keySize: lib.bpf_map__key_size(m), valueSize: lib.bpf_map__value_size(m), ...mapTypes(btf, m) };
    }
    return out;
  }

  mapNames(): string[] {
    return [...this.eachMap()].map((m) => String(lib.bpf_map__name(m)));
  }

  /** Frees the object: its programs and the maps nobody else holds disappear from the kernel. */
  close(): void {
    if (!this.handle) return;
    lib.bpf_object__close(this.handle);
    this.handle = null;
    this.maps.clear();
    void this.bytes;
  }
}

function writeScalar(view: DataView, off: number, size: number, value: GlobalValue, what: string): void {
  const n = typeof value === "boolean" ? (value ? 1 : 0) : value;
  const big = BigInt(n);
  const max = size >= 8 ? 1n << 64n : 1n << BigInt(size * 8);
  if (big < -(max / 2n) || big >= max) throw new BpfError(`set global ${what}: ${value} does not fit in ${size} bytes`, 34);
  switch (size) {
    case 1: view.setUint8(off, Number(big & 0xffn)); break;
    case 2: view.setUint16(off, Number(big & 0xffffn), true); break;
    case 4: view.setUint32(off, Number(big & 0xffffffffn), true); break;
    case 8: view.setBigUint64(off, BigInt.asUintN(64, big), true); break;
    default: throw new BpfError(`set global ${what}: ${size}-byte variables are not scalars`, 22);
  }
}
