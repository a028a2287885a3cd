/* engine/codec_decode.c — msgpack events decoded straight into batch columns.
 *
 * The idea: one pass over the message with a hand-rolled, bounds-checked
 * msgpack reader. Each event map is read entry by entry; names are looked up
 * first by position (producers send their fields in the same order every
 * time, so "the entry at position p was field f last time" is nearly always
 * right and costs one masked 8-byte compare) and otherwise in a small
 * open-addressing hash table. Values are checked and parked in per-field scratch slots (strings
 * stay pointers into the message); only when the whole event is known good
 * is a row appended and the parked values written to the columns. A bad
 * event therefore never touches the batch, and nothing is allocated per
 * event: the scratch belongs to the decoder.
 *
 * Recovery: after a bad value whose structure is intact (wrong type, missing
 * ts, ...) the rest of the event is skipped item by item — an iterative skip
 * with a count of pending items, no recursion, so nesting depth cannot blow
 * the stack — and the next event of the array is decoded. The never-used
 * byte 0xc1 counts as a one-byte item, so it rejects its event only. When
 * the bytes run out, the event's end cannot be found: the events before it
 * stay and the rest of the message is one dead letter.
 *
 * Not done here: timestamps for processing time (the caller stamps the ts
 * column), watermarks, acknowledgements. Floats are never accepted for ts
 * or i64 fields, even whole ones: integers go where integers belong.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/codec.h"
#include "rill/error.h"

/* The key hash is xxHash3 (engine/batch.h); inlined here it costs a third
 * of a call into the shared library for a ten-byte key. Same function, same
 * values as rill__key_hash() — test_codec checks that. */
#define XXH_INLINE_ALL
#include <xxhash.h>

const char *rill_dead_reason_name(rill_dead_reason r) {
    switch (r) {
#define RILL__DEAD_NAME(name, str) case RILL_DEAD_##name: return str;
        RILL_DEAD_REASON_MAP(RILL__DEAD_NAME)
#undef RILL__DEAD_NAME
    default: return "unknown";
    }
}

/* ---- the reader ------------------------------------------------------------ */

typedef enum mtype {
    M_NIL, M_BOOL,
    M_INT,  /* any integer that fits int64 (v.i) */
    M_UBIG, /* an unsigned integer above INT64_MAX (v.u) */
    M_FLOAT, /* float32 or float64, widened (v.f) */
    M_STR, M_BIN, M_EXT,
    M_ARRAY, M_MAP, /* header only: v.n children (maps: n pairs) follow */
    M_INVALID,      /* 0xc1, consumed as one byte */
} mtype;

typedef struct mval {
    mtype t;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        struct { const uint8_t *p; size_t n; } s; /* str, bin, ext payload */
        uint32_t n;
    } v;
} mval;

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

static inline bool has(const reader *r, size_t n) { return (size_t)(r->end - r->p) >= n; }

