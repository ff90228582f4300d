// The REST baseline: a Bun HTTP server that answers every request with the same small JSON
// (reading the body of writes first). Started as its own process by the control-plane bench;
// prints its port on the first line of stdout.
const body = JSON.stringify({ name: "br", "service-name": "simplebridge", type: "TC", loglevel: "INFO" });
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    if (req.method !== "GET" && req.method !== "HEAD") await req.text();
    return new Response(body, { headers: { "content-type": "application/json" } });
  },
});
console.log(server.port);
