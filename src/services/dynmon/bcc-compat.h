// What dynmon's run-time code sees besides bpf/polycube.h: the names BCC gave the code that the
// original's dynmon compiled (its integer types, `struct CTXTYPE`), and the map methods
// (`MAP.lookup(&k)`...) as macros. BCC's map declarations (BPF_ARRAY, BPF_TABLE...) and method
// calls are not C: rewrite.ts turns each declaration into a libbpf map definition and each call
// `MAP.method(args)` into `dynmon_method(VAR, PTR, args)`, VAR being the map's variable (whose
// types the macros read with typeof) and PTR the map to use (the active copy of a swap-on-read
// map). This header is embedded in the executable and written beside polycube.h for clang.
#pragma once
#define PCN_TRANSPARENT
#include <polycube.h>
#include <stdbool.h>
#include <stddef.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s8 s8;
typedef __s16 s16;
typedef __s32 s32;
typedef __s64 s64;
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
typedef __s8 int8_t;
typedef __s16 int16_t;
typedef __s32 int32_t;
typedef __s64 int64_t;

#define dynmon_lookup(V, P, k) ((typeof((V).value))bpf_map_lookup_elem((P), (k)))
#define dynmon_update(V, P, k, v) bpf_map_update_elem((P), (k), (v), BPF_ANY)
#define dynmon_insert(V, P, k, v) bpf_map_update_elem((P), (k), (v), BPF_NOEXIST)
#define dynmon_delete(V, P, k) bpf_map_delete_elem((P), (k))
#define dynmon_lookup_or_try_init(V, P, k, init)                            \
  ({                                                                      \
    typeof((V).value) ___v = dynmon_lookup(V, P, k);                      \
    if (!___v) {                                                          \
      bpf_map_update_elem((P), (k), (init), BPF_NOEXIST);                 \
      ___v = dynmon_lookup(V, P, k);                                      \
    }                                                                     \
    ___v;                                                                 \
  })
#define dynmon_lookup_or_init dynmon_lookup_or_try_init
/* increment(key) and increment(key, n): the key by value, as BCC takes it. */
#define dynmon_increment(V, P, ...) dynmon_increment_by(V, P, __VA_ARGS__, 1, 0)
#define dynmon_increment_by(V, P, k, n, ...)                               \
  ({                                                                      \
    typeof(*(V).key) ___k = (k);                                          \
    typeof(*(V).value) ___zero;                                           \
    __builtin_memset(&___zero, 0, sizeof(___zero));                       \
    typeof((V).value) ___c = dynmon_lookup_or_try_init(V, P, &___k, &___zero); \
    if (___c) __sync_fetch_and_add(___c, (n));                            \
  })
#define dynmon_atomic_increment dynmon_increment
#define dynmon_push(V, P, v, flags) bpf_map_push_elem((P), (v), (flags))
#define dynmon_pop(V, P, v) bpf_map_pop_elem((P), (v))
#define dynmon_peek(V, P, v) bpf_map_peek_elem((P), (v))

/* Swap-on-read maps have two copies; slot `slot` of the path's swap map says which one the
 * datapath uses now (the control plane flips it before reading the other). */
static __always_inline void *dynmon_swap_ptr(void *swap, __u32 slot, void *copy0, void *copy1) {
  __u32 *active = bpf_map_lookup_elem(swap, &slot);
  return active && *active ? copy1 : copy0;
}