/* Read one value (a container's header only). Returns false, with r->p
 * unchanged, when the bytes end inside it. Inlined: it is most of the work
 * per entry, and the common one-byte cases then cost a compare or two. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool rd_value(reader *r, mval *v) {
    const uint8_t *p = r->p;
    if (p == r->end) return false;
    uint8_t c = *p;
    size_t hdr, n;
    if (c <= 0x7f) { v->t = M_INT; v->v.i = c; r->p = p + 1; return true; }
    if (c >= 0xe0) { v->t = M_INT; v->v.i = (int8_t)c; r->p = p + 1; return true; }
    if (c >= 0xa0 && c <= 0xbf) { hdr = 1; n = c & 0x1f; v->t = M_STR; goto payload; }
    if (c >= 0x80 && c <= 0x8f) { v->t = M_MAP; v->v.n = c & 0x0f; r->p = p + 1; return true; }
    if (c >= 0x90 && c <= 0x9f) { v->t = M_ARRAY; v->v.n = c & 0x0f; r->p = p + 1; return true; }
    switch (c) {
    case 0xc0: v->t = M_NIL; r->p = p + 1; return true;
    case 0xc2: case 0xc3: v->t = M_BOOL; v->v.b = c == 0xc3; r->p = p + 1; return true;
    case 0xc4: case 0xd9: /* bin8, str8 */
        if (!has(r, 2)) return false;
        hdr = 2; n = p[1]; v->t = c == 0xc4 ? M_BIN : M_STR; goto payload;
    case 0xc5: case 0xda:
        if (!has(r, 3)) return false;
        hdr = 3; n = be16(p + 1); v->t = c == 0xc5 ? M_BIN : M_STR; goto payload;
    case 0xc6: case 0xdb:
        if (!has(r, 5)) return false;
        hdr = 5; n = be32(p + 1); v->t = c == 0xc6 ? M_BIN : M_STR; goto payload;
    case 0xc7: /* ext8: size, type, data */
        if (!has(r, 3)) return false;
        hdr = 3; n = p[1]; v->t = M_EXT; goto payload;
    case 0xc8:
        if (!has(r, 4)) return false;
        hdr = 4; n = be16(p + 1); v->t = M_EXT; goto payload;
    case 0xc9:
        if (!has(r, 6)) return false;
        hdr = 6; n = be32(p + 1); v->t = M_EXT; goto payload;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16 */
        hdr = 2; n = (size_t)1 << (c - 0xd4); v->t = M_EXT; goto payload;
    case 0xca: {
        if (!has(r, 5)) return false;
        uint32_t u = be32(p + 1);
        float f;
        memcpy(&f, &u, sizeof f);
        v->t = M_FLOAT; v->v.f = f; r->p = p + 5; return true;
    }
    case 0xcb: {
        if (!has(r, 9)) return false;
        uint64_t u = be64(p + 1);
        double f;
        memcpy(&f, &u, sizeof f);
        v->t = M_FLOAT; v->v.f = f; r->p = p + 9; return true;
    }
    case 0xcc: if (!has(r, 2)) return false; v->t = M_INT; v->v.i = p[1]; r->p = p + 2; return true;
    case 0xcd: if (!has(r, 3)) return false; v->t = M_INT; v->v.i = be16(p + 1); r->p = p + 3; return true;
    case 0xce: if (!has(r, 5)) return false; v->t = M_INT; v->v.i = be32(p + 1); r->p = p + 5; return true;
    case 0xcf: {
        if (!has(r, 9)) return false;
        uint64_t u = be64(p + 1);
        if (u > INT64_MAX) { v->t = M_UBIG; v->v.u = u; }
        else { v->t = M_INT; v->v.i = (int64_t)u; }
        r->p = p + 9;
        return true;
    }
    case 0xd0: if (!has(r, 2)) return false; v->t = M_INT; v->v.i = (int8_t)p[1]; r->p = p + 2; return true;
    case 0xd1: if (!has(r, 3)) return false; v->t = M_INT; v->v.i = (int16_t)be16(p + 1); r->p = p + 3; return true;
    case 0xd2: if (!has(r, 5)) return false; v->t = M_INT; v->v.i = (int32_t)be32(p + 1); r->p = p + 5; return true;
    case 0xd3: if (!has(r, 9)) return false; v->t = M_INT; v->v.i = (int64_t)be64(p + 1); r->p = p + 9; return true;
    case 0xdc: if (!has(r, 3)) return false; v->t = M_ARRAY; v->v.n = be16(p + 1); r->p = p + 3; return true;
    case 0xdd: if (!has(r, 5)) return false; v->t = M_ARRAY; v->v.n = be32(p + 1); r->p = p + 5; return true;
    case 0xde: if (!has(r, 3)) return false; v->t = M_MAP; v->v.n = be16(p + 1); r->p = p + 3; return true;
    case 0xdf: if (!has(r, 5)) return false; v->t = M_MAP; v->v.n = be32(p + 1); r->p = p + 5; return true;
    default: /* 0xc1 */
        v->t = M_INVALID; r->p = p + 1; return true;
    }
payload:
    /* ext carries one type byte between its length and its data */
    if (v->t == M_EXT && c >= 0xd4 && c <= 0xd8) hdr = 2;
    if ((size_t)(r->end - p) < hdr || (size_t)(r->end - p) - hdr < n) return false;
    v->v.s.p = p + hdr;
    v->v.s.n = n;
    r->p = p + hdr + n;
    return true;
}

/* Children of a container header that still have to be read. */
static inline uint64_t children(const mval *v) {
    return v->t == M_ARRAY ? v->v.n : v->t == M_MAP ? 2 * (uint64_t)v->v.n : 0;
}

/* Skip n items (with everything they contain). Sets *invalid if a 0xc1 byte
 * was among them. Returns false when the bytes end first. */
static bool skip(reader *r, uint64_t n, bool *invalid) {
    while (n) {
        /* Every item takes at least one byte: more pending items than bytes
         * left means truncation, and keeps n far from overflowing. */
        if (n > (uint64_t)(r->end - r->p)) return false;
        mval v;
        if (!rd_value(r, &v)) return false;
        n = n - 1 + children(&v);
        if (v.t == M_INVALID) *invalid = true;
    }
    return true;
}

