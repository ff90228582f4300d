// dynmon: a transparent cube whose datapath is C code given at run time, in the original's
// dataplane-config (BCC's dialect: BPF_ARRAY(...), MAP.lookup(&k)), and whose maps are exported
// as metrics: JSON (`metrics`) and OpenMetrics (`open-metrics`, and the daemon's /metrics).
//
// - Configuring a path's code: rewrite.ts turns both paths' code into one C file, compile.ts
//   builds it with clang (the TC build, and the XDP one for XDP cubes), the object is loaded
//   once on its own to run the verifier (whose log is the error when it refuses), then replaces
//   the cube's datapath: each entry program's slot switches to the new program in one update,
//   so packets go through the old code or the new one, never through none. Anything that fails
//   (code that does not build or verify, a metric naming a map the code lacks) is a 4xx naming
//   it, and the previous configuration and datapath stay. A missing compiler is a 500 that says so.
// - The cube's object is registered under a name of its own (dynmon-<cube>), for the default
//   code (the embedded dynmon.bpf.c: every packet goes on) as for the user's, so its maps are
//   pinned in one place and a reload drops the pins of maps that are gone.
// - Reading a metric reads its map (extract.ts). With swap-on-read the path's swap map is
//   flipped first, so that the datapath writes the map's other copy, waitForPrograms() returns
//   once no program still holds the copy to read, and that copy is read (and, with
//   empty-on-read, emptied) while nothing writes it: nothing the datapath counts is lost.
// - dynmon runs in the daemon's process: it registers the objects it builds with the daemon's
//   eBPF layer, which a remote service process cannot.
import { BpfObject, embeddedObject, registerObject, unregisterObject, waitForPrograms, withLibbpfMessages } from "../../lib/bpf/index.ts";
import { u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type Json, type JsonObject, type MapDescription, type PathStep, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./dynmon.yang" with { type: "text" };
import { compile, CompileError, type Flavour } from "./compile.ts";
import { DEFAULT_NAME, PATHS, datapathKey, pathField, pathSpecs, swapSets, type MetricConfig, type PathSpec } from "./config.ts";
import { extract, MAP_TYPE_NAMES } from "./extract.ts";
import { openMetric, openMetricsText } from "./openmetrics.ts";
import { DEFAULT_CODE, EXPORTABLE, rewrite, RewriteError, type MapPlace, type PathName } from "./rewrite.ts";

const FLAVOURS: Flavour[] = ["tc", "xdp"];
/** Lines of the verifier's log kept in an error: its end says why. */
const LOG_LINES = 40;

type Places = Record<PathName, Map<string, MapPlace>>;

/** The verifier's log in libbpf's messages of a failed load: its last lines. */
export function verifierLog(messages: string[]): string {
  const text = messages.join("\n");
  const m = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)\n?-- END PROG LOAD LOG --/.exec(text);
  const lines = (m ? m[1]! : text).split("\n").filter((l) => l.trim());
  return (lines.length > LOG_LINES ? ["...", ...lines.slice(-LOG_LINES)] : lines).join("\n");
}

/** Which path a compiler's or verifier's message is about, when it is about one only. */
function pathOf(text: string): PathName | undefined {
  const ing = /\bingress-path:\d+|'pcn_ingress'/.test(text);
  const eg = /\begress-path:\d+|'pcn_egress'/.test(text);
  return ing === eg ? undefined : ing ? "ingress" : "egress";
}

/** Checks that every metric names a map of its path's code that dynmon can read. */
export function checkMetrics(specs: Record<PathName, PathSpec>, places: Places): void {
  for (const p of PATHS)
    for (const m of specs[p].metrics) {
      const field = `${pathField(p)}.metric-configs[${m.name}].map-name`;
      const place = places[p].get(m.mapName);
      if (!place) {
        const known = [...places[p].keys()];
        throw new ServiceError(`${field}: the ${p} code has no map ${m.mapName} (its maps: ${known.length ? known.join(", ") : "none"})`, 400, "invalid-value", field);
      }
      if (!EXPORTABLE.has(place.type))
        throw new ServiceError(`${field}: map ${m.mapName} is a ${MAP_TYPE_NAMES[place.type] ?? `map of type ${place.type}`}; dynmon exports hash, array, LRU, per-CPU, queue and stack maps`, 400, "invalid-value", field);
    }
}

/**
 * Loads each object once, on its own, for the verifier's verdict. Returns the C types of the
 * maps as the object declares them: after a load libbpf forgets those of the maps the kernel
 * takes without BTF (queues and stacks).
 */
