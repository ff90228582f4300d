// simpleforwarder datapath: one action per input port (DROP, SLOWPATH, FORWARD to a port).
// Ports without an entry drop, as in the original.
#include <polycube.h>

#define ACTION_DROP 0
#define ACTION_SLOWPATH 1
#define ACTION_FORWARD 2

struct action {
  __u32 action;
  __u32 outport;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, struct action);
} actions SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 in = md->in_port;
  struct action *a = bpf_map_lookup_elem(&actions, &in);
  if (!a) {
    pcn_log(ctx, LOG_DEBUG, "no action for port %d: drop", in);
    return pcn_pkt_drop(ctx, md);
  }
  switch (a->action) {
  case ACTION_SLOWPATH:
    pcn_log(ctx, LOG_DEBUG, "port %d: to the slow path", in);
    return pcn_pkt_controller(ctx, md, 0);
  case ACTION_FORWARD:
    pcn_log(ctx, LOG_DEBUG, "port %d: forward to port %d", in, a->outport);
    return pcn_pkt_redirect(ctx, md, a->outport);
  default:
    return pcn_pkt_drop(ctx, md);
  }
}
