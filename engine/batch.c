/* engine/batch.c — columnar micro-batches.
 *
 * Rows are appended one at a time (by a producer, the decoder or an
 * operator) into parallel arrays that grow by doubling; all variable-length
 * bytes go into one arena referenced by offset, so nothing per row is
 * allocated and growing never invalidates what was handed out before.
 * Keys are stored in their canonical byte form (see batch.h) with their
 * hash computed once at append, which is what every keyed operator needs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/batch.h"
#include "rill/error.h"

uint64_t rill__key_hash(const void *bytes, size_t len) { return XXH3_64bits(bytes, len); }

size_t rill__key_encode(rill_value v, unsigned char *buf) {
    if (v.type == RILL_I64) {
        uint64_t u = (uint64_t)v.as.i64 ^ (UINT64_C(1) << 63);
        buf[0] = RILL_KEY_TAG_INT;
        for (int i = 0; i < 8; i++) buf[1 + i] = (unsigned char)(u >> (56 - 8 * i));
        return 9;
    }
    if (v.type == RILL_STRING && v.as.str.len <= RILL_KEY_MAX && (v.as.str.ptr || !v.as.str.len)) {
        buf[0] = RILL_KEY_TAG_STR;
        if (v.as.str.len) memcpy(buf + 1, v.as.str.ptr, v.as.str.len);
        return 1 + v.as.str.len;
    }
    return 0;
}

rill_value rill__key_decode(const void *bytes, size_t len) {
    const unsigned char *p = bytes;
    if (len == 9 && p[0] == RILL_KEY_TAG_INT) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | p[1 + i];
        return rill_i64((int64_t)(u ^ (UINT64_C(1) << 63)));
    }
    if (len >= 1 && p[0] == RILL_KEY_TAG_STR) return rill_strn((const char *)p + 1, len - 1);
    return rill_null();
}

static size_t col_width(rill_type t) {
    switch (t) {
    case RILL_F64: return sizeof(double);
    case RILL_I64: return sizeof(int64_t);
    case RILL_BOOL: return 1;
    case RILL_STRING:
    case RILL_F64_LIST: return sizeof(rill_span);
    default: return 8;
    }
}

static rill_batch *batch_new(const rill_schema *s, size_t capacity, bool output) {
    rill_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->schema = rill__schema_dup(s);
    if (!b->schema) goto fail;
    size_t nf = rill_schema_len(s);
    b->cols = calloc(nf ? nf : 1, sizeof *b->cols);
    if (!b->cols) goto fail;
    for (size_t i = 0; i < nf; i++) {
        b->cols[i].type = rill_schema_field(s, i)->type;
        b->cols[i].arena = &b->arena; /* aggregates read strings through it */
    }
    if (output) {
        /* Mark the output arrays as wanted; reserve allocates them. */
        b->win_start = malloc(sizeof(int64_t));
        b->win_end = malloc(sizeof(int64_t));
        b->flags = malloc(1);
        if (!b->win_start || !b->win_end || !b->flags) goto fail;
    }
    if (rill__batch_reserve(b, capacity ? capacity : 64) != RILL_OK) goto fail;
    return b;
fail:
    rill_batch_free(b);
    return NULL;
}

rill_batch *rill_batch_new(const rill_schema *s, size_t capacity) {
    return s ? batch_new(s, capacity, false) : NULL;
}

rill_batch *rill__batch_new_output(const rill_schema *s, size_t capacity) {
    return batch_new(s, capacity, true);
}

void rill_batch_free(rill_batch *b) {
    if (!b) return;
    if (b->cols && b->schema)
        for (size_t i = 0; i < rill_schema_len(b->schema); i++) {
            free(b->cols[i].data.raw);
            free(b->cols[i].valid);
        }
    free(b->cols);
    free(b->ts);
    free(b->key_hash);
    free(b->key);
    free(b->id);
    free(b->arena);
    free(b->win_start);
    free(b->win_end);
    free(b->flags);
    rill_schema_free(b->schema);
    free(b);
}