static const char *mtype_name(mtype t) {
    switch (t) {
    case M_NIL: return "nil";
    case M_BOOL: return "bool";
    case M_INT: return "integer";
    case M_UBIG: return "integer";
    case M_FLOAT: return "float";
    case M_STR: return "string";
    case M_BIN: return "bin";
    case M_EXT: return "ext";
    case M_ARRAY: return "array";
    case M_MAP: return "map";
    default: return "invalid byte";
    }
}

/* ---- the decoder ----------------------------------------------------------- */

enum { PRED_MAX = 32 }; /* map positions whose field is predicted */

typedef struct entry {
    const char *name;
    uint32_t len;
    uint32_t hash;
    /* names of at most 8 bytes: their bytes zero-padded, and a mask with
     * 0xff over them, for a compare with one 8-byte load */
    uint64_t word, mask;
} entry;

typedef union slot_val {
    double f;
    int64_t i;
    bool b;
    struct { const uint8_t *p; uint32_t n; } s; /* string bytes, or list items */
} slot_val;

struct rill_decoder {
    rill_schema *schema;
    size_t nf;          /* schema fields; entries nf, nf+1, nf+2 are ts, key, id */
    rill_type *types;
    entry *entries;
    uint32_t *table;    /* entry index + 1, 0 = empty */
    uint32_t mask;
    uint32_t pred[PRED_MAX]; /* entry index + 1 seen at each map position */
    uint32_t *seen;     /* generation an entry was last seen in */
    uint32_t gen;
    slot_val *vals;     /* per field */
    uint32_t *set;      /* fields with a value in this event, in map order */
    bool strict, processing_time, keyless;
    size_t max_bytes;
    char detail[320];
    unsigned char keybuf[RILL_KEY_ENC_MAX];
};

static uint32_t name_hash(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

int rill__decoder_new(const rill_decode_opts *o, rill_decoder **out, char *errbuf,
                      size_t errlen) {
    static const char *const reserved[3] = { "ts", "key", "id" };
    char scratch[1];
    if (!errbuf) { errbuf = scratch; errlen = sizeof scratch; }
    *out = NULL;
    if (!o || !o->schema) {
        snprintf(errbuf, errlen, "decoder: no schema");
        return RILL_EINVAL;
    }
    rill_decoder *d = calloc(1, sizeof *d);
    if (!d) goto fail_nomem;
    d->schema = rill__schema_dup(o->schema);
    if (!d->schema) goto fail_nomem;
    d->nf = rill_schema_len(d->schema);
    size_t ne = d->nf + 3;
    size_t tsize = 8;
    while (tsize < 2 * ne) tsize *= 2;
    d->mask = (uint32_t)(tsize - 1);
    d->types = calloc(d->nf ? d->nf : 1, sizeof *d->types);
    d->entries = calloc(ne, sizeof *d->entries);
    d->table = calloc(tsize, sizeof *d->table);
    d->seen = calloc(ne, sizeof *d->seen);
    d->vals = calloc(d->nf ? d->nf : 1, sizeof *d->vals);
    d->set = calloc(d->nf ? d->nf : 1, sizeof *d->set);
    if (!d->types || !d->entries || !d->table || !d->seen || !d->vals || !d->set)
        goto fail_nomem;
    for (size_t i = 0; i < ne; i++) {
        const char *name = i < d->nf ? rill_schema_field(d->schema, i)->name
                                     : reserved[i - d->nf];
        if (i < d->nf) {
            d->types[i] = rill_schema_field(d->schema, i)->type;
            for (int k = 0; k < 3; k++)
                if (!strcmp(name, reserved[k])) {
                    snprintf(errbuf, errlen, "decoder: field name '%s' is reserved", name);
                    rill__decoder_free(d);
                    return RILL_EINVAL;
                }
        }
        size_t len = strlen(name);
        entry *e = &d->entries[i];
        e->name = name;
        e->len = (uint32_t)len;
        e->hash = name_hash((const uint8_t *)name, len);
        if (len <= 8) {
            unsigned char w[8] = { 0 }, k[8] = { 0 };
            memcpy(w, name, len);
            memset(k, 0xff, len);
            memcpy(&e->word, w, 8);
            memcpy(&e->mask, k, 8);
        }
        uint32_t h = e->hash & d->mask;
        while (d->table[h]) h = (h + 1) & d->mask;
        d->table[h] = (uint32_t)i + 1;
    }
    d->strict = o->strict;
    d->processing_time = o->processing_time;
    d->keyless = o->keyless;
    d->max_bytes = o->max_message_bytes ? o->max_message_bytes : RILL_DECODE_DEFAULT_MAX_BYTES;
    *out = d;
    return RILL_OK;
fail_nomem:
    snprintf(errbuf, errlen, "decoder: out of memory");
    rill__decoder_free(d);
    return RILL_ENOMEM;
}

void rill__decoder_free(rill_decoder *d) {
    if (!d) return;
    rill_schema_free(d->schema);
    free(d->types);
    free(d->entries);
    free(d->table);
    free(d->seen);
    free(d->vals);
    free(d->set);
    free(d);
}

/* Field names are short: a plain loop beats a call to memcmp. */
static inline bool same_bytes(const char *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)a[i] != b[i]) return false;
    return true;
}

