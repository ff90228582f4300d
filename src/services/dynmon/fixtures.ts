// Code and configurations for dynmon's tests.

/**
 * The original's example monitor, as its repository has it (polycube-network/polycube,
 * src/services/pcn-dynmon/examples/packet_counter.json): counts the packets of the INGRESS
 * direction in a one-entry BPF_ARRAY. Kept unchanged, as a check that the original's examples
 * load as they are (dataplane-config body, BCC dialect, "type": "counter", "egress-path": {}).
 */
export const ORIGINAL_PACKET_COUNTER = {
  "ingress-path": {
    name: "Packets counter probe",
    code: '\r\n BPF_ARRAY(PKT_COUNTER, uint64_t, 1);\r\n static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {\r\n unsigned int key = 0;\r\n uint64_t *pkt_counter = PKT_COUNTER.lookup(&key);\r\n if (!pkt_counter){\r\n    /*counter map not found !? */\r\n    return RX_OK;\r\n }\r\n *pkt_counter+=1;\r\n pcn_log(ctx, LOG_TRACE, "counter: %d", *pkt_counter);\r\n return RX_OK;\r\n }',
    "metric-configs": [
      {
        name: "packets_total",
        "map-name": "PKT_COUNTER",
        "open-metrics-metadata": {
          help: "This metric represents the number of packets that has traveled trough this probe.",
          type: "counter",
          labels: [],
        },
      },
    ],
  },
  "egress-path": {},
};

/**
 * ICMP echo requests per source address (a hash keyed by a packed struct), all IPv4 packets in
 * a per-CPU array, and the lengths of the last packets in a queue; BCC's dialect throughout:
 * <uapi/...> includes, a packed struct with bit fields, method calls.
 */
export const ICMP_MONITOR = `
#include <uapi/linux/ip.h>
#include <uapi/linux/icmp.h>

#define PROTO_ICMP 1

struct eth_hdr {
  __be64 dst : 48;
  __be64 src : 48;
  __be16 proto;
} __attribute__((packed));

struct src_key {
  __be32 saddr;
  u8 type;
  u8 pad[3];
};

struct pkt_info {
  u32 len;
  u16 proto;
  u8 ttl;
  char tag[4];
};

BPF_HASH(ECHO_BY_SOURCE, struct src_key, u64, 64);
BPF_PERCPU_ARRAY(IPV4_PACKETS, u64, 1);
BPF_QUEUE(LAST_PACKETS, struct pkt_info, 16);

static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct eth_hdr *eth = data;
  if (data + sizeof(*eth) > data_end || eth->proto != bpf_htons(ETH_P_IP))
    return RX_OK;
  struct iphdr *ip = data + sizeof(*eth);
  if ((void *)(ip + 1) > data_end)
    return RX_OK;
  int zero = 0;
  u64 *all = IPV4_PACKETS.lookup(&zero);
  if (all)
    *all += 1;
  struct pkt_info info = {.len = bpf_ntohs(ip->tot_len), .proto = ip->protocol, .ttl = ip->ttl, .tag = "ip"};
  LAST_PACKETS.push(&info, BPF_EXIST);
  if (ip->protocol != PROTO_ICMP)
    return RX_OK;
  struct icmphdr *icmp = (void *)(ip + 1);
  if ((void *)(icmp + 1) > data_end || icmp->type != ICMP_ECHO)
    return RX_OK;
  struct src_key key = {.saddr = ip->saddr, .type = icmp->type};
  ECHO_BY_SOURCE.increment(key);
  pcn_log(ctx, LOG_DEBUG, "echo request from %I", ip->saddr);
  return RX_OK;
}
`;

/** A counter of every packet in a BPF_TABLE array, for swap-on-read and replacement tests. */
export function counterCode(map = "COUNTER", step = 1): string {
  return `BPF_TABLE("array", int, u64, ${map}, 1);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {
  int k = 0;
  u64 *c = ${map}.lookup(&k);
  if (c) __sync_fetch_and_add(c, ${step});
  return RX_OK;
}`;
}