void rill_batch_clear(rill_batch *b) {
    b->len = 0;
    b->arena_len = 0;
}

size_t rill_batch_len(const rill_batch *b) { return b->len; }
const rill_schema *rill_batch_schema(const rill_batch *b) { return b->schema; }

/* realloc that leaves *p untouched on failure. */
static int grow(void *pp, size_t elem, size_t n) {
    void **p = pp;
    void *q = realloc(*p, elem * n);
    if (!q) return RILL_ENOMEM;
    *p = q;
    return RILL_OK;
}

int rill__batch_reserve(rill_batch *b, size_t n) {
    if (b->len + n <= b->cap && b->ts) return RILL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) cap *= 2;
    /* Each array grows independently; a failure part-way leaves some arrays
     * larger than cap, which is harmless: cap only moves when all succeeded. */
    if (grow(&b->ts, sizeof *b->ts, cap) || grow(&b->key_hash, sizeof *b->key_hash, cap) ||
        grow(&b->key, sizeof *b->key, cap) || grow(&b->id, sizeof *b->id, cap))
        return RILL_ENOMEM;
    if (b->win_start && (grow(&b->win_start, sizeof(int64_t), cap) ||
                         grow(&b->win_end, sizeof(int64_t), cap) || grow(&b->flags, 1, cap)))
        return RILL_ENOMEM;
    for (size_t i = 0; i < rill_schema_len(b->schema); i++) {
        rill_column *c = &b->cols[i];
        if (grow(&c->data.raw, col_width(c->type), cap) || grow(&c->valid, 1, cap))
            return RILL_ENOMEM;
    }
    b->cap = cap;
    return RILL_OK;
}

int rill__batch_arena_put(rill_batch *b, const void *p, size_t len, rill_span *out) {
    if (len > UINT32_MAX || b->arena_len + len > UINT32_MAX) return RILL_EFULL;
    if (b->arena_len + len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 1024;
        while (cap < b->arena_len + len) cap *= 2;
        char *q = realloc(b->arena, cap);
        if (!q) return RILL_ENOMEM;
        b->arena = q;
        b->arena_cap = cap;
    }
    if (len) memcpy(b->arena + b->arena_len, p, len);
    out->off = (uint32_t)b->arena_len;
    out->len = (uint32_t)len;
    b->arena_len += len;
    return RILL_OK;
}

int rill__batch_append_raw(rill_batch *b, int64_t ts, const void *key, size_t klen,
                           uint64_t hash) {
    int rc = rill__batch_reserve(b, 1);
    if (rc) return rc;
    size_t r = b->len;
    rc = rill__batch_arena_put(b, key, klen, &b->key[r]);
    if (rc) return rc;
    b->ts[r] = ts;
    b->key_hash[r] = hash;
    b->id[r] = (rill_span){ 0, 0 };
    if (b->win_start) {
        b->win_start[r] = b->win_end[r] = 0;
        b->flags[r] = 0;
    }
    for (size_t i = 0; i < rill_schema_len(b->schema); i++) b->cols[i].valid[r] = 0;
    b->len = r + 1;
    return RILL_OK;
}

void rill__batch_pop(rill_batch *b) {
    if (b->len) b->len--;
}

int rill_batch_append(rill_batch *b, int64_t ts, rill_value key) {
    unsigned char buf[RILL_KEY_ENC_MAX];
    size_t n = rill__key_encode(key, buf);
    if (!n) return RILL_EINVAL;
    return rill__batch_append_raw(b, ts, buf, n, rill__key_hash(buf, n));
}

