// The report: a Markdown table per section, every figure beside its baseline, and an SVG chart.
export interface Row {
  key: string;
  label: string;
  section: "path" | "program";
  baseline?: string;
  mpps?: number;
  nsPerPkt?: number;
  /** Free text: spread over the trials, delivered share, kernel figure... */
  detail?: string;
  /** Why the row has no figures (not available here, or the run failed). */
  missing?: string;
  /** The added ns/pkt is also shown divided by count (e.g. per added cube). */
  perUnit?: { count: number; unit: string };
}

export interface ReportMeta {
  date: string;
  machine: string[];
  method: string[];
  notes: string[];
  chart?: string;
  /** Lines of sections of their own, after the end-to-end table (e.g. the firewall's goals). */
  afterPaths?: string[];
}

/** A control-plane latency: one figure per sample (ms), summarised by its p50 and p99. */
export interface LatencyRow {
  key: string;
  label: string;
  /** Key of the row (in the same group) this one is compared with. */
  baseline?: string;
  samples?: number;
  p50?: number;
  p99?: number;
  detail?: string;
  missing?: string;
}

/** A control-plane bulk load: `entries` of `asked` loaded in `seconds`. */
export interface LoadRow {
  key: string;
  label: string;
  baseline?: string;
  asked: number;
  entries?: number;
  seconds?: number;
  detail?: string;
  missing?: string;
}

/** Traffic through a daemon restart: `lost` of `sent` probes, one every `intervalMs`. */
export interface RestartRow {
  key: string;
  label: string;
  baseline?: string;
  sent?: number;
  lost?: number;
  /** The longest time without a reply. */
  gapMs?: number;
  /** From the signal to the new daemon answering REST (and, without the topology kept, the cubes made again). */
  restartSeconds?: number;
  detail?: string;
  missing?: string;
}

/** One subsection of the control-plane part: how its figures were taken, then their table. */
export interface ControlGroup {
  title: string;
  method: string[];
  latency?: LatencyRow[];
  loads?: LoadRow[];
  restarts?: RestartRow[];
}

const f = (x: number, digits: number) => x.toFixed(digits);

function compare(row: Row, byKey: Map<string, Row>): { ratio: string; delta: string; against: string } {
  const base = row.baseline ? byKey.get(row.baseline) : undefined;
  if (!base) return { ratio: "", delta: "", against: "" };
  const against = base.label;
  if (row.mpps === undefined || row.nsPerPkt === undefined || base.mpps === undefined || base.nsPerPkt === undefined) {
    return { ratio: "n/a", delta: "n/a", against };
  }
  const d = row.nsPerPkt - base.nsPerPkt;
  const sign = (x: number) => `${x >= 0 ? "+" : ""}${f(x, 1)}`;
  const per = row.perUnit ? ` (${sign(d / row.perUnit.count)} per ${row.perUnit.unit})` : "";
  return { ratio: f(row.mpps / base.mpps, 3), delta: `${sign(d)}${per}`, against };
}

function table(rows: Row[], byKey: Map<string, Row>): string[] {
  const out = [
    "| scenario | Mpps | ns/pkt | ratio to baseline (Mpps) | added ns/pkt | baseline | detail |",
    "|---|---:|---:|---:|---:|---|---|",
  ];
  for (const r of rows) {
    const c = compare(r, byKey);
    if (r.missing) {
      out.push(`| ${r.label} | – | – | – | – | ${c.against} | ${r.missing} |`);
      continue;
    }
    out.push(`| ${r.label} | ${f(r.mpps!, 3)} | ${f(r.nsPerPkt!, 1)} | ${c.ratio} | ${c.delta} | ${c.against} | ${r.detail ?? ""} |`);
  }
  return out;
}

const ms = (x: number) => (x >= 100 ? f(x, 0) : x >= 10 ? f(x, 1) : x >= 1 ? f(x, 2) : f(x, 3));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? "n/a" : f(a / b, 2));

/**
 * A control-plane table: the row's label, `cells` (its figures, given the baseline row if any;
 * right-aligned), the baseline's label, and the detail or why the row has no figures.
 */
function controlTable<R extends LatencyRow | LoadRow | RestartRow>(rows: R[], head: string[], cells: (r: R, base: R | undefined) => string[]): string[] {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const out = [`| ${head[0]} | ${head.slice(1).join(" | ")} | baseline | detail |`, `|---|${head.slice(1).map(() => "---:|").join("")}---|---|`];
  for (const r of rows) {
    const base = r.baseline ? byKey.get(r.baseline) : undefined;
    out.push(`| ${r.label} | ${cells(r, base).join(" | ")} | ${base?.label ?? ""} | ${r.missing ?? r.detail ?? ""} |`);
  }
  return out;
}

