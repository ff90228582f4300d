// Raw frames out of a netdev through an AF_PACKET socket: how the slow path injects packets.
// Bun has no packet sockets: these are libc's, bound in libbpf.ts.
import { ptr } from "bun:ffi";
import { BpfError, lastErrno } from "./errors.ts";
import { libc as sys } from "./libbpf.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_MARK = 36;
const SOCKADDR_LL_SIZE = 20;

/** A send-only packet socket (protocol 0: it receives nothing). */
export class PacketSocket {
  private fd: number;
  private mark = -1;
  private readonly markBuf = new Uint32Array(1);

  constructor() {
    const fd = sys.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new BpfError("open a packet socket", lastErrno() || 1);
    this.fd = fd;
  }

  /** Sends one frame (from its Ethernet header) out of the netdev, with skb->mark = mark. */
  send(ifindex: number, frame: Uint8Array, mark = 0): void {
    if (this.fd < 0) throw new BpfError("send on a closed packet socket", 9);
    if (frame.length === 0) throw new BpfError("send an empty frame", 22);
    if (mark !== this.mark) {
      this.markBuf[0] = mark >>> 0;
      if (sys.setsockopt(this.fd, SOL_SOCKET, SO_MARK, ptr(this.markBuf), 4) < 0) throw new BpfError(`set SO_MARK ${mark}`, lastErrno() || 1);
      this.mark = mark;
    }
    // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8]; }
    const sll = new Uint8Array(SOCKADDR_LL_SIZE);
    const v = new DataView(sll.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setInt32(4, ifindex, true);
    const n = sys.sendto(this.fd, ptr(frame), frame.length, 0, ptr(sll), SOCKADDR_LL_SIZE);
    if (Number(n) < 0) throw new BpfError(`send a ${frame.length}-byte frame on ifindex ${ifindex}`, lastErrno() || 1);
  }

  close(): void {
    if (this.fd >= 0) sys.close(this.fd);
    this.fd = -1;
  }
}
