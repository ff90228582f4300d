// polycubed: the service-agnostic daemon. Options as the original (src/daemon/options.ts),
// the REST API derived from each service's YANG model (src/lib/rest), cubes on the eBPF
// patch panel (src/daemon/core.ts), one instance per machine, clean shutdown on SIGTERM.
import { readFileSync } from "node:fs";
import { parseOptions, usage, OptionsError, type DaemonOptions } from "./daemon/options.ts";
import { acquirePidFile, AlreadyRunningError } from "./daemon/pidfile.ts";
import { daemonLog, journalMode, LogSink, setDefaultSink } from "./lib/log.ts";
import { VERSION } from "./version.ts";

// Large enough for a whole firewall chain (16,384 rules) or a routing table in one request.
const MAX_BODY_BYTES = 64 << 20;

/** Options a reload does not apply (they name what the running daemon holds), with their names. */
const RESTART_OPTIONS = [
  ["port", "port"], ["pidfile", "pidfile"], ["logfile", "logfile"], ["cubesDumpEnable", "cubes-dump-enable"], ["cubesDumpFile", "cubes-dump-file"],
  ["cubesDumpCleanInit", "cubes-dump-clean-init"], ["remoteCacert", "remote-cacert"], ["remoteCert", "remote-cert"], ["remoteKey", "remote-key"],
] as const;

/** The original's --daemon: the same command again, detached, and this process exits. */
function detach(args: string[]): void {
  const rest = args.filter((a) => a !== "--daemon" && a !== "-d");
  const child = Bun.spawn([process.execPath, ...(process.execPath.endsWith("bun") ? [process.argv[1]!] : []), ...rest], {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, POLYCUBED_DETACHED: "1" },
  });
  child.unref();
  console.log(`polycubed started in the background (pid ${child.pid})`);
}

function tlsOptions(o: DaemonOptions) {
  if (!o.cert || !o.key) return undefined;
  return {
    cert: readFileSync(o.cert, "utf8"),
    key: readFileSync(o.key, "utf8"),
    ...(o.cacert ? { ca: readFileSync(o.cacert, "utf8"), requestCert: true, rejectUnauthorized: true } : {}),
  };
}