function verify(objects: Map<Flavour, Uint8Array>): Record<string, MapDescription> {
  let types: Record<string, MapDescription> = {};
  for (const [f, bytes] of objects) {
    const r = withLibbpfMessages(() => {
      const o = BpfObject.open(bytes, "dynmon_check");
      try {
        const declared = o.describeMaps();
        o.load();
        return declared;
      } finally {
        o.close();
      }
    });
    if (!r.error) {
      types = r.result!;
      continue;
    }
    const log = verifierLog(r.messages);
    const failed = r.messages.find((m) => /program load failed/.test(m)) ?? "";
    const p = pathOf(log) ?? pathOf(failed);
    const field = p ? `${pathField(p)}.code` : "dataplane-config";
    throw new ServiceError(`${field}: the ${f === "tc" ? "TC" : "XDP"} build of the code does not load (${(r.error as Error).message}); the verifier says:\n${log}`, 400, "invalid-value", field);
  }
  return types;
}

/** Microseconds since the epoch, as the original's timestamps. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

interface Datapath {
  key: string;
  places: Places;
  /** Key and value C types of the loaded object's maps. */
  types: Record<string, MapDescription>;
}

interface Metric {
  path: PathName;
  config: MetricConfig;
}

class DynmonCube {
  private readonly object: string;
  private registered?: Map<Flavour, Uint8Array>;
  private datapath?: Datapath;
  private specs: Record<PathName, PathSpec> = pathSpecs({});
  /** Configuration and reads one at a time: a read must not see a datapath being replaced. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: CubeContext) {
    this.object = `dynmon-${ctx.name}`;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private flavours(): Flavour[] {
    return this.ctx.type === "TC" ? ["tc"] : ["xdp", "tc"];
  }

  /** Registers `objects` under the cube's object name and makes them the cube's datapath. */
  private async install(objects: Map<Flavour, Uint8Array>): Promise<void> {
    const previous = this.registered;
    const swapIn = (o: Map<Flavour, Uint8Array> | undefined) => {
      for (const f of FLAVOURS) unregisterObject(`${this.object}.${f}`);
      if (o) for (const [f, b] of o) registerObject(`${this.object}.${f}`, b);
    };
    swapIn(objects);
    try {
      await this.ctx.loadDatapath(this.object);
    } catch (e) {
      swapIn(previous);
      throw e;
    }
    this.registered = objects;
  }

  async configure(config: JsonObject): Promise<void> {
    const specs = pathSpecs(config);
    const key = datapathKey(specs);
    if (this.datapath?.key === key) {
      checkMetrics(specs, this.datapath.places);
      this.specs = specs;
      return;
    }
    let objects: Map<Flavour, Uint8Array>;
    let places: Places;
    let types: Record<string, MapDescription> = {};
    if (PATHS.every((p) => specs[p].isDefault)) {
      objects = new Map();
      for (const f of this.flavours()) objects.set(f, await embeddedObject(`dynmon.${f}`));
      places = { ingress: new Map(), egress: new Map() };
    } else {
      const swap = swapSets(specs);
      let source: string;
      try {
        const rw = rewrite({ ingress: { code: specs.ingress.code, swap: swap.ingress }, egress: { code: specs.egress.code, swap: swap.egress } });
        source = rw.source;
        places = rw.maps;
      } catch (e) {
        if (!(e instanceof RewriteError)) throw e;
        const field = `${pathField(e.path)}.code`;
        throw new ServiceError(`${field}: ${e.message}`, 400, "invalid-value", field);
      }
      checkMetrics(specs, places);
      try {
        objects = await compile(source, this.flavours());
      } catch (e) {
        if (!(e instanceof CompileError)) throw e;
        if (e.missingTool) throw new ServiceError(`dynmon: ${e.message}`, 500);
        const p = pathOf(e.message);
        const field = p ? `${pathField(p)}.code` : "dataplane-config";
        throw new ServiceError(`${field}: ${e.message}`, 400, "invalid-value", field);
      }
      types = verify(objects);
    }
    await this.install(objects);
    this.datapath = { key, places, types };
    this.specs = specs;
    const what = PATHS.map((p) => `${p}: ${specs[p].isDefault ? "default code" : `'${specs[p].name}', ${places[p].size} map(s), ${specs[p].metrics.length} metric(s)`}`);
    this.ctx.log.info(`datapath loaded (${what.join("; ")})`);
  }

