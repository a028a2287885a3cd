/* operators/feature_vector.c — the feature-vector operator: per key, the
 * latest value of each declared feature as of a trigger's time, in a fixed
 * declared order (a point-in-time join).
 *
 * Inputs are a trigger (a source or operator: one vector per row) and the
 * sources and operators whose records carry the features. Per key and per
 * feature input the operator keeps a short history of (record ts, values)
 * sorted by ts (equal times in arrival order). A trigger at t waits until
 * the operator's watermark passes t, i.e. until every input has gone past
 * t, so every record with ts <= t from an on-time event has arrived; then
 * each feature takes the value of the latest history entry with ts <= t. A
 * record that arrived earlier but is later in event time is skipped: never
 * the future. Waiting triggers fire in advance(), in (ts, arrival) order
 * over all keys, so the output order does not depend on how the streams
 * were cut into batches.
 *
 * A key's histories sit inline in its key-table value (one per feature
 * input); add_values() prefetches the table slots, entries and histories of
 * the rows a few ahead, as the keys of a batch are mostly cold. Triggers
 * wait in a time queue (operators/time_queue.c).
 *
 * A history keeps every entry at or after the watermark and the last one
 * before it (the only one a future trigger can still use); older entries are
 * dropped as records arrive and triggers fire. A null value, or no entry at
 * or before t, gives the feature's default and is counted.
 *
 * State: each key's histories are its record (the operators' dirty-key
 * checkpoint, and the hot-key cache can evict them); the waiting triggers
 * and the counters are one more record under the key "\0f", which no
 * canonical key can be (they start with 'i' or 's').
 *
 * Not done: a record from a source input behind the watermark is late
 * (counted, late callback) and not used, but an update of a window fired
 * within its allowed lateness is used by the vectors fired after it
 * arrived, which then depend on where the batches were cut. Histories are
 * not bounded by a count: a feature input far ahead of the trigger in event
 * time keeps more entries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/feature_vector.h"
#include "operators/time_queue.h"

#define RECORD_VERSION 1
#define GLOBAL_VERSION 1
static const char GLOBAL_KEY[2] = { 0, 'f' };

/* ---- the recorded settings -------------------------------------------------- */

typedef struct fv_feat { char *input, *value, *name; double def; } fv_feat;

struct rill__fv_cfg {
    char *trigger;
    fv_feat *f;
    size_t n;
};

void rill__fv_cfg_free(rill__fv_cfg *c) {
    if (!c) return;
    for (size_t i = 0; c->f && i < c->n; i++) {
        free(c->f[i].input);
        free(c->f[i].value);
        free(c->f[i].name);
    }
    free(c->f);
    free(c->trigger);
    free(c);
}

int rill__fv_cfg_new(const rill_features_opts *o, rill__fv_cfg **out, char *err, size_t errlen) {
    *out = NULL;
    if (!o || !o->trigger || !o->n_features || !o->features) {
        snprintf(err, errlen, "%s", !o ? "options are NULL" : !o->trigger ? "no trigger"
                                                                           : "no features");
        return RILL_EINVAL;
    }
    for (size_t i = 0; i < o->n_features; i++)
        if (!o->features[i].input || !o->features[i].value) {
            snprintf(err, errlen, "feature %zu: %s is NULL", i, !o->features[i].input ? "input" : "value");
            return RILL_EINVAL;
        }
    rill__fv_cfg *c = calloc(1, sizeof *c);
    if (!c) goto fail_nomem;
    c->f = calloc(o->n_features, sizeof *c->f);
    c->trigger = strdup(o->trigger);
    if (!c->f || !c->trigger) goto fail_nomem;
    c->n = o->n_features;
    for (size_t i = 0; i < c->n; i++) {
        const rill_feature *f = &o->features[i];
        c->f[i].input = strdup(f->input);
        c->f[i].value = strdup(f->value);
        c->f[i].name = strdup(f->name ? f->name : f->value);
        c->f[i].def = f->default_value;
        if (!c->f[i].input || !c->f[i].value || !c->f[i].name) goto fail_nomem;
    }
    *out = c;
    return RILL_OK;
fail_nomem:
    rill__fv_cfg_free(c);
    snprintf(err, errlen, "out of memory");
    return RILL_ENOMEM;
}