/* Is the name at p (n bytes, end the end of the message) entry e's? */
static inline bool name_is(const entry *e, const uint8_t *p, size_t n, const uint8_t *end) {
    if (e->len != n) return false;
    if (n <= 8 && end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        return (w & e->mask) == e->word;
    }
    return same_bytes(e->name, p, n);
}

/* The entry index of a name, or -1. pos is its position in the map. */
static inline long lookup(rill_decoder *d, size_t pos, const uint8_t *p, size_t n,
                          const uint8_t *end) {
    if (pos < PRED_MAX && d->pred[pos]) {
        const entry *e = &d->entries[d->pred[pos] - 1];
        if (name_is(e, p, n, end)) return (long)d->pred[pos] - 1;
    }
    uint32_t hash = name_hash(p, n);
    for (uint32_t h = hash & d->mask;; h = (h + 1) & d->mask) {
        uint32_t k = d->table[h];
        if (!k) return -1;
        const entry *e = &d->entries[k - 1];
        if (e->hash == hash && name_is(e, p, n, end)) {
            if (pos < PRED_MAX) d->pred[pos] = k;
            return (long)k - 1;
        }
    }
}

/* ---- one message ----------------------------------------------------------- */

typedef struct msgctx {
    rill_decoder *d;
    const uint8_t *base;
    size_t len;
    rill_dead_fn dead;
    void *user;
    rill_decode_counts *counts;
    uint64_t unknown; /* unknown entries in accepted events of this message */
} msgctx;

typedef enum ev_status {
    EV_OK,
    EV_BAD,    /* rejected; the reader is at the event's end */
    EV_BROKEN, /* rejected; the event's end cannot be found */
    EV_NOMEM,
} ev_status;

/* A field name for a detail message: printable ASCII, others as '?'. */
static void put_name(char *dst, size_t cap, const uint8_t *p, size_t n) {
    size_t k = 0;
    for (; k < n && k + 4 < cap && k < 64; k++)
        dst[k] = (p[k] >= 0x20 && p[k] < 0x7f && p[k] != '\'') ? (char)p[k] : '?';
    if (k < n && k + 4 < cap) { memcpy(dst + k, "...", 3); k += 3; }
    dst[k] = 0;
}

static void report(msgctx *m, rill_dead_reason reason, size_t offset, size_t index,
                   const uint8_t *from, const uint8_t *to) {
    if (m->counts) {
        m->counts->rejected++;
        m->counts->by_reason[reason]++;
    }
    if (!m->dead) return;
    rill_dead_letter dl = {
        .reason = reason, .detail = m->d->detail, .offset = offset, .index = index,
        .bytes = from, .len = (size_t)(to - from),
    };
    m->dead(&dl, m->user);
}

/* The reason a bad value of entry idx gets, by what the entry is. */
static rill_dead_reason bad_reason(const rill_decoder *d, size_t idx) {
    if (idx == d->nf) return RILL_DEAD_BAD_TS;
    if (idx == d->nf + 1) return RILL_DEAD_BAD_KEY;
    if (idx == d->nf + 2) return RILL_DEAD_BAD_ID;
    return RILL_DEAD_WRONG_TYPE;
}

/* Check the value v of schema field f and park it. Returns RILL_DEAD__COUNT
 * when it is good, else the reason (and writes the detail). nil leaves the
 * field null. A list's items are read here (and again when written). */
