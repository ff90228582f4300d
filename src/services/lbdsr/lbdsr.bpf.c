// lbdsr datapath: a Direct Server Return load balancer. Clients send their requests for the
// virtual IP to the cube's FRONTEND port; the cube answers their ARP requests for the VIP with
// its own MAC, and sends each request on out of its BACKEND port to one backend server, changing
// nothing but the Ethernet addresses (destination: the backend's MAC; source: lb_mac). The
// backends hold the VIP themselves (on their loopback, not answering ARP for it) and answer the
// clients directly: replies never cross the cube.
//
// Backend choice (the original's LB_HASHING_SESSION): a session is (source and destination
// address, source and destination port, protocol), ports 0 for ICMP echo; a new session takes
// backend number jhash(session) % pool size, where the pool is the backends in the order of their
// ids; the choice is kept in an LRU table of sessions, so a session stays on its backend while the
// pool changes. The control plane (index.ts) removes the sessions of a backend that leaves the
// pool. balance.ts computes the same choice in TypeScript.
//
// Frames from the BACKEND port, frames not addressed to the cube's MAC, non-IPv4, IPv4 other than
// TCP, UDP and ICMP echo request/reply, and IP fragments other than the first are dropped.
#include <polycube.h>
#include <linux/in.h>

#define NO_PORT 0xffffffff
#define MAX_BACKENDS 256
#define SESSIONS 10000

#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

/* Shared with tables.ts. */
struct dsr_conf {
  __u32 frontend; /* port ids, NO_PORT when there is none */
  __u32 backend;
  __u32 vip;      /* network order; 0: not set */
  __u32 backends; /* entries of dsr_backends in use */
  __u8 mac[6];    /* the frontend MAC; all zero: not set */
  __u8 lb_mac[6]; /* source MAC of the frames sent to the backends */
};

struct dsr_backend {
  __u8 mac[6];
  __u16 pad;
};