char *rill__fv_cfg_describe(const rill__fv_cfg *c) {
    size_t cap = 64 + strlen(c->trigger);
    for (size_t i = 0; i < c->n; i++)
        cap += strlen(c->f[i].input) + strlen(c->f[i].value) + strlen(c->f[i].name) + 40;
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "trigger=%s features=", c->trigger);
    for (size_t i = 0; i < c->n; i++) /* %a: the default's exact bits */
        p += sprintf(p, "%s:%s.%s(%a),", c->f[i].name, c->f[i].input, c->f[i].value, c->f[i].def);
    return s;
}

size_t rill__fv_cfg_inputs(const rill__fv_cfg *c, const char **names, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i <= c->n; i++) {
        const char *nm = i == 0 ? c->trigger : c->f[i - 1].input;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(nm, j == 0 ? c->trigger : c->f[j - 1].input);
        if (seen) continue;
        if (n < cap) names[n] = nm;
        n++;
    }
    return n;
}

/* ---- the operator ------------------------------------------------------------ */

typedef double (*read_fn)(const rill_column *c, size_t row);
static double read_f64(const rill_column *c, size_t row) { return c->data.f64[row]; }
static double read_i64(const rill_column *c, size_t row) { return (double)c->data.i64[row]; }
static double read_bool(const rill_column *c, size_t row) { return c->data.b[row] ? 1.0 : 0.0; }

/* The features one input carries. */
typedef struct fv_src {
    size_t n_vals;
    size_t *col;   /* per value: its column in the input's rows */
    read_fn *read; /* per value: picked from the column's type */
    size_t *feat;  /* per value: its position in the vector */
    size_t stride; /* bytes of a history entry: ts, then n_vals doubles */
    bool all_f64;  /* every value is an f64 column: read without the calls */
} fv_src;

typedef struct fv_input {
    char *name;
    bool trigger;
    int src; /* index into srcs, -1 when it carries no feature */
} fv_input;

/* A history: entries sorted by ts; a value NaN means null. */
typedef struct fv_hist { char *e; uint32_t n, cap; } fv_hist;

/* A key's value in the table: its histories inline, one per feature input
 * (the table's value size is set once the inputs are known). */
typedef struct fv_key {
    rill_key_hdr h;
    fv_hist hist[];
} fv_key;

typedef struct fv_op {
    rill_op base;
    rill_keytable kt;
    size_t n_feat;
    double *defaults;
    double *vals; /* scratch: one vector */
    fv_src *srcs;
    size_t n_src;
    fv_input *inputs;
    size_t n_inputs;
    rill_tq pend; /* waiting triggers */
    uint64_t next_seq;
    uint64_t triggers, late_triggers, complete, defaulted;
    uint64_t *missing; /* per feature */
    bool gdirty;       /* the "\0f" record changed since the last checkpoint */
} fv_op;

static int64_t entry_ts(const fv_hist *h, size_t stride, uint32_t i) {
    int64_t ts;
    memcpy(&ts, h->e + (size_t)i * stride, 8);
    return ts;
}

static int hist_reserve(fv_hist *h, size_t stride) {
    if (h->n < h->cap) return RILL_OK;
    uint32_t cap = h->cap ? h->cap * 2 : 2;
    char *q = realloc(h->e, (size_t)cap * stride);
    if (!q) return RILL_ENOMEM;
    h->e = q;
    h->cap = cap;
    return RILL_OK;
}

/* Drop entries before index j (the caller keeps j and after). */
static void hist_drop_front(fv_hist *h, size_t stride, uint32_t j) {
    if (!j) return;
    memmove(h->e, h->e + (size_t)j * stride, (size_t)(h->n - j) * stride);
    h->n -= j;
}

/* Keep the last entry before wm and everything from wm on. True if any
 * entry was dropped. */
static bool hist_prune(fv_hist *h, size_t stride, int64_t wm) {
    uint32_t j = 0;
    while (j + 1 < h->n && entry_ts(h, stride, j + 1) < wm) j++;
    hist_drop_front(h, stride, j);
    return j > 0;
}

static void fv_release_key(rill_op *op, uint32_t idx) {
    fv_op *o = (fv_op *)op;
    fv_key *k = rill__kt_value(&o->kt, idx);
    for (size_t s = 0; s < o->n_src; s++) {
        free(k->hist[s].e);
        k->hist[s] = (fv_hist){ 0 };
    }
}

/* How far ahead add_values() prefetches: the key table slot of row + SLOT_AHEAD,
 * the entry of row + ENTRY_AHEAD, the history of row + HIST_AHEAD. Hints
 * only: results do not depend on them. */
