// The eBPF objects built by build/bpf.sh and embedded in the executable.
import { bpfObjects } from "../../../build/gen/bpf-objects.ts";
import { BpfError } from "./errors.ts";

/** Bytes of an embedded object, e.g. "simplebridge.tc" or "pcn_entry.xdp". */
export async function embeddedObject(name: string): Promise<Uint8Array> {
  const path = bpfObjects[name];
  if (!path) throw new BpfError(`find embedded eBPF object ${name} (known: ${Object.keys(bpfObjects).join(", ")})`, 2);
  return Bun.file(path).bytes();
}

export function embeddedObjectNames(): string[] {
  return Object.keys(bpfObjects);
}
