/* operators/window_global.c — keyed global windows with triggers.
 *
 * One accumulator per key for all time; a trigger decides when it emits:
 *   every event  — a record per event, the key's aggregate as of it;
 *   every N      — when the key's event count reaches a multiple of N;
 *   every T ms   — each time the watermark passes a multiple b of T, every
 *                  key that changed emits its aggregate over exactly its
 *                  events with ts < b.
 * For the event-time trigger to be exact, events at or after the next
 * boundary wait in per-key slices of T ms and are folded into the total in
 * time order as the watermark passes their slice's end. An event for a
 * boundary already passed (behind the watermark) goes straight into the
 * total and shows at the next boundary. Nothing is ever late here.
 * At end of input (watermark at the end of time) every key that changed
 * since its last record emits once more.
 * Records: start = the key's first event time, end = the boundary (every T)
 * or the newest event time + 1, ts = end - 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/keytable.h"
#include "operators/operator.h"
#include "operators/timers.h"

#define RECORD_VERSION 1

typedef struct glob_key {
    rill_key_hdr h;
    uint64_t count;       /* events so far */
    uint64_t unemitted;   /* events since the last record */
    int64_t first_ts, last_ts;
    int64_t due;
    char *pending;        /* every T: slices (start | block), sorted */
    uint32_t n_pending, cap_pending;
    /* the total block follows (8-aligned) */
} glob_key;

typedef struct glob_op {
    rill_op base;
    rill_trigger_kind trigger;
    int64_t every;
    size_t stride; /* pending slice: 8 + block */
    rill_keytable kt;
    rill_timer_heap timers;
} glob_op;

static char *total_of(glob_key *k) { return (char *)(k + 1); }

static int emit_key(glob_op *o, uint32_t idx, int64_t end) {
    rill_kt_entry *e = rill__kt_entry(&o->kt, idx);
    glob_key *k = rill__kt_value(&o->kt, idx);
    k->unemitted = 0;
    return rill__op_emit(&o->base, rill__kt_key(e), e->klen, e->hash, k->first_ts, end, end - 1,
                         total_of(k), 0, NULL, 0);
}

/* The pending slice starting at s, created if absent. */
static char *pending_slice(glob_op *o, glob_key *k, int64_t s) {
    uint32_t i = k->n_pending;
    while (i > 0) {
        int64_t t;
        memcpy(&t, k->pending + (size_t)(i - 1) * o->stride, 8);
        if (t == s) return k->pending + (size_t)(i - 1) * o->stride + 8;
        if (t < s) break;
        i--;
    }
    if (k->n_pending == k->cap_pending) {
        uint32_t cap = k->cap_pending ? k->cap_pending * 2 : 2;
        char *q = realloc(k->pending, (size_t)cap * o->stride);
        if (!q) return NULL;
        k->pending = q;
        k->cap_pending = cap;
    }
    char *at = k->pending + (size_t)i * o->stride;
    memmove(at + o->stride, at, (size_t)(k->n_pending - i) * o->stride);
    k->n_pending++;
    memcpy(at, &s, 8);
    rill__agg_block_init(&o->base.aggs, at + 8);
    return at + 8;
}

static int64_t next_boundary(const glob_op *o, int64_t t) {
    return rill__time_add(rill__floor_div(t, o->every) * o->every, o->every);
}

static int arm(glob_op *o, uint32_t idx, glob_key *k, int64_t due) {
    if (due >= k->due) return RILL_OK;
    k->due = due;
    return rill__timers_push(&o->timers, due, idx);
}

