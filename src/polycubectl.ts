// polycubectl: the service-agnostic CLI (entry point). Work in progress: see src/cli/.
export async function main(args: string[]): Promise<number> {
  if (args.length === 0 || args[0] === "--help" || args[0] === "-h") {
    console.log("Usage: polycubectl [path...] [add|del|set|show] [key=value...] [-json|-yaml] [?]\n       polycube --daemon [polycubed options]");
    return 0;
  }
  console.error("polycubectl: not implemented yet");
  return 1;
}