/* The session as the original hashes it: 16 bytes, the padding zero. */
struct session_key {
  __u32 saddr;
  __u32 daddr;
  __u16 sport;
  __u16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct session {
  __u8 mac[6]; /* the backend this session goes to */
  __u16 pad;
};

/* Ethernet/IPv4 ARP. */
struct arp_eth {
  __be16 htype;
  __be16 ptype;
  __u8 hlen;
  __u8 plen;
  __be16 op;
  __u8 sha[6];
  __u8 spa[4];
  __u8 tha[6];
  __u8 tpa[4];
} __attribute__((packed));

PCN_ARRAY(dsr_config, struct dsr_conf, 1);

/* The pool, in the order of the backends' ids. */
PCN_ARRAY(dsr_backends, struct dsr_backend, MAX_BACKENDS);

PCN_LRU_HASH(dsr_sessions, struct session_key, struct session, SESSIONS);

static __always_inline __u32 rol32(__u32 w, __u32 s) {
  return (w << s) | (w >> (32 - s));
}

/* Bob Jenkins' lookup3 hash of the 16-byte session key, as the kernel's jhash(key, 16,
 * JHASH_INITVAL) computes it on a little-endian host: one round of mixing over the first 12
 * bytes, the last 4 in the final. */
static __always_inline __u32 session_hash(const struct session_key *k) {
  const __u32 init = 0xdeadbeef + 16 + 0xdeadbeef;
  __u32 w[4];
  __builtin_memcpy(w, k, sizeof(w));
  __u32 a = init + w[0], b = init + w[1], c = init + w[2];
  a -= c; a ^= rol32(c, 4);  c += b;
  b -= a; b ^= rol32(a, 6);  a += c;
  c -= b; c ^= rol32(b, 8);  b += a;
  a -= c; a ^= rol32(c, 16); c += b;
  b -= a; b ^= rol32(a, 19); a += c;
  c -= b; c ^= rol32(b, 4);  b += a;
  a += w[3];
  c ^= b; c -= rol32(b, 14);
  a ^= c; a -= rol32(c, 11);
  b ^= a; b -= rol32(a, 25);
  c ^= b; c -= rol32(b, 16);
  a ^= c; a -= rol32(c, 4);
  b ^= a; b -= rol32(a, 14);
  c ^= b; c -= rol32(b, 24);
  return c;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b) {
  return *(const __u32 *)a == *(const __u32 *)b && *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline int mac_zero(const __u8 *a) {
  return *(const __u32 *)a == 0 && *(const __u16 *)(a + 4) == 0;
}

/* The backend of a session: the one it has, or a new choice, remembered. 0 when the pool is empty. */
static __always_inline const __u8 *backend_of(CTXTYPE *ctx, struct dsr_conf *conf, struct session_key *key) {
  struct session *s = bpf_map_lookup_elem(&dsr_sessions, key);
  if (s) return s->mac;
  __u32 n = conf->backends;
  if (n == 0 || n > MAX_BACKENDS) return 0;
  __u32 idx = session_hash(key) % n;
  struct dsr_backend *be = bpf_map_lookup_elem(&dsr_backends, &idx);
  if (!be || mac_zero(be->mac)) return 0;
  struct session fresh = {};
  __builtin_memcpy(fresh.mac, be->mac, 6);
  bpf_map_update_elem(&dsr_sessions, key, &fresh, BPF_NOEXIST);
  pcn_log(ctx, LOG_TRACE, "new session from %I:%P to backend %u (%M)", key->saddr, key->sport, idx, pcn_mac_u64(be->mac));
  return be->mac;
}

/* An ARP request for the VIP on the FRONTEND port: answered there, with the frontend MAC. */
static __always_inline int arp_request(CTXTYPE *ctx, struct pkt_metadata *md, struct dsr_conf *conf, struct ethhdr *eth, void *data_end) {
  struct arp_eth *arp = (void *)(eth + 1);
  if ((void *)(arp + 1) > data_end) return pcn_pkt_drop(ctx, md);
  if (arp->op != bpf_htons(ARPOP_REQUEST) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != 6 || arp->plen != 4)
    return pcn_pkt_drop(ctx, md);
  __u32 target;
  __builtin_memcpy(&target, arp->tpa, 4);
  if (target != conf->vip) return pcn_pkt_drop(ctx, md);
  pcn_log(ctx, LOG_DEBUG, "ARP request for the VIP %I from %M: answered", target, pcn_mac_u64(arp->sha));
  __builtin_memcpy(arp->tha, arp->sha, 6);
  __builtin_memcpy(arp->tpa, arp->spa, 4);
  __builtin_memcpy(arp->sha, conf->mac, 6);
  __builtin_memcpy(arp->spa, &target, 4);
  arp->op = bpf_htons(ARPOP_REPLY);
  __builtin_memcpy(eth->h_dest, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, conf->mac, 6);
  return pcn_pkt_redirect(ctx, md, conf->frontend);
}

static __always_inline int request(CTXTYPE *ctx, struct pkt_metadata *md, struct dsr_conf *conf, struct ethhdr *eth, void *data_end) {
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > data_end) return pcn_pkt_drop(ctx, md);
  if (!mac_eq(eth->h_dest, conf->mac) || ip->ihl < 5) return pcn_pkt_drop(ctx, md);
  if (ip->frag_off & bpf_htons(0x1fff)) return pcn_pkt_drop(ctx, md);
  struct session_key key = {.saddr = ip->saddr, .daddr = ip->daddr, .proto = ip->protocol};
  void *l4 = (void *)ip + ip->ihl * 4;
  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    __u16 *ports = l4;
    if ((void *)(ports + 2) > data_end) return pcn_pkt_drop(ctx, md);
    key.sport = ports[0];
    key.dport = ports[1];
  } else if (ip->protocol == IPPROTO_ICMP) {
    __u8 *type = l4;
    if ((void *)(type + 1) > data_end) return pcn_pkt_drop(ctx, md);
    if (*type != ICMP_ECHO && *type != ICMP_ECHOREPLY) return pcn_pkt_drop(ctx, md);
  } else {
    return pcn_pkt_drop(ctx, md);
  }
  const __u8 *mac = backend_of(ctx, conf, &key);
  if (!mac) {
    pcn_log(ctx, LOG_TRACE, "no backend for %I: dropped", key.daddr);
    return pcn_pkt_drop(ctx, md);
  }
  __builtin_memcpy(eth->h_dest, mac, 6);
  __builtin_memcpy(eth->h_source, conf->lb_mac, 6);
  return pcn_pkt_redirect(ctx, md, conf->backend);
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);
  void *data_end = pcn_data_end(ctx);
  struct dsr_conf *conf = pcn_lookup0(&dsr_config);
  /* Only the FRONTEND port takes traffic, and only once the VIP and its MAC are set. */
  if (!conf || md->in_port != conf->frontend || conf->vip == 0 || mac_zero(conf->mac)) {
    pcn_log(ctx, LOG_TRACE, "dropped a frame from port %u", md->in_port);
    return pcn_pkt_drop(ctx, md);
  }
  if (eth->h_proto == bpf_htons(ETH_P_ARP)) return arp_request(ctx, md, conf, eth, data_end);
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return request(ctx, md, conf, eth, data_end);
  return pcn_pkt_drop(ctx, md);
}
