/* operators/keytable.c — the per-operator key map (see keytable.h).
 *
 * Deletion uses backward-shift (no tombstones), which keeps probe sequences
 * short however many keys come and go, as they do when windows close.
 */
#include <stdlib.h>
#include <string.h>

#include "operators/keytable.h"
#include "rill/error.h"

/* A slot is (low 32 bits of the hash) << 32 | (index + 1). The home slot
 * is hash & mask, bits the tag holds too, so moving or rehashing a slot
 * needs no visit to its entry (a cache miss per slot at millions of keys);
 * the tag bits above the mask still tell most probe-run neighbours apart. */
#define SLOT_INDEX(s) ((uint32_t)((s) & 0xffffffffu) - 1u)
#define SLOT_TAG(s) ((s) >> 32)
#define HASH_TAG(h) ((uint64_t)(uint32_t)(h))

int rill__kt_init(rill_keytable *kt, size_t value_size) {
    memset(kt, 0, sizeof *kt);
    kt->value_size = value_size;
    kt->entry_size = (sizeof(rill_kt_entry) + value_size + 7) & ~(size_t)7;
    kt->slots = calloc(64, sizeof *kt->slots);
    if (!kt->slots) return RILL_ENOMEM;
    kt->mask = 63;
    return RILL_OK;
}

void rill__kt_free(rill_keytable *kt) {
    for (size_t i = 0; i < kt->n_entries; i++) {
        rill_kt_entry *e = rill__kt_entry(kt, (uint32_t)i);
        if (e->live && e->klen > sizeof e->k.inl) free(e->k.ptr);
    }
    free(kt->slots);
    free(kt->entries);
    free(kt->free_list);
    memset(kt, 0, sizeof *kt);
}

static bool key_eq(const rill_kt_entry *e, const void *key, size_t klen, uint64_t hash) {
    return e->hash == hash && e->klen == klen && !memcmp(rill__kt_key(e), key, klen);
}

uint32_t rill__kt_find(const rill_keytable *kt, const void *key, size_t klen, uint64_t hash) {
    uint64_t tag = HASH_TAG(hash);
    for (size_t pos = hash & kt->mask;; pos = (pos + 1) & kt->mask) {
        uint64_t s = kt->slots[pos];
        if (!s) return RILL_KT_NONE;
        if (SLOT_TAG(s) == tag) {
            uint32_t i = SLOT_INDEX(s);
            if (key_eq(rill__kt_entry(kt, i), key, klen, hash)) return i;
        }
    }
}

static void slot_insert(uint64_t *slots, size_t mask, uint64_t hash, uint32_t idx) {
    size_t pos = hash & mask;
    while (slots[pos]) pos = (pos + 1) & mask;
    slots[pos] = HASH_TAG(hash) << 32 | ((uint64_t)idx + 1);
}

static int grow_slots(rill_keytable *kt) {
    size_t cap = (kt->mask + 1) * 2;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return RILL_ENOMEM;
    for (size_t i = 0; i <= kt->mask; i++) {
        uint64_t s = kt->slots[i];
        if (s) slot_insert(slots, cap - 1, SLOT_TAG(s), SLOT_INDEX(s));
    }
    free(kt->slots);
    kt->slots = slots;
    kt->mask = cap - 1;
    return RILL_OK;
}

uint32_t rill__kt_upsert(rill_keytable *kt, const void *key, size_t klen, uint64_t hash,
                         bool *created) {
    *created = false;
    uint32_t found = rill__kt_find(kt, key, klen, hash);
    if (found != RILL_KT_NONE) {
        rill__kt_entry(kt, found)->used = 1;
        return found;
    }
    /* keep the load factor under 1/2 */
    if ((kt->count + 1) * 2 > kt->mask + 1 && grow_slots(kt) != RILL_OK) return RILL_KT_NONE;
    uint32_t idx;
    if (kt->n_free) {
        idx = kt->free_list[kt->n_free - 1];
    } else {
        if (kt->n_entries >= UINT32_MAX - 1) return RILL_KT_NONE;
        if (kt->n_entries == kt->entries_cap) {
            size_t cap = kt->entries_cap ? kt->entries_cap * 2 : 64;
            char *q = realloc(kt->entries, cap * kt->entry_size);
            if (!q) return RILL_KT_NONE;
            kt->entries = q;
            kt->entries_cap = cap;
        }
        idx = (uint32_t)kt->n_entries;
    }
    rill_kt_entry *e = rill__kt_entry(kt, idx);
    memset(e, 0, kt->entry_size);
    if (klen > sizeof e->k.inl) {
        e->k.ptr = malloc(klen);
        if (!e->k.ptr) return RILL_KT_NONE;
        memcpy(e->k.ptr, key, klen);
    } else {
        memcpy(e->k.inl, key, klen);
    }
    e->hash = hash;
    e->klen = (uint32_t)klen;
    e->live = 1;
    e->used = 1;
    if (kt->n_free) kt->n_free--;
    else kt->n_entries++;
    slot_insert(kt->slots, kt->mask, hash, idx);
    kt->count++;
    *created = true;
    return idx;
}

void rill__kt_remove(rill_keytable *kt, uint32_t idx) {
    rill_kt_entry *e = rill__kt_entry(kt, idx);
    size_t pos = e->hash & kt->mask;
    while (SLOT_INDEX(kt->slots[pos]) != idx) pos = (pos + 1) & kt->mask;
    /* backward-shift: pull later members of the probe run into the hole */
    size_t hole = pos;
    for (size_t j = (hole + 1) & kt->mask; kt->slots[j]; j = (j + 1) & kt->mask) {
        size_t home = SLOT_TAG(kt->slots[j]) & kt->mask;
        /* move j into hole if its home is not in (hole, j] cyclically */
        bool in_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_between) {
            kt->slots[hole] = kt->slots[j];
            hole = j;
        }
    }
    kt->slots[hole] = 0;
    if (e->klen > sizeof e->k.inl) free(e->k.ptr);
    e->live = 0;
    kt->count--;
    /* The free list grows to at most n_entries; a failed grow just leaks the
     * index (never reused), which is harmless. */
    if (kt->n_free == kt->free_cap) {
        size_t cap = kt->free_cap ? kt->free_cap * 2 : 64;
        uint32_t *q = realloc(kt->free_list, cap * sizeof *q);
        if (!q) return;
        kt->free_list = q;
        kt->free_cap = cap;
    }
    kt->free_list[kt->n_free++] = idx;
}
