// What must be undone if the run is interrupted: run.ts calls runCleanups() on SIGINT/SIGTERM
// and at exit. Each owner registers when it creates something and unregisters when it is done.
const pending = new Set<() => void>();

export function onInterrupt(fn: () => void): () => void {
  pending.add(fn);
  return () => pending.delete(fn);
}

/** Runs every pending cleanup, newest first; one failing does not stop the others. */
export function runCleanups(): void {
  for (const fn of [...pending].reverse()) {
    pending.delete(fn);
    try {
      fn();
    } catch {
      /* best effort: the next one may still work */
    }
  }
}