#define SLOT_AHEAD 16
#define ENTRY_AHEAD 8
#define HIST_AHEAD 3

/* Rows ahead whose column values are prefetched: a batch's columns are
 * read one row at a time, more streams at once than the hardware
 * prefetcher follows. A cache line holds the values of 8 rows (the valid
 * bytes of 64): each row prefetches the next lines of every 8th column, so
 * the misses in flight stay few. */
#define COLS_AHEAD 32

static void prefetch_rows(const fv_op *o, const rill_batch *b, size_t row, size_t s) {
    const fv_src *src = &o->srcs[s];
    size_t at = (row & ~(size_t)7) + COLS_AHEAD, vat = (row & ~(size_t)63) + 64;
    if (at < b->len)
        for (size_t v = row & 7; v < src->n_vals; v += 8) {
            const rill_column *c = &b->cols[src->col[v]];
            __builtin_prefetch((const char *)c->data.raw + at * (c->type == RILL_BOOL ? 1 : 8));
            if ((row & 63) < 8 && vat < b->len) __builtin_prefetch(&c->valid[vat]);
        }
    if (row + SLOT_AHEAD < b->len) rill__kt_prefetch_slot(&o->kt, b->key_hash[row + SLOT_AHEAD]);
    if (row + ENTRY_AHEAD < b->len) rill__kt_prefetch_entry(&o->kt, b->key_hash[row + ENTRY_AHEAD]);
    if (row + HIST_AHEAD < b->len) {
        const char *e = rill__kt_prefetch_entry(&o->kt, b->key_hash[row + HIST_AHEAD]);
        if (e) {
            const fv_key *k = (const fv_key *)(const void *)(e + sizeof(rill_kt_entry));
            const fv_hist *h = &k->hist[s];
            if (h->n) __builtin_prefetch(h->e + (size_t)(h->n - 1) * o->srcs[s].stride);
        }
    }
}

/* Add the feature values of every row of in (from feature input s). */
static int add_values(fv_op *o, const fv_src *src, size_t s, const rill_op_input *in) {
    const rill_batch *b = in->b;
    rill_wm_walk walk = rill__wm_walk_start(in);
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        prefetch_rows(o, b, row, s);
        if (in->advances && ts < wm) { /* a source's late row: trigger before it may have fired */
            rill__op_late(&o->base, in, row, wm);
            continue;
        }
        bool created;
        int rc;
        uint32_t idx = rill__op_upsert(&o->base, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                       b->key_hash[row], &created, &rc);
        if (idx == RILL_KT_NONE) return rc;
        fv_key *k = rill__kt_value(&o->kt, idx);
        if ((rc = hist_reserve(&k->hist[s], src->stride)) != RILL_OK) {
            if (created) rill__op_drop_key(&o->base, idx);
            return rc;
        }
        fv_hist *h = &k->hist[s];
        uint32_t pos = h->n;
        while (pos > 0 && entry_ts(h, src->stride, pos - 1) > ts) pos--; /* after equal times */
        char *e = h->e + (size_t)pos * src->stride;
        memmove(e + src->stride, e, (size_t)(h->n - pos) * src->stride);
        memcpy(e, &ts, 8);
        double *vals = (double *)(void *)(e + 8); /* entries are 8-aligned */
        if (src->all_f64) {
            for (size_t v = 0; v < src->n_vals; v++) {
                const rill_column *c = &b->cols[src->col[v]];
                vals[v] = c->valid[row] ? c->data.f64[row] : NAN;
            }
        } else {
            for (size_t v = 0; v < src->n_vals; v++) {
                const rill_column *c = &b->cols[src->col[v]];
                vals[v] = c->valid[row] ? src->read[v](c, row) : NAN;
            }
        }
        h->n++;
        hist_prune(h, src->stride, o->base.wm);
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
    }
    return RILL_OK;
}

static int add_triggers(fv_op *o, const rill_op_input *in) {
    const rill_batch *b = in->b;
    rill_wm_walk walk = rill__wm_walk_start(in);
    o->triggers += b->len;
    o->gdirty = true;
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        if (ts < wm) {
            o->late_triggers++;
            rill__op_late(&o->base, in, row, wm);
            continue;
        }
        rill_tq_item *t;
        int rc = rill__tq_push(&o->pend, ts, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                               rill__batch_bytes(b, b->id[row]), b->id[row].len, &t);
        if (rc) return rc;
        t->seq = o->next_seq++;
        t->khash = b->key_hash[row];
    }
    return RILL_OK;
}

