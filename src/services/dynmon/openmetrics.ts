// The `open-metrics` text, as the original's dynmon wrote it: for each metric that has
// open-metrics-metadata and whose value is a list of numbers (an array or a queue of counters),
// one sample per element, each after its own "#HELP name help" and "#TYPE name type" lines; the
// sample is named after the metric, with "_<i>" when there are several elements, and carries the
// metric's labels. A metric whose value is not numbers (hash entries, structs) is left out, as
// in the original, except per-CPU entries of numbers, whose CPUs are summed (the original left
// those out too).
import type { Json } from "../../lib/sdk/types.ts";

export interface OpenMetricsMetadata {
  help: string;
  /** As the model's enumeration writes it (Counter, Gauge...); the text has it in lower case. */
  type: string;
  labels: Array<{ name: string; value: string }>;
}

function numbers(value: Json): Array<number | string> | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: Array<number | string> = [];
  for (const v of value) {
    if (typeof v === "number") out.push(v);
    else if (typeof v === "string" && /^-?\d+$/.test(v)) out.push(v);
    else if (v && typeof v === "object" && !Array.isArray(v) && Array.isArray(v.value) && v.value.every((x) => typeof x === "number" || (typeof x === "string" && /^\d+$/.test(x))))
      out.push(String(v.value.reduce<bigint>((s, x) => s + BigInt(x as number | string), 0n)));
    else return undefined;
  }
  return out;
}

function sampleValue(v: number | string): string {
  return typeof v === "number" && !Number.isInteger(v) ? String(v) : BigInt(v).toString();
}

/** One metric's lines ("" when its value has no numbers to show). */
export function openMetric(name: string, meta: OpenMetricsMetadata, value: Json): string {
  const values = numbers(value);
  if (!values) return "";
  const labels = `{${meta.labels.map((l) => `${l.name}="${l.value}"`).join(", ")}}`;
  const lines: string[] = [];
  values.forEach((v, i) => {
    lines.push(`#HELP ${name} ${meta.help}`, `#TYPE ${name} ${meta.type.toLowerCase()}`, `${name}${values.length === 1 ? "" : `_${i}`}${labels} ${sampleValue(v)}`);
  });
  return lines.join("\n");
}

/** Both paths' metrics: the ingress ones, then the egress ones. */
export function openMetricsText(ingress: string[], egress: string[]): string {
  return [ingress.filter(Boolean).join("\n"), egress.filter(Boolean).join("\n")].filter(Boolean).join("\n");
}