  /** Reads the maps of `metrics` (each map once, swap-on-read copies flipped together first). */
  private async read(metrics: Metric[]): Promise<Map<Metric, { value?: Json; error?: string; timestamp: number }>> {
    const out = new Map<Metric, { value?: Json; error?: string; timestamp: number }>();
    const dp = this.datapath;
    if (!dp || metrics.length === 0) return out;
    // The object each metric reads: its map, or the swap-on-read copy the datapath is leaving.
    const source = new Map<Metric, { object: string; place: MapPlace }>();
    const flipped = new Map<string, string>();
    for (const m of metrics) {
      const place = dp.places[m.path].get(m.config.mapName);
      if (!place) continue;
      let object = place.object;
      if (place.swap && m.config.swapOnRead) {
        const id = `${place.swap.index}/${place.swap.slot}`;
        let retired = flipped.get(id);
        if (retired === undefined) {
          const index = this.ctx.map(place.swap.index);
          const slot = u32.encode(place.swap.slot);
          const raw = await index.get(slot);
          const active = raw ? u32.decode(raw) & 1 : 0;
          await index.set(slot, u32.encode(1 - active));
          retired = place.swap.copies[active]!;
          flipped.set(id, retired);
        }
        object = retired;
      } else if (place.swap) object = place.swap.copies[0];
      source.set(m, { object, place });
    }
    if (flipped.size) waitForPrograms();
    const values = new Map<string, { value?: Json; error?: string; timestamp: number }>();
    const emptied = new Set([...source].filter(([m]) => m.config.emptyOnRead).map(([, s]) => s.object));
    for (const [m, s] of source) {
      let v = values.get(s.object);
      if (!v) {
        try {
          v = { value: await extract(this.ctx.map(s.object), s.place.type, dp.types[s.object], emptied.has(s.object)), timestamp: nowMicros() };
        } catch (e) {
          v = { error: `Unable to read ${m.config.mapName} map: ${(e as Error).message}`, timestamp: nowMicros() };
          this.ctx.log.warn(v.error!);
        }
        values.set(s.object, v);
      }
      out.set(m, v);
    }
    return out;
  }

  private metricsOf(paths: PathName[], pred: (m: MetricConfig) => boolean = () => true): Metric[] {
    return paths.flatMap((path) => this.specs[path].metrics.filter(pred).map((config) => ({ path, config })));
  }

  /** What GET shows besides the configuration: the metrics and the OpenMetrics text read now, and the default paths. */
  state(at?: PathStep[]): Promise<JsonObject> {
    return this.serial(async () => {
      const top = at?.[0]?.node;
      const wantList = !top || top === "metrics";
      const lists: PathName[] = wantList ? PATHS.filter((p) => !at?.[1] || at[1].node === `${p}-metrics`) : [];
      const wantOpen = !top || top === "open-metrics";
      const wantConfig = !top || top === "dataplane-config";
      const jsonMetrics = this.metricsOf(lists);
      const openMetrics = wantOpen ? this.metricsOf(PATHS, (m) => !!m.open) : [];
      const read = await this.read([...new Set([...jsonMetrics, ...openMetrics.filter((o) => !jsonMetrics.some((j) => j.path === o.path && j.config === o.config))])]);
      const valueOf = (path: PathName, c: MetricConfig) => [...read].find(([m]) => m.path === path && m.config === c)?.[1];
      const out: JsonObject = {};
      if (wantList) {
        const metrics: JsonObject = {};
        for (const p of lists)
          metrics[`${p}-metrics`] = this.specs[p].metrics.flatMap((c) => {
            const v = valueOf(p, c);
            return v && !v.error ? [{ name: c.name, value: v.value ?? null, timestamp: v.timestamp }] : [];
          });
        out.metrics = metrics;
      }
      if (wantOpen) {
        const text = (p: PathName) => this.specs[p].metrics.filter((c) => c.open).map((c) => {
          const v = valueOf(p, c);
          return v && !v.error ? openMetric(c.name, c.open!, v.value ?? null) : "";
        });
        out["open-metrics"] = openMetricsText(text("ingress"), text("egress"));
      }
      if (wantConfig) {
        const defaults: JsonObject = {};
        for (const p of PATHS) if (this.specs[p].isDefault) defaults[`${p}-path`] = { name: DEFAULT_NAME, code: DEFAULT_CODE };
        if (Object.keys(defaults).length) out["dataplane-config"] = defaults;
      }
      return out;
    });
  }

  /** One metric of a path alone (GET metrics/ingress-metrics/<name>...): only its map is read. */
  async stateAt(path: PathStep[]): Promise<{ value?: Json }> {
    const list = path[0]?.node === "metrics" ? PATHS.find((p) => path[1]?.node === `${p}-metrics`) : undefined;
    if (!list || path.length !== 2) return {};
    return this.serial(async () => {
      const config = this.specs[list].metrics.find((m) => m.name === path[1]!.keys?.name);
      if (!config) return {};
      const metric = { path: list, config };
      const v = (await this.read([metric])).get(metric);
      if (!v) return {};
      if (v.error) throw new ServiceError(v.error, 500);
      return { value: { name: config.name, value: v.value ?? null, timestamp: v.timestamp } };
    });
  }

  control(): CubeControl {
    return {
      apply: (_changes, config) => this.serial(() => this.configure(config)),
      state: (at) => this.state(at),
      stateAt: (path) => this.stateAt(path),
      destroy: () => {
        for (const f of FLAVOURS) unregisterObject(`${this.object}.${f}`);
      },
    };
  }
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  const cube = new DynmonCube(ctx);
  await cube.configure(config);
  return cube.control();
}

export const dynmon: ServiceModule = { name: "dynmon", kind: "transparent", yang, createCube };
export default dynmon;
