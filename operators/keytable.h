/* operators/keytable.h — per-operator map from key bytes to per-key state.
 *
 * Open addressing with linear probing over a slot array that holds the
 * low 32 bits of each key's hash next to its entry index, so most probes never
 * touch an entry. Entries live in one array at stable indices (timers and
 * dirty lists refer to them by index), freed indices are reused, and each
 * entry carries the operator's fixed-size per-key value inline.
 * Keys up to 15 bytes are stored inline; longer ones are allocated.
 */
#ifndef RILL_OPERATORS_KEYTABLE_H
#define RILL_OPERATORS_KEYTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RILL_KT_NONE UINT32_MAX

typedef struct rill_kt_entry {
    uint64_t hash;
    uint32_t klen;
    uint16_t live;          /* 0 = free slot of the entry array */
    uint16_t used;          /* touched since the eviction clock last passed */
    union { unsigned char inl[16]; unsigned char *ptr; } k;
    /* the operator's value follows, 8-aligned */
} rill_kt_entry;

typedef struct rill_keytable {
    uint64_t *slots;   /* (uint32_t)hash << 32 | (index + 1); 0 = empty */
    size_t mask;       /* slots - 1 */
    size_t count;      /* live keys */
    char *entries;
    size_t entry_size; /* header + value, 8-aligned */
    size_t n_entries;  /* high-water mark of used indices */
    size_t entries_cap;
    uint32_t *free_list;
    size_t n_free, free_cap;
    size_t value_size;
} rill_keytable;

int rill__kt_init(rill_keytable *kt, size_t value_size);
void rill__kt_free(rill_keytable *kt); /* frees long keys; values are the caller's */

static inline rill_kt_entry *rill__kt_entry(const rill_keytable *kt, uint32_t i) {
    return (rill_kt_entry *)(void *)(kt->entries + (size_t)i * kt->entry_size);
}
static inline void *rill__kt_value(const rill_keytable *kt, uint32_t i) {
    return (char *)rill__kt_entry(kt, i) + sizeof(rill_kt_entry);
}
static inline const unsigned char *rill__kt_key(const rill_kt_entry *e) {
    return e->klen <= sizeof e->k.inl ? e->k.inl : e->k.ptr;
}

/* Prefetching for batch loops, where the next keys' hashes are known: the
 * slot of a hash (call some rows ahead), then, once that slot is likely in
 * cache, the entry it points to (call fewer rows ahead). Both are hints: no
 * effect on results. */
static inline void rill__kt_prefetch_slot(const rill_keytable *kt, uint64_t hash) {
    __builtin_prefetch(&kt->slots[hash & kt->mask]);
}
static inline const void *rill__kt_prefetch_entry(const rill_keytable *kt, uint64_t hash) {
    uint64_t s = kt->slots[hash & kt->mask];
    if (!s || (s >> 32) != (uint32_t)hash) return NULL;
    const char *e = kt->entries + (size_t)((uint32_t)s - 1u) * kt->entry_size;
    __builtin_prefetch(e);
    __builtin_prefetch(e + 64);
    return e;
}

/* Index of key, or RILL_KT_NONE. */
uint32_t rill__kt_find(const rill_keytable *kt, const void *key, size_t klen, uint64_t hash);

/* Index of key, inserting it (value zeroed, *created = true) when absent.
 * RILL_KT_NONE on allocation failure (nothing changed). Entry pointers from
 * before the call may move; indices never do. */
uint32_t rill__kt_upsert(rill_keytable *kt, const void *key, size_t klen, uint64_t hash,
                         bool *created);

/* Remove the key at index i (its value must already be released). */
void rill__kt_remove(rill_keytable *kt, uint32_t i);

#endif