static rill_dead_reason take_field(rill_decoder *d, reader *r, size_t f, const mval *v,
                                   const char *name, size_t *nset) {
    slot_val *s = &d->vals[f];
    rill_type t = d->types[f];
    if (v->t == M_NIL) return RILL_DEAD__COUNT;
    switch (t) {
    case RILL_F64:
        if (v->t == M_FLOAT) {
            if (!isfinite(v->v.f)) {
                snprintf(d->detail, sizeof d->detail, "field '%s': %s is not finite", name,
                         isnan(v->v.f) ? "NaN" : "an infinity");
                return RILL_DEAD_NOT_FINITE;
            }
            s->f = v->v.f;
        } else if (v->t == M_INT) {
            s->f = (double)v->v.i;
        } else if (v->t == M_UBIG) {
            s->f = (double)v->v.u;
        } else {
            goto wrong;
        }
        break;
    case RILL_I64:
        if (v->t == M_INT) s->i = v->v.i;
        else if (v->t == M_UBIG) {
            snprintf(d->detail, sizeof d->detail, "field '%s': %llu does not fit i64", name,
                     (unsigned long long)v->v.u);
            return RILL_DEAD_OUT_OF_RANGE;
        } else goto wrong;
        break;
    case RILL_BOOL:
        if (v->t != M_BOOL) goto wrong;
        s->b = v->v.b;
        break;
    case RILL_STRING:
        if (v->t != M_STR) goto wrong;
        if (v->v.s.n > UINT32_MAX) goto wrong; /* cannot happen: str32 */
        s->s.p = v->v.s.p;
        s->s.n = (uint32_t)v->v.s.n;
        break;
    case RILL_F64_LIST: {
        if (v->t != M_ARRAY) goto wrong;
        s->s.p = r->p;
        s->s.n = v->v.n;
        for (uint32_t k = 0; k < v->v.n; k++) {
            mval it;
            if (!rd_value(r, &it)) {
                snprintf(d->detail, sizeof d->detail, "field '%s': list truncated", name);
                return RILL_DEAD_TRUNCATED;
            }
            if (it.t == M_FLOAT && !isfinite(it.v.f)) {
                snprintf(d->detail, sizeof d->detail, "field '%s': item %u is not finite",
                         name, k);
                r->p = s->s.p; /* the caller skips the whole list */
                return RILL_DEAD_NOT_FINITE;
            }
            if (it.t != M_FLOAT && it.t != M_INT && it.t != M_UBIG) {
                snprintf(d->detail, sizeof d->detail,
                         "field '%s': list item %u is %s, not a number", name, k,
                         mtype_name(it.t));
                r->p = s->s.p; /* the caller skips the whole list */
                return RILL_DEAD_WRONG_TYPE;
            }
        }
        break;
    }
    default:
        goto wrong;
    }
    d->set[(*nset)++] = (uint32_t)f;
    return RILL_DEAD__COUNT;
wrong:
    snprintf(d->detail, sizeof d->detail, "field '%s': %s where %s expected", name,
             mtype_name(v->t), rill_type_name(t));
    return RILL_DEAD_WRONG_TYPE;
}

static inline double item_f64(const mval *v) {
    return v->t == M_FLOAT ? v->v.f : v->t == M_INT ? (double)v->v.i : (double)v->v.u;
}

/* The canonical bytes of a key or id (an M_INT, or an M_STR of at most
 * RILL_KEY_MAX bytes) as engine/batch.h defines them; returns the length.
 * Written here rather than through rill__key_encode() to keep the value in
 * registers on the per-event path; test_codec checks both agree. */
static inline size_t canon_key(const mval *v, unsigned char *buf) {
    if (v->t == M_INT) {
        uint64_t u = (uint64_t)v->v.i ^ (UINT64_C(1) << 63);
        buf[0] = RILL_KEY_TAG_INT;
        for (int i = 0; i < 8; i++) buf[1 + i] = (unsigned char)(u >> (56 - 8 * i));
        return 9;
    }
    buf[0] = RILL_KEY_TAG_STR;
    memcpy(buf + 1, v->v.s.p, v->v.s.n);
    return 1 + v->v.s.n;
}

