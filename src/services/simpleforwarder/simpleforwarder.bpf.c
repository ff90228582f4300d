// simpleforwarder datapath: one action per input port (DROP, SLOWPATH, FORWARD to a port).
// Ports without an entry drop, as in the original; its log lines are kept.
#include <polycube.h>

#define ACTION_DROP 0
#define ACTION_SLOWPATH 1
#define ACTION_FORWARD 2

#define REASON_SLOWPATH 1

struct action {
  __u32 action;
  __u32 outport;
};

PCN_HASH(actions, __u32, struct action, 256);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 in = md->in_port;
  pcn_log(ctx, LOG_TRACE, "Receiving packet from port %d", in);
  struct action *a = bpf_map_lookup_elem(&actions, &in);
  if (!a) {
    pcn_log(ctx, LOG_DEBUG, "No action associated to port %d: dropping packet.", in);
    return pcn_pkt_drop(ctx, md);
  }
  switch (a->action) {
  case ACTION_DROP:
    pcn_log(ctx, LOG_DEBUG, "Dropping packet.");
    return pcn_pkt_drop(ctx, md);
  case ACTION_SLOWPATH:
    pcn_log(ctx, LOG_DEBUG, "Sending packet to slowpath.");
    return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
  case ACTION_FORWARD:
    pcn_log(ctx, LOG_DEBUG, "Forwarding packet to port %u.", a->outport);
    return pcn_pkt_redirect(ctx, md, a->outport);
  default:
    pcn_log(ctx, LOG_DEBUG, "Bad action %d.", a->action);
    return pcn_pkt_drop(ctx, md);
  }
}
