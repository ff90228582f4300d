// Preloaded by bun test (bunfig.toml): these tests load eBPF programs, create namespaces and
// start daemons, which takes longer than bun's 5 s default per test.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
