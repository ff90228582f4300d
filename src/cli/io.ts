// Output of the CLI. Not process.stdout/stderr: the first touch of either builds Node's stream
// machinery, which costs about 20 ms of a call that should take 30 ms in all. Bun.write is
// cheap; the writes are chained so that they land in order, and flush() waits for them.
export interface Io {
  out(s: string): void;
  err(s: string): void;
}

let pending: Promise<unknown> = Promise.resolve();

function write(target: typeof Bun.stdout, s: string): void {
  if (s === "") return;
  // A closed pipe (`polycubectl … | head -1`) is not an error of the command.
  pending = pending.then(() => Bun.write(target, s)).catch(() => undefined);
}

export const stdio: Io = {
  out: (s) => write(Bun.stdout, s),
  err: (s) => write(Bun.stderr, s),
};

/** Resolves when everything written so far is out. */
export function flush(): Promise<void> {
  return pending.then(() => undefined);
}