static int glob_process(rill_op *op, const rill_op_input *in) {
    glob_op *o = (glob_op *)op;
    const rill_batch *b = in->b;
    op->events_in += b->len;
    int rc;
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        bool created;
        uint32_t idx = rill__op_upsert(op, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                       b->key_hash[row], &created, &rc);
        if (idx == RILL_KT_NONE) return rc;
        glob_key *k = rill__kt_value(&o->kt, idx);
        if (created) {
            k->first_ts = k->last_ts = ts;
            k->due = RILL_TIME_MAX;
            rill__agg_block_init(&op->aggs, total_of(k));
        }
        if (ts < k->first_ts) k->first_ts = ts;
        if (ts > k->last_ts) k->last_ts = ts;
        k->count++;
        k->unemitted++;
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
        if (o->trigger == RILL_TRIGGER_EVERY_MS) {
            int64_t s = rill__floor_div(ts, o->every) * o->every;
            int64_t end = rill__time_add(s, o->every);
            if (end <= op->wm) { /* its boundary has passed: shows at the next one */
                rill__agg_block_add(&op->aggs, total_of(k), in->cols, row, ts);
                rc = arm(o, idx, k, next_boundary(o, op->wm));
            } else {
                char *blk = pending_slice(o, k, s);
                if (!blk) return RILL_ENOMEM;
                rill__agg_block_add(&op->aggs, blk, in->cols, row, ts);
                rc = arm(o, idx, k, end);
            }
            if (rc) return rc;
            continue;
        }
        rill__agg_block_add(&op->aggs, total_of(k), in->cols, row, ts);
        if (o->trigger == RILL_TRIGGER_EVERY_EVENT ||
            (o->trigger == RILL_TRIGGER_EVERY_N && k->count % (uint64_t)o->every == 0)) {
            if ((rc = rill__op_emit(op, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                    b->key_hash[row], k->first_ts, rill__time_add(k->last_ts, 1),
                                    ts, total_of(k), 0, NULL, 0)) != RILL_OK)
                return rc;
            k->unemitted = 0;
        }
    }
    return RILL_OK;
}

/* Every T: fold the key's slices that ended by wm, one record per slice. */
static int fold_due(glob_op *o, uint32_t idx, int64_t wm) {
    glob_key *k = rill__kt_value(&o->kt, idx);
    uint32_t done = 0;
    int rc = RILL_OK;
    while (done < k->n_pending) {
        int64_t s;
        char *at = k->pending + (size_t)done * o->stride;
        memcpy(&s, at, 8);
        int64_t end = rill__time_add(s, o->every);
        if (end > wm) break;
        rill__agg_block_merge(&o->base.aggs, total_of(k), at + 8);
        done++;
        if ((rc = emit_key(o, idx, end)) != RILL_OK) break;
        k = rill__kt_value(&o->kt, idx);
    }
    if (done) {
        memmove(k->pending, k->pending + (size_t)done * o->stride,
                (size_t)(k->n_pending - done) * o->stride);
        k->n_pending -= done;
    }
    if (rc) return rc;
    if (k->unemitted && k->n_pending == 0 && wm != RILL_TIME_MAX) {
        /* only behind-the-watermark events changed it: the boundary just passed */
        int64_t b = rill__floor_div(wm, o->every) * o->every;
        if ((rc = emit_key(o, idx, b)) != RILL_OK) return rc;
    }
    k->due = RILL_TIME_MAX;
    if (k->n_pending) {
        int64_t s;
        memcpy(&s, k->pending, 8);
        rc = arm(o, idx, k, rill__time_add(s, o->every));
    }
    return rc ? rc : rill__op_mark_dirty(&o->base, idx);
}

static int glob_advance(rill_op *op, int64_t wm) {
    glob_op *o = (glob_op *)op;
    op->wm = wm;
    rill_timer t;
    while (rill__timers_pop_due(&o->timers, wm, &t)) {
        if (!rill__kt_entry(&o->kt, t.key)->live) continue;
        glob_key *k = rill__kt_value(&o->kt, t.key);
        if (k->due != t.time) continue;
        int rc = fold_due(o, t.key, wm);
        if (rc) return rc;
    }
    if (wm == RILL_TIME_MAX) { /* end of input: what changed emits once more */
        for (size_t i = 0; i < o->kt.n_entries; i++) {
            if (!rill__kt_entry(&o->kt, (uint32_t)i)->live) continue;
            glob_key *k = rill__kt_value(&o->kt, (uint32_t)i);
            if (!k->unemitted) continue;
            int rc = emit_key(o, (uint32_t)i, rill__time_add(k->last_ts, 1));
            if (!rc) rc = rill__op_mark_dirty(&o->base, (uint32_t)i);
            if (rc) return rc;
        }
    }
    return RILL_OK;
}

/* Record: version | count | unemitted | first_ts | last_ts | n_pending |
 * total block | n_pending slices (start | block). Global keys always have
 * state, so a key is never deleted. */
#define HEAD_BYTES (1 + 4 * 8 + 4)

static size_t glob_record_size(const rill_op *op, uint32_t idx) {
    const glob_op *o = (const glob_op *)op;
    const glob_key *k = rill__kt_value(&o->kt, idx);
    return HEAD_BYTES + op->aggs.block_size + (size_t)k->n_pending * o->stride;
}

