// dataplane-config as the control plane uses it: per path, its code and its metrics. A path
// the configuration leaves out runs the original's default code (every packet goes on), under
// the original's default name, and exports nothing.
import type { Json, JsonObject } from "../../lib/sdk/types.ts";
import { DEFAULT_CODE, type PathName } from "./rewrite.ts";
import type { OpenMetricsMetadata } from "./openmetrics.ts";

export const DEFAULT_NAME = "Default path config";
export const PATHS: PathName[] = ["ingress", "egress"];

export interface MetricConfig {
  name: string;
  mapName: string;
  emptyOnRead: boolean;
  swapOnRead: boolean;
  open?: OpenMetricsMetadata;
}

export interface PathSpec {
  name: string;
  code: string;
  metrics: MetricConfig[];
  /** The path is not configured: default code. */
  isDefault: boolean;
}

const obj = (v: Json | undefined): JsonObject | undefined => (v && typeof v === "object" && !Array.isArray(v) ? v : undefined);
const list = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? v.filter((e): e is JsonObject => !!obj(e)) : []);

export function pathSpec(cfg: Json | undefined): PathSpec {
  const c = obj(cfg);
  // ("egress-path": {} in the original's examples, which its daemon took as absent)
  if (!c || c.code === undefined) return { name: DEFAULT_NAME, code: DEFAULT_CODE, metrics: [], isDefault: true };
  return {
    name: String(c.name ?? ""),
    code: String(c.code ?? ""),
    isDefault: false,
    metrics: list(c["metric-configs"]).map((m) => {
      const opts = obj(m["extraction-options"]) ?? {};
      const om = obj(m["open-metrics-metadata"]);
      const mc: MetricConfig = { name: String(m.name), mapName: String(m["map-name"] ?? ""), emptyOnRead: opts["empty-on-read"] === true, swapOnRead: opts["swap-on-read"] === true };
      if (om) mc.open = { help: String(om.help ?? ""), type: String(om.type ?? "Untyped"), labels: list(om.labels).map((l) => ({ name: String(l.name), value: String(l.value ?? "") })) };
      return mc;
    }),
  };
}

/** Both paths of a cube's configuration. */
export function pathSpecs(config: JsonObject): Record<PathName, PathSpec> {
  const dc = obj(config["dataplane-config"]) ?? {};
  return { ingress: pathSpec(dc["ingress-path"]), egress: pathSpec(dc["egress-path"]) };
}

/** The maps each path reads with swap-on-read. */
export function swapSets(specs: Record<PathName, PathSpec>): Record<PathName, Set<string>> {
  const of = (s: PathSpec) => new Set(s.metrics.filter((m) => m.swapOnRead).map((m) => m.mapName));
  return { ingress: of(specs.ingress), egress: of(specs.egress) };
}

/** What the datapath depends on: the code of both paths and their swap-on-read maps. */
export function datapathKey(specs: Record<PathName, PathSpec>): string {
  const sw = swapSets(specs);
  return JSON.stringify(PATHS.map((p) => [specs[p].code, [...sw[p]].sort()]));
}

/** The model's field of a path ("dataplane-config.ingress-path"), for error messages. */
export function pathField(p: PathName): string {
  return `dataplane-config.${p}-path`;
}
