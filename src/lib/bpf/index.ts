// libpolycube's eBPF layer: the only module that talks to libbpf (through bun:ffi).
export { BpfError } from "./errors.ts";
export { BpfObject, type BpfProgram } from "./object.ts";
export { BpfMap, MapType, possibleCpus, u32Bytes, waitForPrograms, type MapInfo } from "./map.ts";
export { attachXdp, detachXdp, attachTc, ifindex, ifname, type XdpMode, type TcDirection, type TcAttachment } from "./attach.ts";
export { testRun, BPF_F_TEST_XDP_LIVE_FRAMES, type TestRunInput, type TestRunResult } from "./testrun.ts";
export { RingBufferReader } from "./ringbuf.ts";
export { embeddedObject, embeddedObjectNames, registerObject, unregisterObject } from "./embedded.ts";
export * as codec from "./codec.ts";
export { TypedMap } from "./typed-map.ts";
export { describeType, kernelMapTypes, type CType, type CMember } from "./btf.ts";
export { PacketSocket } from "./packet-socket.ts";
export { withNetns } from "./netns.ts";
export { programFdById, programInfo, closeProgramFd, type ProgramInfo } from "./prog-by-id.ts";
export { pinFd, openPinned, closeFd } from "./pin.ts";
export { xdpProgramId, tcProgramId, detachTcFilter, clsactOurs } from "./attach.ts";
export { setLibbpfSink, withLibbpfMessages, type LibbpfLevel } from "./print.ts";
