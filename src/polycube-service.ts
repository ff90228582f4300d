// `polycube service NAME --listen HOST:PORT`: runs one of the built-in services in its own
// process as a remote service; polycubed reaches it with `services add NAME type=grpc uri=...`.
// `polycube service build DIR -o FILE` builds a plug-in package instead (src/lib/plugin/build.ts).
import { resolve } from "node:path";
import { daemonLog } from "./lib/log.ts";
import type { ServiceModule } from "./lib/sdk/types.ts";

const USAGE = `Usage: polycube service NAME --listen HOST:PORT [--cert FILE --key FILE [--cacert FILE]]
       polycube service --package FILE --listen HOST:PORT [...]   (a plug-in package, remote)
       polycube service build DIR -o FILE     (a plug-in package, see polycube service build --help)

Serves the service NAME over gRPC to polycubed, which registers it with
  polycubectl services add name=NAME type=grpc uri=HOST:PORT
With --cert/--key the channel uses TLS; with --cacert polycubed must present a
client certificate signed by that CA.`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

export async function main(args: string[]): Promise<number> {
  if (args[0] === "build") {
    const { main: build } = await import("./lib/plugin/build.ts");
    return build(args.slice(1));
  }
  if (args.includes("--help") || args.includes("-h") || args.length === 0) {
    console.log(USAGE);
    return args.length === 0 ? 1 : 0;
  }
  const name = args[0]!.startsWith("--") ? undefined : args[0]!;
  let listen: string | undefined;
  let packageFile: string | undefined;
  let tls: { cert: string; key: string; cacert?: string } | undefined;
  try {
    listen = option(args, "--listen");
    packageFile = option(args, "--package");
    if (packageFile && name) throw new Error("give a service NAME or --package FILE, not both");
    if (!packageFile && !name) throw new Error("a service NAME or --package FILE is required");
    const cert = option(args, "--cert");
    const key = option(args, "--key");
    const cacert = option(args, "--cacert");
    if (!!cert !== !!key) throw new Error("--cert and --key go together");
    if (cacert && !cert) throw new Error("--cacert needs --cert and --key");
    if (cert && key) tls = { cert, key, cacert };
  } catch (e) {
    console.error(`polycube service: ${(e as Error).message}`);
    return 1;
  }
  if (!listen) {
    console.error("polycube service: --listen HOST:PORT is required");
    return 1;
  }
  let module: ServiceModule | undefined;
  let objects: Array<{ name: string; data: Uint8Array }> = [];
  if (packageFile) {
    // The same package a daemon loads with `services add type=lib`, served from this process.
    const { loadPackageForRemote } = await import("./lib/plugin/load.ts");
    try {
      const p = await loadPackageForRemote(resolve(packageFile));
      module = p.module;
      objects = [...p.objects].map(([n, data]) => ({ name: n, data }));
    } catch (e) {
      console.error(`polycube service: ${(e as Error).message}`);
      return 1;
    }
  } else {
    const { builtinServices } = await import("./services/index.ts");
    module = builtinServices.find((s) => s.name === name);
    if (!module) {
      console.error(`polycube service: no service named ${name} (known: ${builtinServices.map((s) => s.name).join(", ")})`);
      return 1;
    }
  }
  const { serveRemoteService } = await import("./lib/remote/service-host.ts");
  try {
    const server = await serveRemoteService(module, listen, { tls, log: (m) => daemonLog.info(m), objects });
    const stop = () => void server.stop().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  } catch (e) {
    console.error(`polycube service: cannot listen on ${listen}: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}
