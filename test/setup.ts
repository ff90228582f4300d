// Preloaded by bun test (bunfig.toml): these tests load eBPF programs, create namespaces and
// start daemons, which takes longer than bun's 5 s default per test. Bun applies this to the
// first test file it runs only; test/run.sh (make test) passes --timeout for every file.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
