// Request bodies from stdin (reference §5.1, §12). Read only when stdin is a FIFO or a regular
// file — never a TTY, a socket or /dev/null — and only for a writing verb. A regular file is
// read whole even when fstat says size 0; a FIFO is read even though bash here-strings under
// 64 KiB are pipes of size 0 (the original missed those). A FIFO whose writer stays silent
// (an inherited stdin in a daemon or CI runner) must not hang the CLI: if neither a byte nor
// EOF arrives within STDIN_GRACE_MS, the body comes from the key=value arguments.
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from "node:fs";

export const STDIN_GRACE_MS = 1000;

export type StdinKind = "fifo" | "file" | "other";

export function stdinKind(): StdinKind {
  try {
    const st = fstatSync(0);
    if (st.isFIFO()) return "fifo";
    if (st.isFile()) return "file";
  } catch {
    /* closed stdin */
  }
  return "other";
}

/**
 * Reads the FIFO through a second, non-blocking open of it (/proc/self/fd/0), polling: a
 * pending blocking read would keep the process alive after the command is done. Before the
 * first byte the wait is bounded by STDIN_GRACE_MS; once the writer has spoken, it is waited
 * for until EOF however long it takes.
 */
async function readFifo(): Promise<string> {
  let fd: number;
  try {
    fd = openSync("/proc/self/fd/0", constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return "";
  }
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  const deadline = Date.now() + STDIN_GRACE_MS;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        if (chunks.length === 0 && Date.now() > deadline) return "";
        await Bun.sleep(5);
        continue;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Stdin's text, or "" when there is nothing to read. */
export async function readStdin(): Promise<string> {
  switch (stdinKind()) {
    case "file":
      return readFileSync(0, "utf8");
    case "fifo":
      return readFifo();
    default:
      return "";
  }
}

/**
 * YAML or JSON text to JSON text. JSON is tried first (cheap, no import); otherwise the yaml
 * package, which also takes the flow style with single quotes and trailing commas that
 * Polycube's scripts send: {"rules":[{'operation': 'append', 'src': '10.1.0.0/31',},]}.
 */
export async function bodyToJson(text: string): Promise<string> {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    const { parse } = await import("yaml");
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      throw new Error(`The body read from stdin is neither JSON nor YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    return JSON.stringify(doc ?? null);
  }
}