/* Append the event whose entries were parked to out. */
static int write_row(rill_decoder *d, rill_batch *out, int64_t ts, const mval *key,
                     const mval *id, size_t nset, const uint8_t *msg_end) {
    /* The row is written in place, as rill__batch_append_raw() would (same
     * fields, every column null), without its per-call schema lookups. */
    int rc;
    if (out->len >= out->cap || !out->ts) {
        rc = rill__batch_reserve(out, 1);
        if (rc) return rc;
    }
    size_t row = out->len;
    size_t klen = canon_key(key, d->keybuf);
    rc = rill__batch_arena_put(out, d->keybuf, klen, &out->key[row]);
    if (rc) return rc;
    out->ts[row] = ts;
    out->key_hash[row] = XXH3_64bits(d->keybuf, klen);
    out->id[row] = (rill_span){ 0, 0 };
    if (out->win_start) {
        out->win_start[row] = out->win_end[row] = 0;
        out->flags[row] = 0;
    }
    for (size_t f = 0; f < d->nf; f++) out->cols[f].valid[row] = 0;
    out->len = row + 1;
    if (id->t == M_INT || id->t == M_STR) {
        size_t n = canon_key(id, d->keybuf);
        rc = rill__batch_arena_put(out, d->keybuf, n, &out->id[row]);
        if (rc) goto fail;
    }
    for (size_t k = 0; k < nset; k++) {
        size_t f = d->set[k];
        rill_column *c = &out->cols[f];
        const slot_val *s = &d->vals[f];
        switch (d->types[f]) {
        case RILL_F64: c->data.f64[row] = s->f; break;
        case RILL_I64: c->data.i64[row] = s->i; break;
        case RILL_BOOL: c->data.b[row] = s->b; break;
        case RILL_STRING:
            rc = rill__batch_arena_put(out, s->s.p, s->s.n, &c->data.span[row]);
            if (rc) goto fail;
            break;
        case RILL_F64_LIST: {
            /* Lists are read back as double*, so they start 8-aligned. */
            static const char pad[8];
            rill_span sp, ignored;
            if (out->arena_len % 8) {
                rc = rill__batch_arena_put(out, pad, 8 - out->arena_len % 8, &ignored);
                if (rc) goto fail;
            }
            sp.off = (uint32_t)out->arena_len;
            reader lr = { s->s.p, msg_end }; /* items were checked */
            for (uint32_t i = 0; i < s->s.n; i++) {
                mval it = { .t = M_INT }; /* the items were checked: reads succeed */
                double x = rd_value(&lr, &it) ? item_f64(&it) : 0;
                rc = rill__batch_arena_put(out, &x, sizeof x, &ignored);
                if (rc) goto fail;
            }
            sp.len = s->s.n * (uint32_t)sizeof(double);
            c->data.span[row] = sp;
            break;
        }
        default: break;
        }
        c->valid[row] = 1;
    }
    return RILL_OK;
fail:
    rill__batch_pop(out);
    return rc;
}

/* Decode the event map whose header (n pairs) was just read; start is where
 * the map began. */