static int fv_process(rill_op *op, const rill_op_input *in) {
    fv_op *o = (fv_op *)op;
    const fv_input *role = NULL;
    for (size_t i = 0; i < o->n_inputs && !role; i++)
        if (!strcmp(o->inputs[i].name, in->input_name)) role = &o->inputs[i];
    if (!role) return RILL_OK;
    op->events_in += in->b->len;
    int rc = RILL_OK;
    if (role->src >= 0) rc = add_values(o, &o->srcs[role->src], (size_t)role->src, in);
    if (!rc && role->trigger) rc = add_triggers(o, in);
    return rc;
}

/* Emit the vector of trigger t. */
static int fire(fv_op *o, const rill_tq_item *t) {
    const char *key = rill__tq_key(&o->pend, t);
    bool created;
    int rc;
    uint32_t idx = rill__op_upsert(&o->base, key, t->klen, t->khash, &created, &rc);
    if (idx == RILL_KT_NONE) return rc;
    for (size_t f = 0; f < o->n_feat; f++) o->vals[f] = NAN;
    fv_key *k = rill__kt_value(&o->kt, idx);
    if (created) {
        rill__op_drop_key(&o->base, idx); /* a key never seen in a feature input */
    } else {
        bool pruned = false;
        for (size_t s = 0; s < o->n_src; s++) {
            const fv_src *src = &o->srcs[s];
            fv_hist *h = &k->hist[s];
            uint32_t j = h->n;
            while (j > 0 && entry_ts(h, src->stride, j - 1) > t->ts) j--;
            if (!j) continue;
            const char *e = h->e + (size_t)(j - 1) * src->stride;
            for (size_t v = 0; v < src->n_vals; v++) memcpy(&o->vals[src->feat[v]], e + 8 + 8 * v, 8);
            /* later triggers are at t or after: older entries are of no use */
            if (j > 1) {
                hist_drop_front(h, src->stride, j - 1);
                pruned = true;
            }
        }
        if (pruned && (rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
    }
    bool complete = true;
    for (size_t f = 0; f < o->n_feat; f++)
        if (isnan(o->vals[f])) {
            o->vals[f] = o->defaults[f];
            o->missing[f]++;
            o->defaulted++;
            complete = false;
        }
    rill_batch *b = o->base.out;
    if ((rc = rill__tq_emit(&o->pend, t, b)) != RILL_OK) return rc;
    size_t r = b->len - 1;
    for (size_t f = 0; f < o->n_feat; f++) {
        b->cols[f].data.f64[r] = o->vals[f];
        b->cols[f].valid[r] = 1;
    }
    o->base.emitted++;
    o->complete += complete;
    return RILL_OK;
}

static int fv_advance(rill_op *op, int64_t wm) {
    fv_op *o = (fv_op *)op;
    op->wm = wm;
    if (!rill__tq_len(&o->pend)) return RILL_OK;
    o->gdirty = true;
    const rill_tq_item *t;
    while ((t = rill__tq_due(&o->pend, wm)) != NULL) {
        int rc = fire(o, t);
        if (rc) return rc;
        o->pend.head++;
    }
    return rill__tq_compact(&o->pend);
}

/* Per-key record: version | n_src (4) | per input: n (4) | n entries. */
static size_t fv_record_size(const rill_op *op, uint32_t idx) {
    const fv_op *o = (const fv_op *)op;
    const fv_key *k = rill__kt_value(&o->kt, idx);
    size_t need = 0;
    for (size_t s = 0; s < o->n_src; s++) need += (size_t)k->hist[s].n * o->srcs[s].stride;
    return need ? 1 + 4 + 4 * o->n_src + need : 0;
}

static void fv_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const fv_op *o = (const fv_op *)op;
    const fv_key *k = rill__kt_value(&o->kt, idx);
    uint32_t ns = (uint32_t)o->n_src;
    *buf++ = RECORD_VERSION;
    memcpy(buf, &ns, 4);
    buf += 4;
    for (size_t s = 0; s < o->n_src; s++) {
        memcpy(buf, &k->hist[s].n, 4);
        buf += 4;
        size_t len = (size_t)k->hist[s].n * o->srcs[s].stride;
        if (len) memcpy(buf, k->hist[s].e, len);
        buf += len;
    }
}

/* The "\0f" record: version | next_seq | triggers | complete | defaulted |
 * n_feat | late_triggers | missing[n_feat] | n_pend | per trigger: ts | seq | klen (4) |
 * key | ilen (4) | id. */
static int restore_global(fv_op *o, const char *p, size_t len) {
    const char *end = p + len;
    uint64_t v[6];
    if (len < 1 + sizeof v || p[0] != GLOBAL_VERSION) return RILL_ECORRUPT;
    memcpy(v, p + 1, sizeof v);
    p += 1 + sizeof v;
    if (v[4] != o->n_feat || (size_t)(end - p) / 8 < o->n_feat + 1) return RILL_ECORRUPT;
    o->next_seq = v[0];
    o->triggers = v[1];
    o->complete = v[2];
    o->defaulted = v[3];
    o->late_triggers = v[5];
    memcpy(o->missing, p, 8 * o->n_feat);
    p += 8 * o->n_feat;
    uint64_t n;
    memcpy(&n, p, 8);
    p += 8;
    for (uint64_t i = 0; i < n; i++) {
        int64_t ts;
        uint64_t seq;
        uint32_t kl, il;
        if (end - p < 20) return RILL_ECORRUPT;
        memcpy(&ts, p, 8);
        memcpy(&seq, p + 8, 8);
        memcpy(&kl, p + 16, 4);
        p += 20;
        if ((size_t)(end - p) < (size_t)kl + 4 || kl > RILL_KEY_ENC_MAX) return RILL_ECORRUPT;
        const char *key = p;
        p += kl;
        memcpy(&il, p, 4);
        p += 4;
        if ((size_t)(end - p) < il || il > RILL_KEY_ENC_MAX) return RILL_ECORRUPT;
        rill_tq_item *t;
        int rc = rill__tq_push(&o->pend, ts, key, kl, p, il, &t);
        if (rc) return rc;
        t->seq = seq;
        t->khash = rill__key_hash(key, kl);
        p += il;
    }
    return p == end ? RILL_OK : RILL_ECORRUPT;
}

int rill__features_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns) {
    fv_op *o = (fv_op *)op;
    if (!o->gdirty) return RILL_OK;
    const rill_tq *q = &o->pend;
    size_t n = rill__tq_len(q);
    size_t need = 1 + 6 * 8 + 8 * o->n_feat + 8;
    for (size_t i = q->head; i < q->n; i++) need += 24 + q->it[i].klen + q->it[i].ilen;
    char *buf = malloc(need), *p = buf;
    if (!buf) return RILL_ENOMEM;
    uint64_t v[6] = { o->next_seq, o->triggers, o->complete, o->defaulted, o->n_feat, o->late_triggers };
    *p++ = GLOBAL_VERSION;
    memcpy(p, v, sizeof v);
    p += sizeof v;
    memcpy(p, o->missing, 8 * o->n_feat);
    p += 8 * o->n_feat;
    uint64_t n64 = n;
    memcpy(p, &n64, 8);
    p += 8;
    for (size_t i = q->head; i < q->n; i++) {
        const rill_tq_item *t = &q->it[i];
        memcpy(p, &t->ts, 8);
        memcpy(p + 8, &t->seq, 8);
        memcpy(p + 16, &t->klen, 4);
        p += 20;
        memcpy(p, rill__tq_key(q, t), t->klen);
        p += t->klen;
        memcpy(p, &t->ilen, 4);
        p += 4;
        memcpy(p, rill__tq_id(q, t), t->ilen);
        p += t->ilen;
    }
    int rc = rill__state_batch_put(wb, ns, GLOBAL_KEY, sizeof GLOBAL_KEY, buf, (size_t)(p - buf));
    free(buf);
    if (!rc) o->gdirty = false;
    return rc;
}

