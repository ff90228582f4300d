// polycubed: the service-agnostic daemon (entry point). Work in progress: see src/daemon/.
export async function main(args: string[]): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log("Usage: polycubed [options]\n  -p, --port PORT   rest server port (default 9000)\n  -h, --help        this help");
    return;
  }
  if (args.includes("--version") || args.includes("-v")) {
    console.log("polycubed version 0.1.0");
    return;
  }
  console.error("polycubed: not implemented yet");
  process.exit(1);
}