static ev_status decode_event(msgctx *m, reader *r, uint32_t n, const uint8_t *start,
                              size_t index, rill_batch *out) {
    rill_decoder *d = m->d;
    if (++d->gen == 0) { /* wrapped: forget every stamp */
        memset(d->seen, 0, (d->nf + 3) * sizeof *d->seen);
        d->gen = 1;
    }
    const uint32_t gen = d->gen;
    uint64_t pending = 2 * (uint64_t)n; /* items of this map not read yet */
    size_t nset = 0, err_off = 0;
    bool have_ts = false, have_key = false;
    int64_t ts = 0;
    uint64_t unknown = 0;
    mval id = { .t = M_NIL }, key = { .t = M_NIL };
    rill_dead_reason why = RILL_DEAD__COUNT;
    char name[80];

    for (uint32_t e = 0; e < n; e++) {
        const uint8_t *kp;
        size_t kn;
        err_off = (size_t)(r->p - m->base);
        /* the field name: fixstr fast path */
        if (r->p < r->end && (*r->p & 0xe0) == 0xa0) {
            kn = *r->p & 0x1f;
            if ((size_t)(r->end - r->p) - 1 < kn) goto truncated;
            kp = r->p + 1;
            r->p += 1 + kn;
        } else {
            mval k;
            if (!rd_value(r, &k)) goto truncated;
            pending--;
            pending += children(&k);
            if (k.t != M_STR) {
                snprintf(d->detail, sizeof d->detail,
                         "entry %u: map key is %s, not a string (byte %zu)", e,
                         mtype_name(k.t), err_off);
                why = k.t == M_INVALID ? RILL_DEAD_INVALID_MSGPACK : RILL_DEAD_BAD_FIELD_NAME;
                goto bad;
            }
            pending++;
            kp = k.v.s.p;
            kn = k.v.s.n;
        }
        pending--;
        long idx = lookup(d, e, kp, kn, r->end);
        if (idx < 0) {
            if (d->strict) {
                put_name(name, sizeof name, kp, kn);
                snprintf(d->detail, sizeof d->detail,
                         "field '%s': not in the schema (strict, byte %zu)", name, err_off);
                why = RILL_DEAD_UNKNOWN_FIELD;
                goto bad;
            }
            unknown++;
            bool inv = false;
            if (!skip(r, 1, &inv)) goto truncated;
            pending--;
            if (inv) {
                put_name(name, sizeof name, kp, kn);
                snprintf(d->detail, sizeof d->detail,
                         "field '%s': invalid byte 0xc1 in its value", name);
                why = RILL_DEAD_INVALID_MSGPACK;
                goto bad;
            }
            continue;
        }
        if (d->seen[idx] == gen) {
            put_name(name, sizeof name, kp, kn);
            snprintf(d->detail, sizeof d->detail, "field '%s': given twice (byte %zu)", name,
                     err_off);
            why = RILL_DEAD_DUPLICATE_FIELD;
            goto bad;
        }
        d->seen[idx] = gen;
        err_off = (size_t)(r->p - m->base);
        mval v;
        if (!rd_value(r, &v)) goto truncated;
        pending--;
        pending += children(&v);
        if (v.t == M_INVALID) {
            put_name(name, sizeof name, kp, kn);
            snprintf(d->detail, sizeof d->detail,
                     "field '%s': invalid byte 0xc1 at byte %zu", name, err_off);
            why = RILL_DEAD_INVALID_MSGPACK;
            goto bad;
        }
        if ((size_t)idx < d->nf) {
            /* a list's items are read by take_field, not skipped */
            if (v.t == M_ARRAY && d->types[idx] == RILL_F64_LIST) pending -= v.v.n;
            why = take_field(d, r, (size_t)idx, &v, d->entries[idx].name, &nset);
            if (why == RILL_DEAD_TRUNCATED) goto truncated_detail;
            if (why != RILL_DEAD__COUNT) {
                if (v.t == M_ARRAY && d->types[idx] == RILL_F64_LIST) pending += v.v.n;
                size_t l = strlen(d->detail);
                snprintf(d->detail + l, sizeof d->detail - l, " (byte %zu)", err_off);
                goto bad;
            }
            continue;
        }
        const char *rname = d->entries[idx].name;
        if ((size_t)idx == d->nf) { /* ts */
            if (v.t == M_INT) { ts = v.v.i; have_ts = true; continue; }
            snprintf(d->detail, sizeof d->detail,
                     "field 'ts': %s%s, not integer ms within int64 (byte %zu)",
                     mtype_name(v.t), v.t == M_UBIG ? " above INT64_MAX" : "", err_off);
            why = RILL_DEAD_BAD_TS;
            goto bad;
        }
        bool is_id = (size_t)idx == d->nf + 2;
        if (is_id && v.t == M_NIL) { id = v; continue; }
        if (v.t == M_INT || (v.t == M_STR && v.v.s.n <= RILL_KEY_MAX)) {
            if (is_id) id = v;
            else { key = v; have_key = true; }
            continue;
        }
        if (v.t == M_STR)
            snprintf(d->detail, sizeof d->detail,
                     "field '%s': string of %zu bytes, longer than %d (byte %zu)", rname,
                     v.v.s.n, RILL_KEY_MAX, err_off);
        else
            snprintf(d->detail, sizeof d->detail,
                     "field '%s': %s%s, not a string or an integer within int64 (byte %zu)",
                     rname, mtype_name(v.t), v.t == M_UBIG ? " above INT64_MAX" : "",
                     err_off);
        why = bad_reason(d, (size_t)idx);
        goto bad;
    }
    if (!have_ts && !d->processing_time) {
        snprintf(d->detail, sizeof d->detail, "field 'ts': missing");
        err_off = (size_t)(start - m->base);
        why = RILL_DEAD_MISSING_TS;
        goto bad;
    }
    if (!have_key) {
        if (!d->keyless) {
            snprintf(d->detail, sizeof d->detail, "field 'key': missing");
            err_off = (size_t)(start - m->base);
            why = RILL_DEAD_MISSING_KEY;
            goto bad;
        }
        key.t = M_INT;
        key.v.i = 0;
    }
    if (write_row(d, out, ts, &key, &id, nset, r->end) != RILL_OK) return EV_NOMEM;
    m->unknown += unknown;
    return EV_OK;

bad: {
        bool inv = false;
        if (!skip(r, pending, &inv)) {
            report(m, why, err_off, index, start, m->base + m->len);
            return EV_BROKEN;
        }
        report(m, why, err_off, index, start, r->p);
        return EV_BAD;
    }
truncated:
    snprintf(d->detail, sizeof d->detail,
             "event %zu: the message ends inside it, at byte %zu", index, m->len);
truncated_detail:
    report(m, RILL_DEAD_TRUNCATED, err_off, index, start, m->base + m->len);
    return EV_BROKEN;
}

