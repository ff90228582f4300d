// Requests and replies matched by id over one gRPC bidirectional stream. Both ends use it:
// each sends its own requests with increasing ids and answers the other's with the same id.
import { ServiceError } from "../sdk/types.ts";
import type { ReplyMsg } from "./protocol.ts";

interface Duplex<Out> {
  write(msg: Out): boolean;
  on(event: "data", cb: (msg: unknown) => void): unknown;
  on(event: "end" | "close", cb: () => void): unknown;
  on(event: "error", cb: (e: Error) => void): unknown;
  end(): void;
}

export class SessionClosedError extends Error {}

/** The other end did not answer a request in time (it may still, later: the caller decides what that means). */
export class SessionTimeoutError extends Error {}

export class Session<Out extends { id: string | number; reply?: ReplyMsg }, In extends { id: string | number; reply?: ReplyMsg }> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ReplyMsg) => void; reject: (e: Error) => void }>();
  private closed = false;
  private readonly closeHandlers: Array<(why: string) => void> = [];

  constructor(
    private readonly stream: Duplex<Out>,
    /** Handles a request (or a one-way message) from the other end; its result is the reply. */
    private readonly onRequest: (msg: In) => Promise<ReplyMsg | undefined>,
  ) {
    stream.on("data", (m) => this.receive(m as In));
    stream.on("end", () => this.close("the remote end closed the session"));
    stream.on("close", () => this.close("the session closed"));
    stream.on("error", (e: Error) => this.close(e.message));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onClose(cb: (why: string) => void): void {
    this.closeHandlers.push(cb);
  }

  /**
   * Sends a request and waits for its reply; an error reply becomes a ServiceError. With
   * timeoutMs, no reply by then rejects with a SessionTimeoutError (a late reply is ignored).
   */
  async request(body: Omit<Out, "id">, timeoutMs?: number): Promise<ReplyMsg> {
    if (this.closed) throw new SessionClosedError("remote session is closed");
    const id = this.nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await new Promise<ReplyMsg>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (timeoutMs !== undefined)
        timer = setTimeout(() => {
          if (!this.pending.delete(id)) return;
          reject(new SessionTimeoutError(`no answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
      this.stream.write({ ...body, id } as Out);
    }).finally(() => clearTimeout(timer));
    if (!reply.ok) {
      throw new ServiceError(reply.error || "remote call failed", reply.status || 500, reply.tag || undefined, reply.field || undefined);
    }
    return reply;
  }

  /** Sends a message that is not answered (packet-in, log lines). */
  notify(body: Omit<Out, "id">): void {
    if (!this.closed) this.stream.write({ ...body, id: 0 } as Out);
  }

  close(why = "closed"): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new SessionClosedError(why));
    this.pending.clear();
    try {
      this.stream.end();
    } catch {
      /* already ended */
    }
    for (const cb of this.closeHandlers) cb(why);
  }

  private receive(msg: In): void {
    const id = Number(msg.id);
    if (msg.reply) {
      const p = this.pending.get(id);
      this.pending.delete(id);
      p?.resolve(msg.reply);
      return;
    }
    this.onRequest(msg).then(
      (reply) => {
        if (reply && id !== 0 && !this.closed) this.stream.write({ id, reply } as Out);
      },
      (e: unknown) => {
        if (id !== 0 && !this.closed) this.stream.write({ id, reply: errorReply(e) } as Out);
      },
    );
  }
}

export function errorReply(e: unknown): ReplyMsg {
  if (e instanceof ServiceError) {
    return { ok: false, error: e.message, status: e.status, tag: e.tag ?? "", field: e.field ?? "" };
  }
  return { ok: false, error: e instanceof Error ? e.message : String(e), status: 500 };
}

export const OK: ReplyMsg = { ok: true };
