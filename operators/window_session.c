/* operators/window_session.c — keyed session windows, on close.
 *
 * A session gathers a key's events while each follows the previous one by
 * less than gap ms: two events at t1 <= t2 are in one session when a chain
 * of events links them with steps < gap. The session window is
 * [first, last + gap) and fires when the watermark reaches its end.
 *
 * Each key keeps its open sessions sorted by start, each with one partial
 * aggregate block. An event overlapping one session joins it; an event
 * (often an out-of-order one) overlapping two or more bridges them, and
 * their blocks are merged in time order, so merge-order aggregates (first,
 * last, last-N) stay right. An event is late when t + gap + allowed lateness
 * <= W: no session it could join or start is still within its lateness.
 * A session that fired and then changes (an allowed-late event extends it or
 * bridges it with another) fires again at the next watermark step, flagged
 * RILL_RECORD_UPDATE, with its new extent; the earlier record is superseded.
 * A fired session is dropped once no event that is still on time could join
 * it: end + gap + allowed lateness <= W.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/keytable.h"
#include "operators/operator.h"
#include "operators/timers.h"

#define RECORD_VERSION 1
#define S_FIRED 1u   /* emitted with its current content */
#define S_EMITTED 2u /* emitted at least once (next emission is an update) */

/* A session entry: start | last | flags | block */
typedef struct sess_hdr { int64_t start, last; uint64_t flags; } sess_hdr;

typedef struct sess_key {
    rill_key_hdr h;
    char *v;       /* entries, sorted by start */
    uint32_t n, cap;
    int64_t due;
} sess_key;

typedef struct sess_op {
    rill_op base;
    int64_t gap;
    size_t stride;
    rill_keytable kt;
    rill_timer_heap timers;
} sess_op;

static sess_hdr *sess_at(const sess_op *o, const sess_key *k, uint32_t i) {
    return (sess_hdr *)(void *)(k->v + (size_t)i * o->stride);
}
static char *sess_block(sess_hdr *h) { return (char *)(h + 1); }
static int64_t sess_end(const sess_op *o, const sess_hdr *h) { return rill__time_add(h->last, o->gap); }

/* A fired session is kept while an event that is not late could still
 * join it: such an event has t + gap + lateness > W and joins when
 * t < last + gap, so once end + gap + lateness <= W none can. */
static int64_t drop_time(const sess_op *o, const sess_hdr *h) {
    return rill__time_add(rill__time_add(sess_end(o, h), o->gap), o->base.lateness);
}

static int64_t key_due(const sess_op *o, const sess_key *k) {
    int64_t due = RILL_TIME_MAX;
    for (uint32_t i = 0; i < k->n; i++) {
        const sess_hdr *h = sess_at(o, k, i);
        int64_t t = sess_end(o, h);
        if (h->flags & S_FIRED) t = drop_time(o, h);
        if (t < due) due = t;
    }
    return due;
}

/* Make sure a timer fires no later than the key's due time. A timer that
 * turns out early (the session grew) finds nothing to do and re-arms. */
static int reschedule(sess_op *o, uint32_t idx, sess_key *k) {
    int64_t due = key_due(o, k);
    if (due >= k->due) return RILL_OK;
    k->due = due;
    return rill__timers_push(&o->timers, due, idx);
}

static void key_release(sess_key *k) {
    free(k->v);
    memset(k, 0, sizeof *k);
}