static int fv_restore_key(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen) {
    fv_op *o = (fv_op *)op;
    if (klen == sizeof GLOBAL_KEY && !memcmp(key, GLOBAL_KEY, klen)) return restore_global(o, val, vlen);
    const char *p = val, *end = p + vlen;
    uint32_t ns;
    if (vlen < 5 || p[0] != RECORD_VERSION) return RILL_ECORRUPT;
    memcpy(&ns, p + 1, 4);
    p += 5;
    if (ns != o->n_src) return RILL_ECORRUPT;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    fv_key *k = rill__kt_value(&o->kt, idx);
    int rc = RILL_OK;
    for (size_t s = 0; !rc && s < o->n_src; s++) {
        uint32_t n;
        size_t stride = o->srcs[s].stride;
        if (end - p < 4) { rc = RILL_ECORRUPT; break; }
        memcpy(&n, p, 4);
        p += 4;
        if ((size_t)(end - p) / stride < n) { rc = RILL_ECORRUPT; break; }
        fv_hist *h = &k->hist[s];
        if (n && !(h->e = malloc((size_t)n * stride))) { rc = RILL_ENOMEM; break; }
        h->n = h->cap = n;
        if (n) memcpy(h->e, p, (size_t)n * stride);
        p += (size_t)n * stride;
    }
    if (!rc && p != end) rc = RILL_ECORRUPT;
    if (rc) rill__op_drop_key(op, idx);
    return rc;
}

