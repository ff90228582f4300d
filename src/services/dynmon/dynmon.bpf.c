// dynmon's datapath before any code is given (and when both paths are back to their default):
// every packet goes on along the chain, in both directions. The code a user gives in
// dataplane-config replaces this object at run time (index.ts, rewrite.ts).
#define PCN_TRANSPARENT
#include <polycube.h>

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  return RX_OK;
}