/* Add event ts (row of in) to key k's sessions. */
static int sess_add(sess_op *o, sess_key *k, const rill_op_input *in, size_t row, int64_t ts) {
    const rill_agg_set *set = &o->base.aggs;
    /* sessions overlapping [ts, ts + gap): start < ts + gap and ts < last + gap */
    uint32_t i = 0;
    while (i < k->n && sess_end(o, sess_at(o, k, i)) <= ts) i++;
    uint32_t j = i;
    int64_t hi = rill__time_add(ts, o->gap);
    while (j < k->n && sess_at(o, k, j)->start < hi) j++;
    if (i == j) { /* a new session at position i */
        if (k->n == k->cap) {
            uint32_t cap = k->cap ? k->cap * 2 : 2;
            char *q = realloc(k->v, (size_t)cap * o->stride);
            if (!q) return RILL_ENOMEM;
            k->v = q;
            k->cap = cap;
        }
        memmove(k->v + (size_t)(i + 1) * o->stride, k->v + (size_t)i * o->stride,
                (size_t)(k->n - i) * o->stride);
        k->n++;
        sess_hdr *h = sess_at(o, k, i);
        h->start = h->last = ts;
        h->flags = 0;
        rill__agg_block_init(set, sess_block(h));
        rill__agg_block_add(set, sess_block(h), in->cols, row, ts);
        return RILL_OK;
    }
    /* join session i, bridging i+1 .. j-1 into it */
    sess_hdr *h = sess_at(o, k, i);
    uint64_t emitted = h->flags & S_EMITTED;
    for (uint32_t m = i + 1; m < j; m++) {
        sess_hdr *x = sess_at(o, k, m);
        rill__agg_block_merge(set, sess_block(h), sess_block(x));
        if (x->last > h->last) h->last = x->last;
        emitted |= x->flags & S_EMITTED;
    }
    if (j > i + 1) {
        memmove(k->v + (size_t)(i + 1) * o->stride, k->v + (size_t)j * o->stride,
                (size_t)(k->n - j) * o->stride);
        k->n -= j - i - 1;
    }
    rill__agg_block_add(set, sess_block(h), in->cols, row, ts);
    if (ts < h->start) h->start = ts;
    if (ts > h->last) h->last = ts;
    h->flags = emitted; /* changed: not fired with this content */
    return RILL_OK;
}

static int sess_process(rill_op *op, const rill_op_input *in) {
    sess_op *o = (sess_op *)op;
    const rill_batch *b = in->b;
    op->events_in += b->len;
    rill_wm_walk walk = rill__wm_walk_start(in);
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        int crc = rill__op_catch_up(op, wm);
        if (crc) return crc;
        if (rill__time_add(rill__time_add(ts, o->gap), op->lateness) <= wm) {
            rill__op_late(op, in, row, wm);
            continue;
        }
        bool created;
        int rc;
        uint32_t idx = rill__op_upsert(op, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                       b->key_hash[row], &created, &rc);
        if (idx == RILL_KT_NONE) return rc;
        sess_key *k = rill__kt_value(&o->kt, idx);
        if (created) k->due = RILL_TIME_MAX;
        rc = sess_add(o, k, in, row, ts);
        if (!rc) rc = rill__op_mark_dirty(&o->base, idx);
        if (!rc) rc = reschedule(o, idx, k);
        if (rc) return rc;
    }
    return RILL_OK;
}

static int process_key(sess_op *o, uint32_t idx, int64_t wm) {
    sess_key *k = rill__kt_value(&o->kt, idx);
    rill_kt_entry *e = rill__kt_entry(&o->kt, idx);
    bool changed = false;
    for (uint32_t i = 0; i < k->n; i++) {
        sess_hdr *h = sess_at(o, k, i);
        int64_t end = sess_end(o, h);
        if (!(h->flags & S_FIRED) && end <= wm) {
            uint32_t flags = (h->flags & S_EMITTED) ? RILL_RECORD_UPDATE : 0;
            int rc = rill__op_emit(&o->base, rill__kt_key(e), e->klen, e->hash, h->start, end,
                                   end - 1, sess_block(h), flags, NULL, 0);
            if (rc) return rc;
            h->flags = S_FIRED | S_EMITTED;
            changed = true;
        }
    }
    uint32_t keep = 0;
    for (uint32_t i = 0; i < k->n; i++) {
        sess_hdr *h = sess_at(o, k, i);
        if ((h->flags & S_FIRED) && drop_time(o, h) <= wm) {
            changed = true;
            continue;
        }
        if (keep != i) memmove(sess_at(o, k, keep), h, o->stride);
        keep++;
    }
    k->n = keep;
    if (changed) {
        int rc = rill__op_mark_dirty(&o->base, idx);
        if (rc) return rc;
    }
    if (!k->n && !k->h.stored) {
        rill__op_drop_key(&o->base, idx);
        return RILL_OK;
    }
    k->due = RILL_TIME_MAX;
    return reschedule(o, idx, k);
}

