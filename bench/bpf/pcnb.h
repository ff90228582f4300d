// Shared by the benchmark's own programs.
#pragma once
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* A map of one slot (key 0) holding a vtype: configuration or counters. */
#define PCNB_ONE_SLOT_MAP(name, map_type, vtype) \
  struct {                                      \
    __uint(type, map_type);                     \
    __uint(max_entries, 1);                     \
    __type(key, __u32);                         \
    __type(value, vtype);                       \
  } name SEC(".maps")
