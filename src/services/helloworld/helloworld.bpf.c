// helloworld datapath: a cube of at most two ports that does one thing with every packet, as
// the control plane sets it in `config`: drop it, forward it out of the other port, or hand
// it to the slow path (which logs it and goes no further, as the original's). Its egress
// program only logs, as the original's does.
#define PCN_STANDARD_EGRESS
#include <polycube.h>

#define ACTION_DROP 0
#define ACTION_SLOWPATH 1
#define ACTION_FORWARD 2

#define REASON_SLOWPATH 0
#define NO_PORT 0xffffffffu

struct hw_config {
  __u32 action;
  /* Ids of the (at most) two ports; NO_PORT where there is none. */
  __u32 ports[2];
};

PCN_ARRAY(config, struct hw_config, 1);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 in = md->in_port;
  pcn_log(ctx, LOG_DEBUG, "[INGRESS] Receiving packet from port %d", in);

  struct hw_config *cfg = pcn_lookup0(&config);
  if (!cfg) return pcn_pkt_drop(ctx, md);

  switch (cfg->action) {
  case ACTION_SLOWPATH:
    pcn_log(ctx, LOG_DEBUG, "Sending packet to slow path");
    return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
  case ACTION_FORWARD: {
    __u32 out;
    if (cfg->ports[0] == in)
      out = cfg->ports[1];
    else if (cfg->ports[1] == in)
      out = cfg->ports[0];
    else
      out = NO_PORT;
    if (out == NO_PORT) return pcn_pkt_drop(ctx, md); /* silently, as the original */
    pcn_log(ctx, LOG_DEBUG, "Forwarding packet");
    return pcn_pkt_redirect(ctx, md, out);
  }
  default:
    pcn_log(ctx, LOG_DEBUG, "Dropping packet");
    return pcn_pkt_drop(ctx, md);
  }
}

static __always_inline int handle_tx(CTXTYPE *ctx, struct pkt_metadata *md) {
  pcn_log(ctx, LOG_DEBUG, "[EGRESS] Packet ongoing on port %d", md->in_port);
  return RX_OK;
}