function latencyTable(rows: LatencyRow[]): string[] {
  const head = ["measurement", "samples", "p50 ms", "p99 ms", "ratio to baseline, p50", "ratio to baseline, p99"];
  return controlTable(rows, head, (r, base) => {
    if (r.missing) return ["–", "–", "–", "–", "–"];
    return [String(r.samples), ms(r.p50!), ms(r.p99!), base ? ratio(r.p50, base.p50) : "", base ? ratio(r.p99, base.p99) : ""];
  });
}

function loadTable(rows: LoadRow[]): string[] {
  const perEntry = (r: LoadRow | undefined) => (r?.seconds !== undefined && r.entries ? r.seconds / r.entries : undefined);
  const head = ["load", "entries asked", "entries loaded", "seconds", "entries/s", "ratio to baseline (time per entry)"];
  return controlTable(rows, head, (r, base) => {
    if (r.missing) return [String(r.asked), "–", "–", "–", "–"];
    const rate = r.entries && r.seconds ? f(r.entries / r.seconds, 0) : "–";
    return [String(r.asked), String(r.entries ?? 0), f(r.seconds!, 3), rate, base ? ratio(perEntry(r), perEntry(base)) : ""];
  });
}

function restartTable(rows: RestartRow[]): string[] {
  const head = ["restart", "probes sent", "probes lost", "outage ms (longest time without a reply)", "restart s", "lost beside baseline"];
  return controlTable(rows, head, (r, base) => {
    if (r.missing) return ["–", "–", "–", "–", "–"];
    return [String(r.sent), String(r.lost), f(r.gapMs!, 0), f(r.restartSeconds!, 2), base?.lost !== undefined ? `${r.lost} vs ${base.lost}` : ""];
  });
}

/** The control-plane part: each group's method, then its tables. */
export function controlMarkdown(groups: ControlGroup[], intro: string[]): string[] {
  if (groups.length === 0) return [];
  const lines = ["## Control plane", "", ...intro.map((m) => `- ${m}`), ""];
  for (const g of groups) {
    lines.push(`### Control plane: ${g.title}`, "", ...g.method.map((m) => `- ${m}`), "");
    if (g.latency?.length) lines.push(...latencyTable(g.latency), "");
    if (g.loads?.length) lines.push(...loadTable(g.loads), "");
    if (g.restarts?.length) lines.push(...restartTable(g.restarts), "");
  }
  return lines;
}

export function markdown(rows: Row[], meta: ReportMeta, control: string[] = []): string {
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const lines = [
    `# Benchmarks, ${meta.date}`,
    "",
    "Generated by `make bench` (bench/run.ts); every figure below was measured in this one run.",
    "",
    "## Machine",
    "",
    ...meta.machine.map((m) => `- ${m}`),
    "",
    "## Method",
    "",
    ...meta.method.map((m) => `- ${m}`),
    "",
    "## Datapath: end-to-end, generator netns -> device under test -> sink netns",
    "",
    ...table(rows.filter((r) => r.section === "path"), byKey),
    "",
  ];
  if (meta.chart) lines.push(`![Mpps per path](${meta.chart})`, "");
  lines.push(...(meta.afterPaths ?? []));
  lines.push(
    "## Datapath: per-packet cost of a program (BPF_PROG_TEST_RUN, no live frames)",
    "",
    ...table(rows.filter((r) => r.section === "program"), byKey),
    "",
    ...control,
    "## Notes",
    "",
    ...meta.notes.map((n) => `- ${n}`),
    "",
  );
  return lines.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars of Mpps, one per row with figures. */
export function svgChart(rows: Row[], title: string): string {
  const bars = rows.filter((r) => r.mpps !== undefined);
  const max = Math.max(...bars.map((r) => r.mpps!), 0.001);
  const labelW = 300;
  const barW = 380;
  const h = 24;
  const top = 34;
  const height = top + bars.length * h + 12;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 90}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  bars.forEach((r, i) => {
    const y = top + i * h;
    const w = Math.max(1, (r.mpps! / max) * barW);
    parts.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${h - 8}" fill="#4a7ebb"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 15}">${r.mpps!.toFixed(2)} Mpps</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}
