// Who may touch a cube's configuration when.
//
// - Writes to one cube run one at a time, in the order they arrived; writes to different cubes
//   run side by side (a routing daemon filling one router does not hold up a bridge's FDB).
// - Reads of a cube run together, between that cube's writes: a write edits large lists of the
//   stored configuration in place (see Journal in tree.ts), so no read may overlap one; a read
//   sees what the last accepted write left.
// - Daemon-wide operations (cubes created or deleted, ports and peers, attachments, services)
//   change more than one cube: they run alone, after what came before them and before what
//   comes after.
// Every queue is first come, first served: a waiting write holds back later reads, so a busy
// reader cannot starve writers.

/** One readers-writer queue. */
class RwQueue {
  private writing = false;
  private readers = 0;
  private readonly waiting: Array<{ write: boolean; go: () => void }> = [];

  constructor(private readonly onIdle?: () => void) {}

  async run<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(write);
    try {
      return await fn();
    } finally {
      if (write) this.writing = false;
      else this.readers--;
      this.pump();
    }
  }

  get idle(): boolean {
    return !this.writing && this.readers === 0 && this.waiting.length === 0;
  }

  private acquire(write: boolean): Promise<void> {
    if (!this.waiting.length && !this.writing && (!write || this.readers === 0)) {
      if (write) this.writing = true;
      else this.readers++;
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ write, go }));
  }

  private pump(): void {
    while (this.waiting.length && !this.writing) {
      const next = this.waiting[0]!;
      if (next.write) {
        if (this.readers) return;
        this.writing = true;
      } else this.readers++;
      this.waiting.shift();
      next.go();
      if (next.write) return;
    }
    if (this.idle) this.onIdle?.();
  }
}

export class CubeLocks {
  private readonly daemon = new RwQueue();
  private readonly cubes = new Map<string, RwQueue>();

  /** A daemon-wide operation: runs alone. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.daemon.run(true, fn);
  }

  /** A change of one cube's configuration (or an action on it). */
  write<T>(cube: string, fn: () => Promise<T>): Promise<T> {
    return this.daemon.run(false, () => this.queue(cube).run(true, fn));
  }

  /** A read of one cube. */
  read<T>(cube: string, fn: () => Promise<T>): Promise<T> {
    return this.daemon.run(false, () => this.queue(cube).run(false, fn));
  }

  private queue(cube: string): RwQueue {
    let q = this.cubes.get(cube);
    if (!q) {
      const made = new RwQueue(() => {
        if (this.cubes.get(cube) === made) this.cubes.delete(cube);
      });
      this.cubes.set(cube, made);
      q = made;
    }
    return q;
  }
}
