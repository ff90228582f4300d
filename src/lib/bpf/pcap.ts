// libpcap's filter compiler and classic-BPF interpreter, bound through bun:ffi: pcap_compile
// turns a pcap-filter(7) expression into a classic BPF program, pcap_offline_filter runs it on
// one packet. libpcap.so.0.8 (Debian's libpcap0.8) is opened on first use, so the daemon runs
// without it until a filter is asked for.
import { dlopen, FFIType as T, ptr, type Pointer } from "bun:ffi";

const p = T.ptr;
let lib: ReturnType<typeof open> | undefined;

function open() {
  return dlopen("libpcap.so.0.8", {
    pcap_open_dead: { args: [T.i32, T.i32], returns: p },
    pcap_close: { args: [p], returns: T.void },
    pcap_compile: { args: [p, p, p, T.i32, T.u32], returns: T.i32 },
    pcap_geterr: { args: [p], returns: T.cstring },
    pcap_freecode: { args: [p], returns: T.void },
    pcap_offline_filter: { args: [p, p, p], returns: T.i32 },
  }).symbols;
}

function pcap() {
  if (!lib) {
    try {
      lib = open();
    } catch (e) {
      throw new Error(`libpcap is not available (install libpcap0.8): ${e instanceof Error ? e.message : e}`);
    }
  }
  return lib;
}

/** DLT_EN10MB: Ethernet frames. */
export const LINKTYPE_ETHERNET = 1;
const PCAP_NETMASK_UNKNOWN = 0xffffffff;

/** A compiled filter. `match` is libpcap's own classic-BPF interpreter; `free` releases the program. */
export interface PcapFilter {
  /** The classic BPF program's length in instructions. */
  readonly instructions: number;
  readonly program: Uint8Array;
  /** True if the filter accepts the packet: `data` is what was captured, `wireLen` the packet's real length. */
  match(data: Uint8Array, wireLen?: number): boolean;
  free(): void;
}

/**
 * Compiles `expression` (pcap-filter syntax) for packets of `linktype` cut to `snaplen` bytes.
 * Throws an Error carrying libpcap's message when the expression is wrong.
 */
export function compilePcapFilter(expression: string, snaplen = 262144, linktype = LINKTYPE_ETHERNET): PcapFilter {
  const l = pcap();
  const handle = l.pcap_open_dead(linktype, snaplen);
  if (!handle) throw new Error("pcap_open_dead failed");
  // struct bpf_program { u_int bf_len; struct bpf_insn *bf_insns; }: 16 bytes on 64-bit.
  const prog = new Uint8Array(16);
  const text = Buffer.from(`${expression}\0`, "utf8");
  try {
    if (l.pcap_compile(handle, ptr(prog), ptr(text), 1, PCAP_NETMASK_UNKNOWN) !== 0) {
      throw new Error(String(l.pcap_geterr(handle)));
    }
  } finally {
    l.pcap_close(handle);
  }
  const progPtr: Pointer = ptr(prog);
  // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }: 24 bytes.
  const hdr = new Uint8Array(24);
  const hv = new DataView(hdr.buffer);
  let freed = false;
  return {
    // `prog` is referenced here so that the bytes behind progPtr stay alive as long as the filter.
    program: prog,
    instructions: new DataView(prog.buffer).getUint32(0, true),
    match(data, wireLen = data.length) {
      if (freed) throw new Error("filter already freed");
      if (data.length === 0) return false;
      hv.setUint32(16, data.length, true);
      hv.setUint32(20, Math.max(wireLen, data.length), true);
      return l.pcap_offline_filter(progPtr, ptr(hdr), ptr(data)) !== 0;
    },
    free() {
      if (!freed) l.pcap_freecode(progPtr);
      freed = true;
    },
  };
}
