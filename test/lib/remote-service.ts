// A built-in service run as a remote service (`polycube service NAME --listen ...`), ready once
// it says it serves.
import type { Subprocess } from "bun";
import { polycube } from "./daemon.ts";

export async function startRemoteService(name: string, listen: string, extra: string[] = []): Promise<Subprocess> {
  const proc = Bun.spawn([...polycube(), "service", name, "--listen", listen, ...extra], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let seen = "";
  const deadline = Date.now() + 15000;
  while (!seen.includes(`serving service ${name}`) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  if (!seen.includes(`serving service ${name}`)) {
    proc.kill("SIGKILL");
    throw new Error(`remote service ${name} did not start: ${seen}${await new Response(proc.stderr as ReadableStream).text()}`);
  }
  return proc;
}
