// A map seen through key and value codecs.
import type { BpfMap } from "./map.ts";
import type { Codec } from "./codec.ts";

export class TypedMap<K, V> {
  constructor(
    readonly map: BpfMap,
    private readonly key: Codec<K>,
    private readonly value: Codec<V>,
  ) {
    if (key.size !== map.keySize) throw new Error(`map ${map.name}: key codec is ${key.size} bytes, the map's keys are ${map.keySize}`);
    if (value.size !== map.valueSize) throw new Error(`map ${map.name}: value codec is ${value.size} bytes, the map's values are ${map.valueSize}`);
  }

  get(k: K): V | undefined {
    const v = this.map.lookup(this.key.encode(k));
    return v ? this.value.decode(v) : undefined;
  }

  getPerCpu(k: K): V[] | undefined {
    return this.map.lookupPerCpu(this.key.encode(k))?.map((b) => this.value.decode(b));
  }

  set(k: K, v: V, flags = 0): void {
    this.map.update(this.key.encode(k), this.value.encode(v), flags);
  }

  delete(k: K): boolean {
    return this.map.delete(this.key.encode(k));
  }

  entries(): Array<[K, V]> {
    return this.map.entries().map(([k, v]) => [this.key.decode(k), this.value.decode(v)]);
  }
}
