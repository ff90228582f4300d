// The eBPF objects built by build/bpf.sh and embedded in the executable, and those that plug-ins
// (services loaded at run time, src/lib/plugin) register while they are loaded.
import { bpfObjects } from "../../../build/gen/bpf-objects.ts";
import { BpfError } from "./errors.ts";

/** Objects of loaded plug-ins, by the same names ("<object>.<flavour>"). */
const registered = new Map<string, Uint8Array>();

/** Bytes of an embedded or registered object, e.g. "simplebridge.tc" or "pcn_entry.xdp". */
export async function embeddedObject(name: string): Promise<Uint8Array> {
  const bytes = registered.get(name);
  if (bytes) return bytes;
  const path = bpfObjects[name];
  if (!path) throw new BpfError(`find embedded eBPF object ${name} (known: ${embeddedObjectNames().join(", ")})`, 2);
  return Bun.file(path).bytes();
}

export function embeddedObjectNames(): string[] {
  return [...Object.keys(bpfObjects), ...registered.keys()];
}

/** Makes an object findable by name (a plug-in's); refuses a name that is taken. */
export function registerObject(name: string, bytes: Uint8Array): void {
  if (name in bpfObjects || registered.has(name)) throw new BpfError(`register eBPF object ${name}: the name is taken`, 17);
  registered.set(name, bytes);
}

export function unregisterObject(name: string): void {
  registered.delete(name);
}
