// The libbpf.so.1 symbols this project uses, bound once through bun:ffi.
import { dlopen, FFIType as T } from "bun:ffi";

const p = T.ptr;
const i32 = T.i32;
const u32 = T.u32;

export const lib = dlopen("libbpf.so.1", {
  bpf_object__open_mem: { args: [p, T.u64, p], returns: p },
  bpf_object__load: { args: [p], returns: i32 },
  bpf_object__close: { args: [p], returns: T.void },
  bpf_object__find_map_by_name: { args: [p, T.cstring], returns: p },
  bpf_object__find_program_by_name: { args: [p, T.cstring], returns: p },
  bpf_object__next_map: { args: [p, p], returns: p },
  bpf_object__next_program: { args: [p, p], returns: p },
  bpf_object__btf: { args: [p], returns: p },
  bpf_program__fd: { args: [p], returns: i32 },
  bpf_program__name: { args: [p], returns: T.cstring },
  bpf_map__fd: { args: [p], returns: i32 },
  bpf_map__name: { args: [p], returns: T.cstring },
  bpf_map__reuse_fd: { args: [p, i32], returns: i32 },
  bpf_map__initial_value: { args: [p, p], returns: p },
  bpf_map__set_initial_value: { args: [p, p, T.u64], returns: i32 },
  btf__find_by_name_kind: { args: [p, T.cstring, u32], returns: i32 },
  btf__type_by_id: { args: [p, u32], returns: p },
  btf__name_by_offset: { args: [p, u32], returns: T.cstring },
  bpf_map_create: { args: [u32, T.cstring, u32, u32, u32, p], returns: i32 },
  bpf_map_lookup_elem: { args: [i32, p, p], returns: i32 },
  bpf_map_update_elem: { args: [i32, p, p, T.u64], returns: i32 },
  bpf_map_delete_elem: { args: [i32, p], returns: i32 },
  bpf_map_get_next_key: { args: [i32, p, p], returns: i32 },
  bpf_map_lookup_batch: { args: [i32, p, p, p, p, p, p], returns: i32 },
  bpf_map_update_batch: { args: [i32, p, p, p, p], returns: i32 },
  bpf_map_delete_batch: { args: [i32, p, p, p], returns: i32 },
  bpf_obj_get_info_by_fd: { args: [i32, p, p], returns: i32 },
  bpf_prog_get_fd_by_id: { args: [u32], returns: i32 },
  bpf_obj_pin: { args: [i32, T.cstring], returns: i32 },
  bpf_obj_get: { args: [T.cstring], returns: i32 },
  bpf_xdp_attach: { args: [i32, i32, u32, p], returns: i32 },
  bpf_xdp_detach: { args: [i32, u32, p], returns: i32 },
  bpf_tc_hook_create: { args: [p], returns: i32 },
  bpf_tc_hook_destroy: { args: [p], returns: i32 },
  bpf_tc_attach: { args: [p, p], returns: i32 },
  bpf_tc_detach: { args: [p, p], returns: i32 },
  bpf_prog_test_run_opts: { args: [i32, p], returns: i32 },
  libbpf_num_possible_cpus: { args: [], returns: i32 },
  libbpf_strerror: { args: [i32, p, T.u64], returns: i32 },
  libbpf_set_print: { args: [p], returns: p },
}).symbols;

// Every libc call of the bpf layer: packet sockets, namespaces, the ring buffer's mmap/epoll.
export const libc = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: p },
  open: { args: [T.cstring, i32], returns: i32 },
  setns: { args: [i32, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  sendto: { args: [i32, p, T.u64, i32, p, u32], returns: T.i64 },
  setsockopt: { args: [i32, i32, i32, p, u32], returns: i32 },
  epoll_create1: { args: [i32], returns: i32 },
  epoll_ctl: { args: [i32, i32, i32, p], returns: i32 },
  epoll_wait: { args: [i32, p, i32, i32], returns: i32 },
  if_nametoindex: { args: [T.cstring], returns: u32 },
  close: { args: [i32], returns: i32 },
  unlink: { args: [T.cstring], returns: i32 },
  strerror: { args: [i32], returns: T.cstring },
  mmap: { args: [p, T.u64, i32, i32, i32, T.i64], returns: p },
  munmap: { args: [p, T.u64], returns: i32 },
  getpagesize: { args: [], returns: i32 },
}).symbols;
