// One end of a TCP connection that a test drives step by step, inside a host's namespace: each
// FIN, RST and data segment happens when the test says so (half-open connections allowed), so
// that a firewall's connection tracking can be looked at between the steps.
//   bun tcp-peer.ts listen PORT        (serves one connection at a time: the latest)
//   bun tcp-peer.ts connect IP PORT
// Commands on stdin, one a line: `send TEXT`, `fin` (shutdown: a FIN, still reading), `rst`
// (SO_LINGER 0 close: an RST). Events on stdout, one a line: `ready`, `connected LOCALPORT`,
// `data TEXT`, `end` (the peer's FIN), `closed`.
import { spawn, type Subprocess } from "bun";
import { join } from "node:path";
import type { Host } from "./netns.ts";

type Sock = import("bun").Socket<undefined>;

async function main(args: string[]): Promise<void> {
  let sock: Sock | undefined;
  const say = (line: string) => process.stdout.write(line + "\n");
  const handlers = {
    open(s: Sock) {
      sock = s;
      say(`connected ${s.localPort}`);
    },
    data(_s: Sock, buf: Buffer) {
      say(`data ${buf.toString()}`);
    },
    end() {
      say("end");
    },
    close() {
      say("closed");
    },
    error(_s: Sock, e: Error) {
      say(`error ${e.message}`);
    },
  };
  if (args[0] === "listen") {
    Bun.listen({ hostname: "0.0.0.0", port: Number(args[1]), allowHalfOpen: true, socket: handlers });
  } else {
    void Bun.connect({ hostname: args[1]!, port: Number(args[2]), allowHalfOpen: true, socket: handlers }).catch((e) => say(`error ${e.message}`));
  }
  say("ready");
  for await (const line of console) {
    if (line.startsWith("send ")) sock?.write(line.slice(5));
    else if (line === "fin") sock?.shutdown();
    else if (line === "rst") sock?.terminate();
  }
  process.exit(0);
}

/** The driving side: a peer process in a host's namespace, its events, and commands to it. */
export class TcpPeer {
  readonly events: string[] = [];
  private waiters: Array<() => void> = [];
  private readonly proc: Subprocess<"pipe", "pipe", "ignore">;

  private constructor(ns: string, args: string[]) {
    const bun = join(import.meta.dir, "../../node_modules/.bin/bun");
    this.proc = spawn(["ip", "netns", "exec", ns, bun, import.meta.path, ...args], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    void this.read();
  }

  static async listen(h: Host, port: number): Promise<TcpPeer> {
    const p = new TcpPeer(h.ns, ["listen", String(port)]);
    await p.waitFor(/^ready$/);
    return p;
  }

  /** Starts connecting; the handshake may stay unfinished (waitFor(/^connected/) to know). */
  static async connect(h: Host, ip: string, port: number): Promise<TcpPeer> {
    const p = new TcpPeer(h.ns, ["connect", ip, String(port)]);
    await p.waitFor(/^ready$/);
    return p;
  }

  private async read(): Promise<void> {
    let rest = "";
    for await (const chunk of this.proc.stdout) {
      rest += new TextDecoder().decode(chunk);
      const lines = rest.split("\n");
      rest = lines.pop()!;
      this.events.push(...lines);
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** The first event matching re (already seen or within ms); throws if none comes. */
  async waitFor(re: RegExp, ms = 5000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.find((e) => re.test(e));
      if (hit !== undefined) return hit;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no event ${re} within ${ms} ms; events: ${JSON.stringify(this.events)}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), Bun.sleep(left)]);
    }
  }

  /** The local port of the connection, once connected. */
  async localPort(ms = 5000): Promise<number> {
    return Number((await this.waitFor(/^connected /, ms)).split(" ")[1]);
  }

  send(command: string): void {
    this.proc.stdin.write(command + "\n");
    this.proc.stdin.flush();
  }

  stop(): void {
    this.proc.kill("SIGKILL");
  }
}

if (import.meta.main) await main(process.argv.slice(2));
