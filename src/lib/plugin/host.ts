// The daemon's modules that a plug-in's code uses: the plug-in bundle does not carry its own
// copy of them (it would have its own ServiceError class, which the daemon's `instanceof`
// would not recognise), it asks the daemon for its copy when it starts.
//
// At build time (build.ts) every import of one of these modules (`../../lib/sdk/types.ts` as the
// codegen writes it, or any path that ends in src/lib/<key>.ts) becomes a small module of the
// bundle that calls the host function with the key and the names it exports; at load time
// (load.ts) the daemon has installed that function, which returns its own module. A module a
// plug-in may use is added here (and the SDK's minor version bumped, src/lib/sdk/version.ts).
import * as codec from "../bpf/codec.ts";
import * as clock from "../sdk/clock.ts";
import * as frames from "../sdk/frames.ts";
import * as ipv4 from "../sdk/ipv4.ts";
import * as mac from "../sdk/mac.ts";
import * as maps from "../sdk/maps.ts";
import * as mirror from "../sdk/mirror.ts";
import * as timeouts from "../sdk/timeouts.ts";
import * as types from "../sdk/types.ts";
import * as yang from "../yang/index.ts";

export const HOST_MODULES: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  "sdk/types": types,
  "sdk/clock": clock,
  "sdk/timeouts": timeouts,
  "sdk/maps": maps,
  "sdk/mirror": mirror,
  "sdk/ipv4": ipv4,
  "sdk/mac": mac,
  "sdk/frames": frames,
  "yang/index": yang,
  "bpf/codec": codec,
};

/** Where the bundle finds the host function. */
export const HOST_KEY = "polycube.plugin-host";

type HostFn = (key: string, names: string[]) => Readonly<Record<string, unknown>>;

/** Installs the host function in this process (the daemon; idempotent). */
export function installHost(): void {
  const g = globalThis as unknown as Record<symbol, HostFn | undefined>;
  const sym = Symbol.for(HOST_KEY);
  if (g[sym]) return;
  g[sym] = (key, names) => {
    const m = HOST_MODULES[key];
    if (!m) throw new Error(`the plug-in imports src/lib/${key}, which this daemon does not offer to plug-ins (it offers ${Object.keys(HOST_MODULES).join(", ")})`);
    const missing = names.filter((n) => !(n in m));
    if (missing.length) throw new Error(`the plug-in needs ${missing.join(", ")} from src/lib/${key}, which this daemon lacks`);
    return m;
  };
}

/** The host module an import resolves to (an absolute path), or undefined. */
export function hostModuleOf(path: string): string | undefined {
  const p = path.replace(/\\/g, "/").replace(/\.(ts|js)$/, "");
  for (const key of Object.keys(HOST_MODULES)) {
    if (p.endsWith(`/lib/${key}`)) return key;
    if (key.endsWith("/index") && p.endsWith(`/lib/${key.slice(0, -"/index".length)}`)) return key;
  }
  return undefined;
}

/** The source of the bundle's stand-in for a host module. */
export function hostStub(key: string): string {
  const names = Object.keys(HOST_MODULES[key]!).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
  return [
    `const host = globalThis[Symbol.for(${JSON.stringify(HOST_KEY)})];`,
    `if (!host) throw new Error("this is a polycube plug-in: load it into polycubed with polycubectl services add name=NAME type=lib uri=FILE");`,
    `const m = host(${JSON.stringify(key)}, ${JSON.stringify(names)});`,
    `export const { ${names.join(", ")} } = m;`,
    "",
  ].join("\n");
}