int rill__decoder_decode(rill_decoder *d, const void *msg, size_t len, rill_batch *out,
                         rill_dead_fn dead, void *user, rill_decode_counts *counts) {
    if (!msg) msg = ""; /* len is 0: no pointer arithmetic on NULL */
    msgctx m = { .d = d, .base = msg, .len = len, .dead = dead, .user = user,
                 .counts = counts };
    const uint8_t *base = msg;
    const uint8_t *end = base + len;
    reader r = { base, end };
    size_t first = out->len;
    int rc = RILL_OK;
    if (counts) counts->messages++;
    if (len > d->max_bytes) {
        snprintf(d->detail, sizeof d->detail,
                 "message of %zu bytes is over the limit of %zu", len, d->max_bytes);
        report(&m, RILL_DEAD_OVERSIZE, 0, SIZE_MAX, base, base + (len < 64 ? len : 64));
        return RILL_OK;
    }
    mval top;
    if (!rd_value(&r, &top)) {
        snprintf(d->detail, sizeof d->detail,
                 len ? "message of %zu bytes ends inside its first value"
                     : "empty message (%zu bytes)", len);
        report(&m, RILL_DEAD_TRUNCATED, 0, SIZE_MAX, base, end);
        return RILL_OK;
    }
    if (top.t == M_MAP) {
        ev_status st = decode_event(&m, &r, top.v.n, base, 0, out);
        if (st == EV_NOMEM) return RILL_ENOMEM;
        if (st == EV_BROKEN) goto done;
    } else if (top.t == M_ARRAY) {
        if (top.v.n == 0) {
            snprintf(d->detail, sizeof d->detail, "an empty array holds no events");
            report(&m, RILL_DEAD_EMPTY_ARRAY, 0, SIZE_MAX, base, end);
            return RILL_OK;
        }
        for (uint32_t i = 0; i < top.v.n; i++) {
            const uint8_t *start = r.p;
            size_t off = (size_t)(start - base);
            mval ev;
            if (!rd_value(&r, &ev)) {
                snprintf(d->detail, sizeof d->detail,
                         "event %u of %u: the message ends at byte %zu", i, top.v.n, off);
                report(&m, RILL_DEAD_TRUNCATED, off, i, start, end);
                goto done;
            }
            if (ev.t == M_MAP) {
                ev_status st = decode_event(&m, &r, ev.v.n, start, i, out);
                if (st == EV_NOMEM) { rc = RILL_ENOMEM; goto done; }
                if (st == EV_BROKEN) goto done;
                continue;
            }
            bool inv = ev.t == M_INVALID;
            bool whole = skip(&r, children(&ev), &inv);
            snprintf(d->detail, sizeof d->detail, "event %u: %s, not a map (byte %zu)", i,
                     mtype_name(ev.t), off);
            report(&m, ev.t == M_INVALID ? RILL_DEAD_INVALID_MSGPACK : RILL_DEAD_NOT_A_MAP,
                   off, i, start, whole ? r.p : end);
            if (!whole) goto done;
        }
    } else {
        snprintf(d->detail, sizeof d->detail,
                 "message is %s, not a map (one event) or an array of maps", mtype_name(top.t));
        report(&m, top.t == M_INVALID ? RILL_DEAD_INVALID_MSGPACK : RILL_DEAD_NOT_A_MAP, 0,
               SIZE_MAX, base, end);
        return RILL_OK;
    }
    if (r.p != end) {
        /* A framing error: whatever the message held is suspect. */
        while (out->len > first) rill__batch_pop(out);
        m.unknown = 0;
        snprintf(d->detail, sizeof d->detail,
                 "%zu bytes after the end of the message's value (byte %zu)",
                 (size_t)(end - r.p), (size_t)(r.p - base));
        report(&m, RILL_DEAD_TRAILING_BYTES, (size_t)(r.p - base), SIZE_MAX, base, end);
    }
done:
    if (counts) {
        counts->events += out->len - first;
        counts->unknown_fields += m.unknown;
    }
    return rc;
}
