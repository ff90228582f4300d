// The plug-in package: one file holding a service built out of the daemon's tree.
//
// It is a gzip-compressed tar archive (Bun.Archive), chosen because any tool can list and unpack
// it (`tar tzf x.pcn`), it holds binary members as they are (the eBPF objects: no base64), and
// gzip's CRC catches a damaged file. Members:
//
//   manifest.json            what follows, the SDK version it was built for, and the sha256 of
//                            every other member (checked on load: nothing half-written loads)
//   model/<name>.yang        the service's YANG model
//   service.js               the control plane: one ES module bundled by Bun from index.ts,
//                            whose default export is the ServiceModule; it imports the daemon's
//                            SDK through the host function (host.ts), nothing else of the daemon
//   bpf/<object>.tc.o        each datapath object, built for TC ...
//   bpf/<object>.xdp.o       ... and for XDP
export const FORMAT = "polycube-plugin/1";

export interface Manifest {
  format: string;
  /** The service's name: its module name, its REST name. */
  name: string;
  /** polycube-base:service-version of the model. */
  version: string;
  kind: "standard" | "transparent";
  /** The SDK version the code was built against (src/lib/sdk/version.ts). */
  sdk: string;
  /** The datapath objects, by the name services give ctx.loadDatapath(). */
  objects: string[];
  /** sha256 (hex) of every other member, by its path. */
  sha256: Record<string, string>;
  /** What built it, for the record. */
  builder?: string;
  built?: string;
}

export interface PluginPackage {
  manifest: Manifest;
  model: string;
  /** The bundled control plane's source. */
  code: string;
  /** Object bytes by "<object>.<flavour>". */
  objects: Map<string, Uint8Array>;
}

export class PackageError extends Error {}

export const FLAVOURS = ["tc", "xdp"] as const;
export const modelPath = (name: string) => `model/${name}.yang`;
export const CODE_PATH = "service.js";
export const objectPath = (object: string, flavour: string) => `bpf/${object}.${flavour}.o`;

const NAME = /^[A-Za-z][\w-]*$/;

function sha256(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** The archive's bytes for a package; the manifest's sha256 table is filled in here. */
export async function packBytes(pkg: PluginPackage): Promise<Uint8Array> {
  const files: Record<string, string | Uint8Array> = {};
  files[modelPath(pkg.manifest.name)] = pkg.model;
  files[CODE_PATH] = pkg.code;
  for (const [key, bytes] of pkg.objects) {
    const i = key.lastIndexOf(".");
    files[objectPath(key.slice(0, i), key.slice(i + 1))] = bytes;
  }
  const manifest: Manifest = { ...pkg.manifest, sha256: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, sha256(d)])) };
  return new Bun.Archive({ "manifest.json": JSON.stringify(manifest, null, 2) + "\n", ...files }, { compress: "gzip", level: 9 }).bytes();
}

/** Reads and checks a package: the format, the manifest's fields and every member's checksum. */
export async function unpackBytes(bytes: Uint8Array): Promise<PluginPackage> {
  let members: Map<string, File>;
  try {
    members = await new Bun.Archive(bytes).files();
  } catch (e) {
    throw new PackageError(`not a plug-in package (a tar.gz archive): ${(e as Error).message}`);
  }
  const read = async (path: string): Promise<Uint8Array> => {
    const f = members.get(path);
    if (!f) throw new PackageError(`the package has no ${path}`);
    return f.bytes();
  };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await read("manifest.json"))) as Manifest;
  } catch (e) {
    if (e instanceof PackageError) throw e;
    throw new PackageError(`manifest.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!manifest || typeof manifest !== "object") throw new PackageError("manifest.json is not an object");
  if (manifest.format !== FORMAT) throw new PackageError(`manifest.json: format ${JSON.stringify(manifest.format)}, expected ${FORMAT}`);
  for (const f of ["name", "version", "sdk", "kind"] as const)
    if (typeof manifest[f] !== "string") throw new PackageError(`manifest.json: ${f} is missing`);
  if (!NAME.test(manifest.name)) throw new PackageError(`manifest.json: ${JSON.stringify(manifest.name)} is not a service name`);
  if (manifest.kind !== "standard" && manifest.kind !== "transparent") throw new PackageError(`manifest.json: kind ${manifest.kind} is neither standard nor transparent`);
  if (!Array.isArray(manifest.objects) || manifest.objects.some((o) => typeof o !== "string" || !NAME.test(o)))
    throw new PackageError("manifest.json: objects must be a list of object names");
  if (!manifest.sha256 || typeof manifest.sha256 !== "object") throw new PackageError("manifest.json: sha256 is missing");
  const checked = async (path: string): Promise<Uint8Array> => {
    const data = await read(path);
    const want = manifest.sha256[path];
    if (!want) throw new PackageError(`manifest.json has no checksum of ${path}`);
    if (sha256(data) !== want) throw new PackageError(`${path} is damaged (its sha256 is not the manifest's)`);
    return data;
  };
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const model = text(await checked(modelPath(manifest.name)));
  const code = text(await checked(CODE_PATH));
  const objects = new Map<string, Uint8Array>();
  for (const o of manifest.objects) for (const f of FLAVOURS) objects.set(`${o}.${f}`, await checked(objectPath(o, f)));
  return { manifest, model, code, objects };
}
