// synflood datapath: a transparent cube that lets every packet go on, in both directions. The
// service's statistics are the host's TCP/IP counters, read by the control plane (index.ts).
#define PCN_TRANSPARENT
#include <polycube.h>

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  pcn_log(ctx, LOG_TRACE, "packet on, direction %d", md->in_port);
  return RX_OK;
}
