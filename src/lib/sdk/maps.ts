// Typed views of a cube's maps: keys and values through the codecs of src/lib/bpf/codec.ts,
// checked against the C types of the loaded datapath when the view is made (at cube creation):
// a codec whose size, or a struct field whose offset or size, differs from the map's BTF is
// refused with an error naming the map, the C type and the field, instead of corrupting
// entries. Contexts that know only sizes (remote services talking to an older daemon, test
// contexts) check the sizes; contexts that know nothing check nothing.
import type { Codec } from "../bpf/codec.ts";
import { MapMirror, TypedMirror, type MirrorOptions } from "./mirror.ts";
import { ServiceError, type CType, type CubeContext, type MapAccess, type MapDescription } from "./types.ts";

/** A codec that does not fit the datapath: the service's fault (500), found at cube creation. */
export class MapLayoutError extends ServiceError {
  constructor(message: string) {
    super(message, 500);
    this.name = "MapLayoutError";
  }
}

function fieldList(codec: Codec<unknown>): Array<[string, { offset: number; codec: Codec<unknown> }]> {
  return Object.entries(codec.fields ?? {}).sort((a, b) => a[1].offset - b[1].offset);
}

/** Checks a codec against a C type; throws MapLayoutError naming `where` (e.g. "map arp_table: value"). */
export function checkCodec(where: string, codec: Codec<unknown>, size: number, ctype?: CType): void {
  const cname = ctype ? ` (${ctype.name})` : "";
  if (codec.size !== size) throw new MapLayoutError(`${where}${cname} is ${size} bytes, its codec ${codec.size}`);
  if (!ctype?.members || !codec.fields) return;
  for (const [field, f] of fieldList(codec)) {
    const m = ctype.members.find((x) => x.offset === f.offset && !x.bits);
    if (!m) {
      const members = ctype.members.map((x) => `${x.name} at ${x.offset} (${x.size} bytes)`).join(", ");
      throw new MapLayoutError(`${where}: field '${field}' is at offset ${f.offset}, where ${ctype.name} has no member (its members: ${members})`);
    }
    if (f.codec.size !== m.size)
      throw new MapLayoutError(`${where}: field '${field}' is ${f.codec.size} bytes, ${ctype.name}.${m.name} (${m.type.name}) is ${m.size}`);
    if (f.codec.fields && m.type.members) checkCodec(`${where}.${field}`, f.codec, m.size, m.type);
  }
}

/** Checks a key and a value codec against a map's description. */
export function checkMapCodecs(name: string, desc: MapDescription, key: Codec<unknown>, value: Codec<unknown>): void {
  checkCodec(`map ${name}: key`, key, desc.keySize, desc.key);
  checkCodec(`map ${name}: value`, value, desc.valueSize, desc.value);
}

/** A map seen through a key and a value codec. */
export class TypedMapAccess<K, V> {
  constructor(
    readonly raw: MapAccess,
    readonly name: string,
    readonly key: Codec<K>,
    readonly value: Codec<V>,
  ) {}

  async get(k: K): Promise<V | undefined> {
    const v = await this.raw.get(this.key.encode(k));
    return v && this.value.decode(v);
  }

  /** Per-CPU maps: one value per possible CPU. */
  async getPerCpu(k: K): Promise<V[] | undefined> {
    return (await this.raw.getPerCpu(this.key.encode(k)))?.map((v) => this.value.decode(v));
  }

  set(k: K, v: V): Promise<void> {
    return this.raw.set(this.key.encode(k), this.value.encode(v));
  }

  delete(k: K): Promise<boolean> {
    return this.raw.delete(this.key.encode(k));
  }

  async entries(): Promise<Array<[K, V]>> {
    return (await this.raw.entries()).map(([k, v]) => [this.key.decode(k), this.value.decode(v)]);
  }

  /** A mirror of this map's configured entries (src/lib/sdk/mirror.ts). */
  mirror(opts: MirrorOptions = {}): TypedMirror<K, V> {
    return new TypedMirror(this.raw, this.name, this.key, this.value, opts);
  }

  /** The same map as a byte mirror, for entries built as bytes. */
  rawMirror(opts: MirrorOptions = {}): MapMirror {
    return new MapMirror(this.raw, this.name, opts);
  }
}

/**
 * A typed view of one of the cube's maps, after loadDatapath(). Throws MapLayoutError when a
 * codec does not fit the map's key or value as the datapath declares them.
 */
export function typedMap<K, V>(ctx: CubeContext, name: string, key: Codec<K>, value: Codec<V>): TypedMapAccess<K, V> {
  const described = ctx.describeMaps?.();
  if (described && Object.keys(described).length && !described[name])
    throw new MapLayoutError(`map ${name}: the datapath has no such map (its maps: ${Object.keys(described).sort().join(", ")})`);
  const raw = ctx.map(name);
  const desc = described?.[name] ?? (raw.keySize || raw.valueSize ? { keySize: raw.keySize, valueSize: raw.valueSize } : undefined);
  if (desc) checkMapCodecs(name, desc, key as Codec<unknown>, value as Codec<unknown>);
  return new TypedMapAccess(raw, name, key, value);
}
