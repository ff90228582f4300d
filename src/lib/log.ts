// Logging in the original's format, one sink for the daemon and all cubes:
//   [2026-11-24 10:00:00.123] [polycubed] [info] message
//   [2026-11-24 10:00:00.123] [Helloworld] [hw1] [debug] [INGRESS] Receiving packet from port 0
// Each logger has its own level (a cube's is its `loglevel`), independent of the daemon's.
import { appendFileSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger, LogLevel } from "./sdk/types.ts";

export const LOG_LEVELS: LogLevel[] = ["TRACE", "DEBUG", "INFO", "WARN", "ERR", "CRITICAL", "OFF"];
const LEVEL_TEXT = ["trace", "debug", "info", "warning", "error", "critical", "off"];
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const KEPT_FILES = 3;

/**
 * Under systemd (JOURNAL_STREAM set: stdout is the journal) the journal stamps each line
 * itself, so the date prefix is dropped from stdout; the level becomes a syslog priority
 * prefix ("<6>") that journald reads, so `journalctl -p warning` works.
 */
export function journalMode(env: Record<string, string | undefined> = process.env): boolean {
  return !!env.JOURNAL_STREAM;
}

const SYSLOG_PRIORITY = [7, 7, 6, 4, 3, 2, 7];

/** A log line for the journal: "<prio>" in place of the timestamp. */
export function journalLine(line: string, level: LogLevel): string {
  return `<${SYSLOG_PRIORITY[LOG_LEVELS.indexOf(level)]}>${line.replace(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] /, "")}`;
}

/** Where log lines go: stdout and/or a size-rotated file (5 MiB x 3, as the original). */
export class LogSink {
  private written = 0;
  constructor(
    readonly file?: string,
    readonly toStdout = true,
    /** stdout is the journal: no timestamp there, a priority prefix instead (the file keeps both). */
    readonly journal = false,
  ) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      try {
        this.written = statSync(file).size;
      } catch {
        this.written = 0;
      }
    }
  }

  write(line: string, level: LogLevel = "INFO"): void {
    if (this.toStdout) process.stdout.write((this.journal ? journalLine(line, level) : line) + "\n");
    if (!this.file) return;
    if (this.written + line.length + 1 > MAX_FILE_BYTES) this.rotate();
    appendFileSync(this.file, line + "\n");
    this.written += line.length + 1;
  }

  private rotate(): void {
    const f = this.file!;
    for (let i = KEPT_FILES - 1; i >= 1; i--) {
      try {
        renameSync(i === 1 ? f : `${f}.${i - 1}`, `${f}.${i}`);
      } catch {
        /* a missing generation is fine */
      }
    }
    this.written = 0;
  }
}

let defaultSink = new LogSink(undefined, true);

export function setDefaultSink(sink: LogSink): void {
  defaultSink = sink;
}

export function timestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
  );
}

export function parseLogLevel(text: string): LogLevel | undefined {
  const up = text.toUpperCase();
  if (up === "ERROR") return "ERR";
  if (up === "WARNING") return "WARN";
  return LOG_LEVELS.find((l) => l === up);
}

/** A named logger; `tags` are the bracketed names before the level, e.g. ["Helloworld", "hw1"]. */
export class TaggedLogger implements Logger {
  private threshold: number;
  constructor(
    private readonly tags: string[],
    level: LogLevel = "INFO",
    private readonly sink?: LogSink,
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  setLevel(level: LogLevel): void {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  get level(): LogLevel {
    return LOG_LEVELS[this.threshold]!;
  }

  enabled(level: LogLevel): boolean {
    const l = LOG_LEVELS.indexOf(level);
    return l >= this.threshold && l < LOG_LEVELS.length - 1;
  }

  log(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    const tags = this.tags.map((t) => `[${t}] `).join("");
    (this.sink ?? defaultSink).write(`[${timestamp()}] ${tags}[${LEVEL_TEXT[LOG_LEVELS.indexOf(level)]}] ${msg}`, level);
  }

  trace(msg: string) { this.log("TRACE", msg); }
  debug(msg: string) { this.log("DEBUG", msg); }
  info(msg: string) { this.log("INFO", msg); }
  warn(msg: string) { this.log("WARN", msg); }
  error(msg: string) { this.log("ERR", msg); }
  critical(msg: string) { this.log("CRITICAL", msg); }
}

/** "simplebridge" -> "Simplebridge", as the original names a cube's logger after its service. */
export function serviceLogName(service: string): string {
  return service.charAt(0).toUpperCase() + service.slice(1);
}

export function cubeLogger(service: string, cube: string, level: LogLevel = "INFO"): TaggedLogger {
  return new TaggedLogger([serviceLogName(service), cube], level);
}

export const daemonLog = new TaggedLogger(["polycubed"], "INFO");
