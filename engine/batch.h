/* engine/batch.h — the columnar layout of a micro-batch (internal).
 *
 * The public API sees rill_batch as opaque; the codec, the plan and the
 * operators read and write its columns directly, which is what keeps the
 * per-event path free of calls and allocations. A batch owns one byte arena
 * that holds every variable-length item (key bytes, ids, strings, lists);
 * rows refer to it by rill_span, so growing the arena never invalidates them.
 *
 * Keys are stored in a canonical byte form so that an integer key and a
 * string key never compare equal and both hash alike:
 *   'i' + 8 bytes big-endian of (value XOR sign bit)   (sorts like the integer)
 *   's' + the string bytes
 */
#ifndef RILL_ENGINE_BATCH_H
#define RILL_ENGINE_BATCH_H

#include "rill/types.h"

typedef struct rill_span { uint32_t off, len; } rill_span;

typedef struct rill_column {
    rill_type type;
    union {
        double *f64;
        int64_t *i64;
        uint8_t *b;
        rill_span *span; /* RILL_STRING, RILL_F64_LIST */
        void *raw;
    } data;
    uint8_t *valid; /* one byte per row: 1 = present, 0 = null */
    /* RILL_STRING, RILL_F64_LIST: where the spans point, as the address of
     * the owning batch's arena pointer (so it follows the arena as it
     * grows); lets a reader holding only the column reach the bytes. */
    char *const *arena;
} rill_column;

struct rill_batch {
    rill_schema *schema; /* own copy */
    size_t len, cap;
    int64_t *ts;
    uint64_t *key_hash;
    rill_span *key;      /* canonical key bytes in arena */
    rill_span *id;       /* canonical id bytes (same form as keys); len 0 = none */
    rill_column *cols;   /* one per schema field */
    char *arena;
    size_t arena_len, arena_cap;
    /* Only in operator output batches (NULL otherwise). */
    int64_t *win_start, *win_end;
    uint8_t *flags;      /* RILL_RECORD_* */
};

#define RILL_KEY_TAG_INT 'i'
#define RILL_KEY_TAG_STR 's'
#define RILL_KEY_ENC_MAX (RILL_KEY_MAX + 1)

/* Hash of canonical key bytes (xxHash3, 64 bits). */
uint64_t rill__key_hash(const void *bytes, size_t len);

/* Canonical bytes of a key value into buf (RILL_KEY_ENC_MAX bytes).
 * Returns the length, or 0 when v is not an i64 or a string of at most
 * RILL_KEY_MAX bytes. */
size_t rill__key_encode(rill_value v, unsigned char *buf);

/* The value of canonical key bytes (strings point into bytes). */
rill_value rill__key_decode(const void *bytes, size_t len);

static inline const char *rill__batch_bytes(const rill_batch *b, rill_span s) {
    return b->arena + s.off;
}

/* Make room for at least n more rows; RILL_ENOMEM leaves the batch as it was. */
int rill__batch_reserve(rill_batch *b, size_t n);

/* Copy len bytes into the arena; *out says where. RILL_ENOMEM on failure. */
int rill__batch_arena_put(rill_batch *b, const void *p, size_t len, rill_span *out);

/* Append a row whose key is given in canonical form (with its hash).
 * Every field starts null. */
int rill__batch_append_raw(rill_batch *b, int64_t ts, const void *key, size_t klen,
                           uint64_t hash);

/* Drop the last row (used by the decoder when an event turns out bad
 * half-way through; its arena bytes stay until the batch is cleared). */
void rill__batch_pop(rill_batch *b);

/* A batch for operator output rows: it also has window start/end and flags. */
rill_batch *rill__batch_new_output(const rill_schema *s, size_t capacity);

/* Duplicate a schema (NULL on allocation failure). */
rill_schema *rill__schema_dup(const rill_schema *s);

#endif