static int64_t fv_key_due(const rill_op *op, uint32_t idx) {
    (void)op;
    (void)idx;
    return RILL_TIME_MAX; /* needed again only when a record or trigger of it comes */
}

static void fv_destroy(rill_op *op) {
    fv_op *o = (fv_op *)op;
    rill__op_release_keys(op);
    rill__kt_free(&o->kt);
    for (size_t s = 0; o->srcs && s < o->n_src; s++) {
        free(o->srcs[s].col);
        free(o->srcs[s].read);
        free(o->srcs[s].feat);
    }
    for (size_t i = 0; o->inputs && i < o->n_inputs; i++) free(o->inputs[i].name);
    free(o->srcs);
    free(o->inputs);
    free(o->defaults);
    free(o->vals);
    free(o->missing);
    rill__tq_free(&o->pend);
    rill__op_fini(op);
    free(o);
}

static const rill_op_methods fv_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = fv_process,
    .advance = fv_advance,
    .record_size = fv_record_size,
    .record_encode = fv_record_encode,
    .restore_key = fv_restore_key,
    .key_due = fv_key_due,
    .release_key = fv_release_key,
    .destroy = fv_destroy,
};

static const char *const reserved[] = { "op", "key", "start", "end", "ts", "id", "update" };

/* Check the features against the inputs and lay out where each is read. */
static int bind_features(fv_op *o, const rill__fv_cfg *c, const char *name, const char *const *in_names,
                         const rill_schema *const *in_schemas, size_t n_in, char *err, size_t errlen) {
    for (size_t f = 0; f < c->n; f++) {
        const fv_feat *ft = &c->f[f];
        for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
            if (!strcmp(ft->name, reserved[r])) {
                snprintf(err, errlen, "feature vector '%s': feature name '%s' is reserved (op, key, start, "
                         "end, ts, id, update)", name, ft->name);
                return RILL_EINVAL;
            }
        for (size_t g = 0; g < f; g++)
            if (!strcmp(ft->name, c->f[g].name)) {
                snprintf(err, errlen, "feature vector '%s': two features are named '%s' (set rill_feature.name)",
                         name, ft->name);
                return RILL_EDUP_NAME;
            }
        if (!isfinite(ft->def)) {
            snprintf(err, errlen, "feature vector '%s': feature '%s' has a default that is not finite", name,
                     ft->name);
            return RILL_EINVAL;
        }
        size_t i = 0;
        while (i < n_in && strcmp(in_names[i], ft->input)) i++;
        if (i == n_in) { /* cannot happen: the graph made the inputs from c */
            snprintf(err, errlen, "feature vector '%s': feature '%s' reads '%s', which is not an input", name,
                     ft->name, ft->input);
            return RILL_EUNKNOWN_NODE;
        }
        size_t col;
        if (rill_schema_index(in_schemas[i], ft->value, &col) != RILL_OK) {
            snprintf(err, errlen, "feature vector '%s': feature '%s' reads '%s' from '%s', which has no such "
                     "field", name, ft->name, ft->value, ft->input);
            return RILL_EUNKNOWN_FIELD;
        }
        rill_type t = rill_schema_field(in_schemas[i], col)->type;
        if (t != RILL_F64 && t != RILL_I64 && t != RILL_BOOL) {
            snprintf(err, errlen, "feature vector '%s': feature '%s' reads '%s' of '%s', which is %s (features "
                     "are f64, i64 or bool)", name, ft->name, ft->value, ft->input, rill_type_name(t));
            return RILL_EFIELD_TYPE;
        }
        fv_input *in = &o->inputs[i];
        if (in->src < 0) {
            in->src = (int)o->n_src++;
            fv_src *s = &o->srcs[in->src];
            s->col = calloc(c->n, sizeof *s->col);
            s->read = calloc(c->n, sizeof *s->read);
            s->feat = calloc(c->n, sizeof *s->feat);
            s->all_f64 = true;
            if (!s->col || !s->read || !s->feat) {
                snprintf(err, errlen, "feature vector '%s': out of memory", name);
                return RILL_ENOMEM;
            }
        }
        fv_src *s = &o->srcs[in->src];
        s->col[s->n_vals] = col;
        s->read[s->n_vals] = t == RILL_F64 ? read_f64 : t == RILL_I64 ? read_i64 : read_bool;
        s->feat[s->n_vals] = f;
        s->all_f64 &= t == RILL_F64;
        s->n_vals++;
        s->stride = 8 + 8 * s->n_vals;
    }
    return RILL_OK;
}

