// One polycubed per machine. The original takes a flock on the pid file; without a flock
// in Bun's standard library (and with bun:ffi reserved for src/lib/bpf) we create the file
// exclusively and treat an existing one as stale only when its process is gone.
import { mkdirSync, openSync, readFileSync, closeSync, writeSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { processAlive } from "../lib/process-alive.ts";

export class AlreadyRunningError extends Error {
  constructor(readonly pid: number) {
    super(`There is another polycube instance running with pid ${pid}`);
  }
}

/** Takes the pid file for this process; throws AlreadyRunningError if a live daemon holds it. */
export function acquirePidFile(path: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw new AlreadyRunningError(pid);
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`cannot take pid file ${path}`);
}
