// simplebridge datapath: learns source MACs (MAC -> port, last-seen time), forwards known
// unicast destinations, and sends everything else to the slow path, which floods it on every
// other port (a tail call can go to one port only, and bpf_clone_redirect exists for TC only).
#include <polycube.h>

#define REASON_FLOODING 1
#define ENTRY_STATIC 1

struct mac_key {
  __u8 addr[6];
  __u16 pad;
};

struct fdb_entry {
  /** CLOCK_BOOTTIME seconds of the last packet from this MAC (0 for static entries). */
  __u64 timestamp;
  __u32 port;
  __u32 flags;
};

struct bridge_config {
  /** Seconds after which a learned entry is no longer used. */
  __u32 aging_time;
};

/* FDB_SIZE in fdb.ts. Not preallocated: a cube pays for the entries it holds. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct mac_key);
  __type(value, struct fdb_entry);
} fwdtable SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct bridge_config);
} config SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if (data + sizeof(*eth) > data_end) return pcn_pkt_drop(ctx, md);

  __u32 zero = 0;
  struct bridge_config *cfg = bpf_map_lookup_elem(&config, &zero);
  __u64 aging = cfg ? cfg->aging_time : 300;
  __u64 now = bpf_ktime_get_boot_ns() / 1000000000ULL;
  __u32 in = md->in_port;

  struct mac_key src = {};
  __builtin_memcpy(src.addr, eth->h_source, 6);
  if (!(src.addr[0] & 1)) {
    struct fdb_entry *e = bpf_map_lookup_elem(&fwdtable, &src);
    if (!e || (!(e->flags & ENTRY_STATIC) && (e->port != in || e->timestamp != now))) {
      struct fdb_entry n = {.timestamp = now, .port = in, .flags = 0};
      bpf_map_update_elem(&fwdtable, &src, &n, BPF_ANY);
    }
  }

  struct mac_key dst = {};
  __builtin_memcpy(dst.addr, eth->h_dest, 6);
  struct fdb_entry *d = bpf_map_lookup_elem(&fwdtable, &dst);
  if (d && ((d->flags & ENTRY_STATIC) || now - d->timestamp <= aging)) {
    __u32 out = d->port;
    if (out == in) {
      pcn_log(ctx, LOG_TRACE, "destination is on the input port %d: drop", in);
      return pcn_pkt_drop(ctx, md);
    }
    pcn_log(ctx, LOG_TRACE, "port %d -> port %d", in, out);
    return pcn_pkt_redirect(ctx, md, out);
  }
  pcn_log(ctx, LOG_TRACE, "port %d: unknown destination, flooding", in);
  return pcn_pkt_controller(ctx, md, REASON_FLOODING);
}