export async function main(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseOptions(args);
  } catch (e) {
    console.error(`polycubed: ${(e as Error).message}`);
    if (e instanceof OptionsError) console.error("Try 'polycubed --help'.");
    process.exit(1);
  }
  if (parsed.help) {
    console.log(usage());
    return;
  }
  if (parsed.version) {
    console.log(`polycubed version ${VERSION}`);
    return;
  }
  const o = parsed.options;
  if (o.daemon && !process.env.POLYCUBED_DETACHED) return detach(args);

  setDefaultSink(new LogSink(o.logfile, !process.env.POLYCUBED_DETACHED, journalMode()));
  daemonLog.setLevel(o.loglevel);
  for (const name of parsed.overridden) daemonLog.warn(`${name} is set both in ${o.configfile} and on the command line: the command line wins`);

  let releasePid: () => void;
  try {
    releasePid = acquirePidFile(o.pidfile);
  } catch (e) {
    const msg = e instanceof AlreadyRunningError ? e.message : `cannot take the pid file ${o.pidfile}: ${(e as Error).message}`;
    daemonLog.critical(msg); // to the log file, and to the terminal when there is one
    process.exit(1);
  }

  // Loaded after the checks above: they pull in libbpf and every service.
  const { Core } = await import("./daemon/core.ts");
  const { builtinServices } = await import("./services/index.ts");
  const { createRestApp } = await import("./lib/rest/index.ts");
  const dump = await import("./daemon/cubes-dump.ts");
  const { setLibbpfSink } = await import("./lib/bpf/index.ts");
  setLibbpfSink((level, text) => (level === "warn" ? daemonLog.warn(`libbpf: ${text}`) : daemonLog.debug(`libbpf: ${text}`)));

  let core: Awaited<ReturnType<typeof Core.start>>;
  try {
    const remoteTls = o.remoteCacert ? { cacert: o.remoteCacert, cert: o.remoteCert, key: o.remoteKey } : undefined;
    // The datapath is pinned per instance (the REST port); with the topology kept, a restart adopts it.
    const pins = { instance: String(o.port), adopt: o.cubesDumpEnable && !o.cubesDumpCleanInit };
    core = await Core.start(builtinServices, { remoteTls, remoteTimeoutMs: o.remoteTimeout * 1000, pins });
  } catch (e) {
    daemonLog.critical(`cannot start the datapath: ${(e as Error).message}`);
    releasePid();
    process.exit(1);
  }

  const api = o.cubesDumpEnable ? dump.persistent(core, o.cubesDumpFile, daemonLog) : core;
  let server: ReturnType<typeof Bun.serve> | undefined;
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    daemonLog.info(`${why}: shutting down`);
    server?.stop(true);
    if ("flush" in api) (api as { flush(): void }).flush();
    // With the topology kept, the datapath stays pinned and forwarding for the next daemon.
    await core.stop({ keepDatapath: o.cubesDumpEnable });
    releasePid();
    daemonLog.info("polycubed is shutting down. Bye!");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // `systemctl reload`: the configuration file again, applied without touching the datapath.
  process.on("SIGHUP", () => void reload());
  // A bug in a handler must not take the datapath's control plane down with it.
  process.on("uncaughtException", (e) => daemonLog.error(`uncaught: ${e.stack ?? e}`));
  process.on("unhandledRejection", (e) => daemonLog.error(`unhandled rejection: ${(e as Error)?.stack ?? e}`));

  let live = o;
  let app: ReturnType<typeof createRestApp> | undefined;
  const listen = (opts: DaemonOptions) =>
    Bun.serve({
      hostname: opts.addr,
      port: opts.port,
      fetch: (r) => app!.fetch(r),
      maxRequestBodySize: MAX_BODY_BYTES,
      tls: tlsOptions(opts),
      idleTimeout: 0,
    });
  /**
   * Reads the options again (command line over configuration file, as at start). The log level
   * applies at once; a new address or certificate moves the REST server (the old listener goes
   * once the new one listens: a refused one leaves the old in place). Options that name what
   * the daemon holds (port: the pinned datapath's instance; pid file, dump, log file) wait for a
   * restart, which keeps the datapath forwarding with --cubes-dump-enable.
   */
  const reload = async () => {
    let next: DaemonOptions;
    try {
      next = parseOptions(args).options;
    } catch (e) {
      daemonLog.error(`reload: ${(e as Error).message}; the running configuration stays`);
      return;
    }
    daemonLog.setLevel(next.loglevel);
    const moved = next.addr !== live.addr || next.cert !== live.cert || next.key !== live.key || next.cacert !== live.cacert;
    if (moved && server) {
      const kept = { ...next, port: live.port };
      try {
        const fresh = listen(kept);
        server.stop(false);
        server = fresh;
        app = createRestApp(api, { host: kept.addr, port: kept.port });
        daemonLog.info(`reload: REST server now on ${kept.cert ? "https" : "http"}://${kept.addr}:${kept.port}/polycube/v1/`);
      } catch (e) {
        daemonLog.error(`reload: cannot listen on ${kept.addr}:${kept.port} (${(e as Error).message}); the REST server stays on ${live.addr}`);
        next = { ...next, addr: live.addr, cert: live.cert, key: live.key, cacert: live.cacert };
      }
    }
    const later = RESTART_OPTIONS.filter(([k]) => next[k] !== live[k]).map(([, name]) => name);
    if (later.length) daemonLog.warn(`reload: ${later.join(", ")} changed: applied at the next restart`);
    live = { ...next, port: live.port, pidfile: live.pidfile, logfile: live.logfile };
    daemonLog.info(`configuration reloaded from ${next.configfile} (log level ${next.loglevel})`);
  };

  try {
    if (o.cubesDumpEnable) {
      if (o.cubesDumpCleanInit) dump.cleanInit(o.cubesDumpFile);
      else {
        const n = await dump.restore(core, o.cubesDumpFile, daemonLog);
        if (n) daemonLog.info(`restored ${n} cubes from ${o.cubesDumpFile}`);
      }
    }
    await core.finishAdoption();
    app = createRestApp(api, { host: o.addr, port: o.port });
    server = listen(o);
  } catch (e) {
    daemonLog.critical(`cannot start the REST server on ${o.addr}:${o.port}: ${(e as Error).message}`);
    await core.stop();
    releasePid();
    process.exit(1);
  }
  daemonLog.info(`polycubed ${VERSION} listening on ${o.cert ? "https" : "http"}://${o.addr}:${o.port}/polycube/v1/`);
}