static void glob_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const glob_op *o = (const glob_op *)op;
    glob_key *k = rill__kt_value(&o->kt, idx);
    buf[0] = RECORD_VERSION;
    memcpy(buf + 1, &k->count, 8);
    memcpy(buf + 9, &k->unemitted, 8);
    memcpy(buf + 17, &k->first_ts, 8);
    memcpy(buf + 25, &k->last_ts, 8);
    memcpy(buf + 33, &k->n_pending, 4);
    memcpy(buf + HEAD_BYTES, total_of(k), op->aggs.block_size);
    if (k->n_pending)
        memcpy(buf + HEAD_BYTES + op->aggs.block_size, k->pending, (size_t)k->n_pending * o->stride);
}

/* When a key not in memory must be back: its first pending slice's end,
 * or (every T) the next boundary for events that went straight into the
 * total. RILL_TIME_MAX: only an event or the end of input needs it. */
static int64_t glob_due(const glob_op *o, const glob_key *k) {
    if (k->n_pending) {
        int64_t s;
        memcpy(&s, k->pending, 8);
        return rill__time_add(s, o->every);
    }
    if (k->unemitted && o->trigger == RILL_TRIGGER_EVERY_MS && o->base.wm != RILL_TIME_MIN)
        return next_boundary(o, o->base.wm);
    return RILL_TIME_MAX;
}

static int glob_restore_key(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen) {
    glob_op *o = (glob_op *)op;
    const char *p = val;
    size_t head = HEAD_BYTES;
    uint32_t n;
    if (vlen < head + op->aggs.block_size || p[0] != RECORD_VERSION) return RILL_ECORRUPT;
    memcpy(&n, p + 33, 4);
    if (vlen != head + op->aggs.block_size + (size_t)n * o->stride) return RILL_ECORRUPT;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    glob_key *k = rill__kt_value(&o->kt, idx);
    if (n) {
        k->pending = malloc((size_t)n * o->stride);
        if (!k->pending) {
            rill__kt_remove(&o->kt, idx);
            return RILL_ENOMEM;
        }
        memcpy(k->pending, p + head + op->aggs.block_size, (size_t)n * o->stride);
    }
    k->n_pending = k->cap_pending = n;
    memcpy(&k->count, p + 1, 8);
    memcpy(&k->unemitted, p + 9, 8);
    memcpy(&k->first_ts, p + 17, 8);
    memcpy(&k->last_ts, p + 25, 8);
    memcpy(total_of(k), p + head, op->aggs.block_size);
    k->due = RILL_TIME_MAX;
    int64_t due = glob_due(o, k);
    return due == RILL_TIME_MAX ? RILL_OK : arm(o, idx, k, due);
}

static int64_t glob_key_due(const rill_op *op, uint32_t idx) {
    const glob_op *o = (const glob_op *)op;
    return glob_due(o, rill__kt_value(&o->kt, idx));
}

static void glob_release_key(rill_op *op, uint32_t idx) {
    free(((glob_key *)rill__kt_value(&((glob_op *)op)->kt, idx))->pending);
}

static void glob_destroy(rill_op *op) {
    glob_op *o = (glob_op *)op;
    rill__op_fini_keyed(op, &o->timers);
    free(o);
}

static const rill_op_methods glob_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = glob_process,
    .advance = glob_advance,
    .record_size = glob_record_size,
    .record_encode = glob_record_encode,
    .restore_key = glob_restore_key,
    .key_due = glob_key_due,
    .release_key = glob_release_key,
    .destroy = glob_destroy,
};

int rill__op_new_global(const char *name, rill_agg_set *aggs, const rill_window_opts *opts,
                        rill_op **out, char *err, size_t errlen) {
    glob_op *o = calloc(1, sizeof *o);
    if (!o) return RILL_ENOMEM;
    int rc = rill__op_init(&o->base, &glob_methods, name, aggs, opts, err, errlen);
    if (rc) {
        free(o);
        return rc;
    }
    o->trigger = opts->window.trigger;
    o->every = opts->window.trigger_every > 0 ? opts->window.trigger_every : 1;
    o->stride = 8 + o->base.aggs.block_size;
    o->base.kt = &o->kt;
    if (rill__kt_init(&o->kt, sizeof(glob_key) + o->base.aggs.block_size) != RILL_OK) {
        glob_destroy(&o->base);
        snprintf(err, errlen, "operator '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    *out = &o->base;
    return RILL_OK;
}