int rill_batch_set(rill_batch *b, size_t field, rill_value v) {
    if (!b->len || field >= rill_schema_len(b->schema)) return RILL_EINVAL;
    size_t r = b->len - 1;
    rill_column *c = &b->cols[field];
    if (v.type == RILL_NULL) {
        c->valid[r] = 0;
        return RILL_OK;
    }
    switch (c->type) {
    case RILL_F64:
        if (v.type == RILL_I64) v = rill_f64((double)v.as.i64);
        if (v.type != RILL_F64) return RILL_EFIELD_TYPE;
        if (!isfinite(v.as.f64)) return RILL_EINVAL;
        c->data.f64[r] = v.as.f64;
        break;
    case RILL_I64:
        if (v.type != RILL_I64) return RILL_EFIELD_TYPE;
        c->data.i64[r] = v.as.i64;
        break;
    case RILL_BOOL:
        if (v.type != RILL_BOOL) return RILL_EFIELD_TYPE;
        c->data.b[r] = v.as.b;
        break;
    case RILL_STRING: {
        if (v.type != RILL_STRING) return RILL_EFIELD_TYPE;
        int rc = rill__batch_arena_put(b, v.as.str.ptr, v.as.str.len, &c->data.span[r]);
        if (rc) return rc;
        break;
    }
    case RILL_F64_LIST: {
        if (v.type != RILL_F64_LIST) return RILL_EFIELD_TYPE;
        /* Lists are read back as double*, so they start 8-aligned. */
        static const char pad[8];
        rill_span ignored;
        if (b->arena_len % 8 &&
            rill__batch_arena_put(b, pad, 8 - b->arena_len % 8, &ignored) != RILL_OK)
            return RILL_ENOMEM;
        int rc = rill__batch_arena_put(b, v.as.list.ptr, v.as.list.len * sizeof(double),
                                       &c->data.span[r]);
        if (rc) return rc;
        break;
    }
    default: return RILL_EFIELD_TYPE;
    }
    c->valid[r] = 1;
    return RILL_OK;
}

int rill_batch_set_f64(rill_batch *b, size_t field, double v) { return rill_batch_set(b, field, rill_f64(v)); }
int rill_batch_set_i64(rill_batch *b, size_t field, int64_t v) { return rill_batch_set(b, field, rill_i64(v)); }

int rill_batch_set_id(rill_batch *b, rill_value id) {
    if (!b->len) return RILL_EINVAL;
    unsigned char buf[RILL_KEY_ENC_MAX];
    size_t n = rill__key_encode(id, buf);
    if (!n) return RILL_EINVAL;
    return rill__batch_arena_put(b, buf, n, &b->id[b->len - 1]);
}

int64_t rill_batch_ts(const rill_batch *b, size_t row) { return b->ts[row]; }

rill_value rill_batch_key(const rill_batch *b, size_t row) {
    return rill__key_decode(rill__batch_bytes(b, b->key[row]), b->key[row].len);
}

rill_value rill_batch_id(const rill_batch *b, size_t row) {
    if (!b->id[row].len) return rill_null();
    return rill__key_decode(rill__batch_bytes(b, b->id[row]), b->id[row].len);
}

rill_value rill_batch_get(const rill_batch *b, size_t row, size_t field) {
    if (row >= b->len || field >= rill_schema_len(b->schema)) return rill_null();
    const rill_column *c = &b->cols[field];
    if (!c->valid[row]) return rill_null();
    switch (c->type) {
    case RILL_F64: return rill_f64(c->data.f64[row]);
    case RILL_I64: return rill_i64(c->data.i64[row]);
    case RILL_BOOL: return rill_bool(c->data.b[row]);
    case RILL_STRING: return rill_strn(rill__batch_bytes(b, c->data.span[row]), c->data.span[row].len);
    case RILL_F64_LIST: {
        rill_value v = { .type = RILL_F64_LIST };
        v.as.list.ptr = (const double *)(const void *)rill__batch_bytes(b, c->data.span[row]);
        v.as.list.len = c->data.span[row].len / sizeof(double);
        return v;
    }
    default: return rill_null();
    }
}
