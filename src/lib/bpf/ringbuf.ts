// Reads a BPF ring buffer in a Worker so that draining never blocks the event loop.
import { BpfError } from "./errors.ts";

export class RingBufferReader {
  private worker?: Worker;

  constructor(
    readonly mapFd: number,
    readonly name = "ring buffer",
  ) {}

  /** Starts draining; each record is delivered, in order, to onRecord on the main thread. */
  async start(onRecord: (data: Uint8Array) => void, onError?: (e: Error) => void): Promise<void> {
    if (this.worker) return;
    const worker = new Worker(new URL("./ringbuf-worker.ts", import.meta.url).href);
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { started?: boolean; records?: Uint8Array[]; error?: string };
        if (m.started) resolve();
        else if (m.records) for (const r of m.records) onRecord(r);
        else if (m.error) {
          const e = new BpfError(`${this.name}: ${m.error}`, 5);
          reject(e);
          onError?.(e);
        }
      };
      worker.postMessage({ start: this.mapFd });
    });
    (worker as Worker & { unref(): void }).unref();
  }

  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      w.addEventListener("message", (ev: MessageEvent) => {
        if ((ev.data as { stopped?: boolean }).stopped) {
          clearTimeout(t);
          resolve();
        }
      });
      w.postMessage({ stop: true });
    });
    w.terminate();
  }
}