int rill__op_new_features(const rill__fv_cfg *c, const char *name, const char *const *in_names,
                          const rill_schema *const *in_schemas, size_t n_in, rill_op **out,
                          char *err, size_t errlen) {
    *out = NULL;
    fv_op *o = calloc(1, sizeof *o);
    if (!o) goto fail_nomem_bare;
    o->base.m = &fv_methods;
    rill__tq_init(&o->pend, 0);
    o->base.wm = RILL_TIME_MIN;
    o->base.kt = &o->kt;
    o->base.name = strdup(name);
    o->n_feat = c->n;
    o->defaults = calloc(c->n, sizeof *o->defaults);
    o->vals = calloc(c->n, sizeof *o->vals);
    o->missing = calloc(c->n, sizeof *o->missing);
    o->inputs = calloc(n_in, sizeof *o->inputs);
    o->srcs = calloc(n_in, sizeof *o->srcs);
    rill_field *fields = calloc(c->n, sizeof *fields);
    if (rill__kt_init(&o->base.cold, sizeof(rill_cold_key)) != RILL_OK || !o->base.name || !o->defaults ||
        !o->vals || !o->missing || !o->inputs || !o->srcs || !fields) {
        free(fields);
        goto fail_nomem;
    }
    o->n_inputs = n_in;
    for (size_t i = 0; i < n_in; i++) {
        o->inputs[i].src = -1;
        o->inputs[i].trigger = !strcmp(in_names[i], c->trigger);
        if (!(o->inputs[i].name = strdup(in_names[i]))) {
            free(fields);
            goto fail_nomem;
        }
    }
    int rc = bind_features(o, c, name, in_names, in_schemas, n_in, err, errlen);
    if (rc) {
        free(fields);
        fv_destroy(&o->base);
        return rc;
    }
    if (rill__kt_init(&o->kt, sizeof(fv_key) + o->n_src * sizeof(fv_hist)) != RILL_OK) {
        free(fields);
        goto fail_nomem;
    }
    for (size_t f = 0; f < c->n; f++) {
        o->defaults[f] = c->f[f].def;
        fields[f] = (rill_field){ c->f[f].name, RILL_F64 };
    }
    rill_schema *s = rill_schema_new(fields, c->n);
    free(fields);
    if (!s || !(o->base.out = rill__batch_new_output(s, 256))) {
        rill_schema_free(s);
        goto fail_nomem;
    }
    rill_schema_free(s);
    *out = &o->base;
    return RILL_OK;
fail_nomem:
    fv_destroy(&o->base);
fail_nomem_bare:
    snprintf(err, errlen, "feature vector '%s': out of memory", name);
    return RILL_ENOMEM;
}

void rill__features_stats(const rill_op *op, rill_features_stats *out) {
    const fv_op *o = (const fv_op *)op;
    out->triggers = o->triggers;
    out->late = o->late_triggers;
    out->pending = rill__tq_len(&o->pend);
    out->vectors = op->emitted;
    out->complete = o->complete;
    out->defaulted = o->defaulted;
}

size_t rill__features_count(const rill_op *op) { return ((const fv_op *)op)->n_feat; }

void rill__features_missing(const rill_op *op, uint64_t *out) {
    const fv_op *o = (const fv_op *)op;
    memcpy(out, o->missing, o->n_feat * sizeof *out);
}