static int sess_advance(rill_op *op, int64_t wm) {
    sess_op *o = (sess_op *)op;
    rill_timer t;
    op->wm = wm;
    while (rill__timers_pop_due(&o->timers, wm, &t)) {
        if (!rill__kt_entry(&o->kt, t.key)->live) continue;
        sess_key *k = rill__kt_value(&o->kt, t.key);
        if (k->due != t.time) continue;
        int rc = process_key(o, t.key, wm);
        if (rc) return rc;
    }
    return RILL_OK;
}

/* Record: version | n | n sessions (start | last | flags | block). */
static size_t sess_record_size(const rill_op *op, uint32_t idx) {
    const sess_op *o = (const sess_op *)op;
    const sess_key *k = rill__kt_value(&o->kt, idx);
    return k->n ? 5 + (size_t)k->n * o->stride : 0;
}

static void sess_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const sess_op *o = (const sess_op *)op;
    const sess_key *k = rill__kt_value(&o->kt, idx);
    buf[0] = RECORD_VERSION;
    memcpy(buf + 1, &k->n, 4);
    memcpy(buf + 5, k->v, (size_t)k->n * o->stride);
}

static int sess_restore_key(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen) {
    sess_op *o = (sess_op *)op;
    const char *p = val;
    uint32_t n;
    if (vlen < 5 || p[0] != RECORD_VERSION) return RILL_ECORRUPT;
    memcpy(&n, p + 1, 4);
    if (n == 0 || vlen != 5 + (size_t)n * o->stride) return RILL_ECORRUPT;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    sess_key *k = rill__kt_value(&o->kt, idx);
    k->v = malloc((size_t)n * o->stride);
    if (!k->v) {
        rill__kt_remove(&o->kt, idx);
        return RILL_ENOMEM;
    }
    memcpy(k->v, p + 5, (size_t)n * o->stride);
    k->n = k->cap = n;
    k->due = RILL_TIME_MAX;
    return reschedule(o, idx, k);
}

static int64_t sess_key_due(const rill_op *op, uint32_t idx) {
    const sess_op *o = (const sess_op *)op;
    return key_due(o, rill__kt_value(&o->kt, idx));
}

static void sess_release_key(rill_op *op, uint32_t idx) {
    key_release(rill__kt_value(&((sess_op *)op)->kt, idx));
}

static void sess_destroy(rill_op *op) {
    sess_op *o = (sess_op *)op;
    rill__op_fini_keyed(op, &o->timers);
    free(o);
}

static const rill_op_methods sess_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = sess_process,
    .advance = sess_advance,
    .record_size = sess_record_size,
    .record_encode = sess_record_encode,
    .restore_key = sess_restore_key,
    .key_due = sess_key_due,
    .release_key = sess_release_key,
    .destroy = sess_destroy,
};

int rill__op_new_session(const char *name, rill_agg_set *aggs, const rill_window_opts *opts,
                         rill_op **out, char *err, size_t errlen) {
    sess_op *o = calloc(1, sizeof *o);
    if (!o) return RILL_ENOMEM;
    int rc = rill__op_init(&o->base, &sess_methods, name, aggs, opts, err, errlen);
    if (rc) {
        free(o);
        return rc;
    }
    o->gap = opts->window.gap_ms;
    o->stride = sizeof(sess_hdr) + o->base.aggs.block_size;
    o->base.kt = &o->kt;
    if (rill__kt_init(&o->kt, sizeof(sess_key)) != RILL_OK) {
        sess_destroy(&o->base);
        snprintf(err, errlen, "operator '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    *out = &o->base;
    return RILL_OK;
}
