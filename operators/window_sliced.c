/* operators/window_sliced.c — keyed tumbling and sliding windows, on close.
 *
 * Stream slicing: the time axis is cut into slices of g = gcd(size, slide)
 * ms (aligned to the window offset), so every window start and end falls on
 * a slice boundary. Each key keeps one partial aggregate per non-empty
 * slice, never one per window: an event updates exactly one accumulator
 * block however many windows overlap it. A window is the merge of its
 * size/g slices; sliding windows get it from a per-key two-stacks FIFO over
 * the slices (fifo_agg.c), so each slice is merged O(1) times however large
 * size/slide is; tumbling windows are a single slice and skip the FIFO.
 *
 * Time rules (see include/rill/graph.h): window [w, w+size) for w on the
 * grid offset + k*slide fires when the watermark W reaches w+size. An event
 * is late when every window holding it has end + allowed lateness <= W (its
 * W: the operator's watermark just before it). An accepted event changes
 * windows that may already have fired: those still within their lateness
 * fire again (RILL_RECORD_UPDATE) at the end of the batch, recomputed by a
 * plain scan of their slices (late events are the rare case).
 *
 * Each key has one timer at its next due time: the end of its earliest
 * unfired window holding data, or the time its oldest slice falls out of the
 * allowed lateness. A key with no slices left is dropped.
 *
 * Checkpoint: one record per changed key: version, fired_upto, the slices.
 * Not done here: per-slice storage for huge windows (the whole key record is
 * rewritten when the key changes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/fifo_agg.h"
#include "operators/keytable.h"
#include "operators/operator.h"
#include "operators/timers.h"

#define RECORD_VERSION 1

typedef struct sliced_key {
    rill_key_hdr h;
    char *slices;             /* entries: start (int64) | block, sorted by start */
    uint32_t head, n, cap;    /* logical slice i at (head + i) */
    uint8_t fifo_valid;
    int64_t fired_upto;       /* largest window end emitted */
    int64_t next_end;         /* earliest unfired window end holding data */
    int64_t due;              /* time of the key's live timer */
    int64_t fifo_next;        /* slices starting before this are in the FIFO */
    rill_fifo_agg *fifo;      /* sliding only */
} sliced_key;

typedef struct refire { uint32_t key; uint32_t flags; int64_t end; } refire;

typedef struct sliced_op {
    rill_op base;
    int64_t size, slide, offset, g;
    bool tumbling;
    size_t stride; /* 8 + block */
    rill_keytable kt;
    rill_timer_heap timers;
    refire *refires;
    size_t n_refires, refires_cap;
    char *tmp;  /* one block of scratch */
} sliced_op;

/* ---- window geometry ------------------------------------------------------ */

static int64_t slice_of(const sliced_op *o, int64_t ts) {
    return rill__floor_div(ts - o->offset, o->g) * o->g + o->offset;
}
/* The latest window start at or before s. */
static int64_t w_last(const sliced_op *o, int64_t s) {
    return rill__floor_div(s - o->offset, o->slide) * o->slide + o->offset;
}
/* The earliest window start whose window holds s. */
static int64_t w_first(const sliced_op *o, int64_t s) {
    return rill__floor_div(s - o->size - o->offset, o->slide) * o->slide + o->offset + o->slide;
}
static int64_t purge_time(const sliced_op *o, int64_t s) {
    return rill__time_add(w_last(o, s) + o->size, o->base.lateness);
}

/* ---- per-key slice list --------------------------------------------------- */

static char *slice_at(const sliced_op *o, const sliced_key *k, uint32_t i) {
    return k->slices + (size_t)(k->head + i) * o->stride;
}
static int64_t slice_start(const sliced_op *o, const sliced_key *k, uint32_t i) {
    int64_t s;
    memcpy(&s, slice_at(o, k, i), 8);
    return s;
}
static char *slice_block(const sliced_op *o, const sliced_key *k, uint32_t i) {
    return slice_at(o, k, i) + 8;
}
/* First logical index with start >= s (k->n if none). */
static uint32_t slice_lower_bound(const sliced_op *o, const sliced_key *k, int64_t s) {
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (slice_start(o, k, mid) < s) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The block of slice s, inserting an empty one in order if absent. */
static char *slice_get(sliced_op *o, sliced_key *k, int64_t s, bool *created) {
    *created = false;
    /* in-order streams hit the newest slice */
    if (k->n && slice_start(o, k, k->n - 1) == s) return slice_block(o, k, k->n - 1);
    uint32_t pos = (k->n && slice_start(o, k, k->n - 1) < s) ? k->n : slice_lower_bound(o, k, s);
    if (pos < k->n && slice_start(o, k, pos) == s) return slice_block(o, k, pos);
    if (k->head + k->n == k->cap) {
        if (k->head > 0) { /* compact before growing */
            memmove(k->slices, slice_at(o, k, 0), (size_t)k->n * o->stride);
            k->head = 0;
        }
        if (k->n == k->cap) {
            uint32_t cap = k->cap ? k->cap * 2 : 2;
            char *q = realloc(k->slices, (size_t)cap * o->stride);
            if (!q) return NULL;
            k->slices = q;
            k->cap = cap;
        }
    }
    if (pos < k->n)
        memmove(slice_at(o, k, pos + 1), slice_at(o, k, pos), (size_t)(k->n - pos) * o->stride);
    k->n++;
    char *e = slice_at(o, k, pos);
    memcpy(e, &s, 8);
    rill__agg_block_init(&o->base.aggs, e + 8);
    *created = true;
    return e + 8;
}

/* ---- scheduling ----------------------------------------------------------- */

/* Earliest window end > after whose window holds a slice (RILL_TIME_MAX: none). */
static int64_t next_window_end(const sliced_op *o, const sliced_key *k, int64_t after) {
    int64_t w_min = after == RILL_TIME_MIN ? RILL_TIME_MIN : after - o->size + o->slide;
    uint32_t i = w_min == RILL_TIME_MIN ? 0 : slice_lower_bound(o, k, w_min);
    if (i >= k->n) return RILL_TIME_MAX;
    int64_t w = w_first(o, slice_start(o, k, i));
    if (w < w_min) w = w_min;
    return w + o->size;
}

static int64_t key_due(const sliced_op *o, const sliced_key *k) {
    if (!k->n) return RILL_TIME_MAX;
    int64_t p = purge_time(o, slice_start(o, k, 0));
    return k->next_end < p ? k->next_end : p;
}

static int schedule(sliced_op *o, uint32_t idx, sliced_key *k) {
    int64_t due = key_due(o, k);
    if (due == k->due || due == RILL_TIME_MAX) {
        k->due = due;
        return RILL_OK;
    }
    k->due = due;
    return rill__timers_push(&o->timers, due, idx);
}

static void key_release(sliced_key *k) {
    free(k->slices);
    if (k->fifo) {
        rill__fifo_free(k->fifo);
        free(k->fifo);
    }
    memset(k, 0, sizeof *k);
}

/* ---- firing --------------------------------------------------------------- */

static int emit_window(sliced_op *o, uint32_t idx, int64_t end, const void *block, uint32_t flags) {
    rill_kt_entry *e = rill__kt_entry(&o->kt, idx);
    return rill__op_emit(&o->base, rill__kt_key(e), e->klen, e->hash, end - o->size, end,
                         end - 1, block, flags, NULL, 0);
}

/* Aggregate of window [end-size, end) by scanning its slices. */
static void scan_window(sliced_op *o, const sliced_key *k, int64_t end, void *out) {
    rill__agg_block_init(&o->base.aggs, out);
    for (uint32_t i = slice_lower_bound(o, k, end - o->size); i < k->n; i++) {
        if (slice_start(o, k, i) >= end) break;
        rill__agg_block_merge(&o->base.aggs, out, slice_block(o, k, i));
    }
}

/* Whether window [end-size, end) holds a slice other than s. */
static bool window_has_other_slice(const sliced_op *o, const sliced_key *k, int64_t end, int64_t s) {
    for (uint32_t i = slice_lower_bound(o, k, end - o->size); i < k->n; i++) {
        int64_t t = slice_start(o, k, i);
        if (t >= end) break;
        if (t != s) return true;
    }
    return false;
}

/* Aggregate of window [end-size, end) through the key's FIFO. */
static int fifo_window(sliced_op *o, sliced_key *k, int64_t end, void *out) {
    if (!k->fifo) {
        k->fifo = malloc(sizeof *k->fifo);
        if (!k->fifo || rill__fifo_init(k->fifo, &o->base.aggs) != RILL_OK) {
            free(k->fifo);
            k->fifo = NULL;
            return RILL_ENOMEM;
        }
        k->fifo_valid = 0;
    }
    int64_t start = end - o->size;
    if (!k->fifo_valid) {
        rill__fifo_clear(k->fifo);
        k->fifo_next = start;
        k->fifo_valid = 1;
    }
    while (rill__fifo_len(k->fifo) && rill__fifo_stamp(k->fifo, 0) < start) rill__fifo_pop(k->fifo);
    if (k->fifo_next < start) k->fifo_next = start;
    for (uint32_t i = slice_lower_bound(o, k, k->fifo_next); i < k->n; i++) {
        int64_t s = slice_start(o, k, i);
        if (s >= end) break;
        if (rill__fifo_push(k->fifo, s, slice_block(o, k, i)) != RILL_OK) {
            k->fifo_valid = 0;
            return RILL_ENOMEM;
        }
    }
    k->fifo_next = end;
    rill__fifo_query(k->fifo, out);
    return RILL_OK;
}

/* Fire what is due for key idx at watermark wm, drop what is past lateness. */
static int process_key(sliced_op *o, uint32_t idx, int64_t wm) {
    sliced_key *k = rill__kt_value(&o->kt, idx);
    int rc = RILL_OK;
    while (k->next_end != RILL_TIME_MAX && k->next_end <= wm) {
        int64_t end = k->next_end;
        const void *block;
        if (o->tumbling) {
            uint32_t i = slice_lower_bound(o, k, end - o->size);
            block = slice_block(o, k, i); /* next_end guarantees it exists */
        } else {
            if ((rc = fifo_window(o, k, end, o->tmp)) != RILL_OK) return rc;
            block = o->tmp;
        }
        if ((rc = emit_window(o, idx, end, block, 0)) != RILL_OK) return rc;
        k = rill__kt_value(&o->kt, idx);
        k->fired_upto = end;
        k->next_end = next_window_end(o, k, end);
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
    }
    /* drop slices whose every window is past the allowed lateness */
    uint32_t drop = 0;
    while (drop < k->n && purge_time(o, slice_start(o, k, drop)) <= wm) drop++;
    if (drop) {
        if (k->fifo && k->fifo_valid) {
            int64_t last_dropped = slice_start(o, k, drop - 1);
            while (rill__fifo_len(k->fifo) && rill__fifo_stamp(k->fifo, 0) <= last_dropped)
                rill__fifo_pop(k->fifo);
        }
        k->head += drop;
        k->n -= drop;
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
    }
    if (!k->n) {
        if (!k->h.stored) { /* never persisted: nothing to delete later */
            rill__op_drop_key(&o->base, idx);
            return RILL_OK;
        }
        k->next_end = RILL_TIME_MAX;
        k->due = RILL_TIME_MAX;
        return RILL_OK;
    }
    return schedule(o, idx, k);
}

static int sliced_advance(rill_op *op, int64_t wm) {
    sliced_op *o = (sliced_op *)op;
    rill_timer t;
    op->wm = wm;
    while (rill__timers_pop_due(&o->timers, wm, &t)) {
        rill_kt_entry *e = rill__kt_entry(&o->kt, t.key);
        if (!e->live) continue;
        sliced_key *k = rill__kt_value(&o->kt, t.key);
        if (k->due != t.time) continue; /* superseded */
        k->due = RILL_TIME_MAX;
        int rc = process_key(o, t.key, wm);
        if (rc) return rc;
    }
    return RILL_OK;
}

/* ---- adding events -------------------------------------------------------- */

static int add_refire(sliced_op *o, uint32_t idx, int64_t end, uint32_t flags) {
    if (o->n_refires == o->refires_cap) {
        size_t cap = o->refires_cap ? o->refires_cap * 2 : 64;
        refire *q = realloc(o->refires, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        o->refires = q;
        o->refires_cap = cap;
    }
    o->refires[o->n_refires++] = (refire){ idx, flags, end };
    return RILL_OK;
}

static int refire_cmp(const void *a, const void *b) {
    const refire *x = a, *y = b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->flags < y->flags ? -1 : x->flags > y->flags; /* a first emission sorts first */
}

static bool same_window(const refire *x, const refire *y) { return x->end == y->end && x->key == y->key; }

static int flush_refires(sliced_op *o) {
    qsort(o->refires, o->n_refires, sizeof *o->refires, refire_cmp);
    for (size_t i = 0; i < o->n_refires; i++) {
        if (i && same_window(&o->refires[i], &o->refires[i - 1])) continue;
        sliced_key *k = rill__kt_value(&o->kt, o->refires[i].key);
        scan_window(o, k, o->refires[i].end, o->tmp);
        int rc = emit_window(o, o->refires[i].key, o->refires[i].end, o->tmp, o->refires[i].flags);
        if (rc) return rc;
    }
    o->n_refires = 0;
    return RILL_OK;
}

static int sliced_process(rill_op *op, const rill_op_input *in) {
    sliced_op *o = (sliced_op *)op;
    const rill_batch *b = in->b;
    op->events_in += b->len;
    rill_wm_walk walk = rill__wm_walk_start(in);
    int rc = RILL_OK;
    for (size_t row = 0; row < b->len; row++) {
        /* hide the memory latency of large key tables: slots 16 rows ahead,
         * entries 8 ahead, the newest slice of a key 4 ahead */
        if (row + 16 < b->len) rill__kt_prefetch_slot(&o->kt, b->key_hash[row + 16]);
        if (row + 8 < b->len) rill__kt_prefetch_entry(&o->kt, b->key_hash[row + 8]);
        if (op->cold.count) { /* evicted keys: each event looks there first */
            if (row + 16 < b->len) rill__kt_prefetch_slot(&op->cold, b->key_hash[row + 16]);
            if (row + 8 < b->len) rill__kt_prefetch_entry(&op->cold, b->key_hash[row + 8]);
        }
        if (row + 4 < b->len) {
            const rill_kt_entry *pe = rill__kt_prefetch_entry(&o->kt, b->key_hash[row + 4]);
            if (pe) {
                const sliced_key *pk = (const void *)(pe + 1);
                if (pk->n) __builtin_prefetch(slice_at(o, pk, pk->n - 1));
            }
        }
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        if (wm > op->wm) {
            /* refires first: the catch-up may drop the keys they name */
            if (o->n_refires && (rc = flush_refires(o)) != RILL_OK) return rc;
            if ((rc = op->m->advance(op, wm)) != RILL_OK) return rc;
        }
        int64_t s = slice_of(o, ts);
        if (purge_time(o, s) <= wm) {
            rill__op_late(op, in, row, wm);
            continue;
        }
        bool created;
        uint32_t idx = rill__op_upsert(op, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                       b->key_hash[row], &created, &rc);
        if (idx == RILL_KT_NONE) return rc;
        sliced_key *k = rill__kt_value(&o->kt, idx);
        if (created) {
            k->fired_upto = RILL_TIME_MIN;
            k->next_end = RILL_TIME_MAX;
            k->due = RILL_TIME_MAX;
        }
        char *block = slice_get(o, k, s, &created);
        if (!block) return RILL_ENOMEM;
        rill__agg_block_add(&op->aggs, block, in->cols, row, ts);
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
        if (k->fifo_valid && s < k->fifo_next) k->fifo_valid = 0; /* its copy is stale */
        int64_t e_first = w_first(o, s) + o->size;
        if (e_first <= k->fired_upto) {
            /* windows already emitted and still within lateness fire again */
            int64_t lo = e_first;
            int64_t min_open = rill__time_add(wm, -op->lateness) + 1; /* e + L > wm */
            if (lo < min_open) lo = o->offset + o->size +
                rill__floor_div(min_open - o->offset - o->size + o->slide - 1, o->slide) * o->slide;
            int64_t hi = w_last(o, s) + o->size;
            if (hi > k->fired_upto) hi = k->fired_upto;
            for (int64_t e = lo; e <= hi; e += o->slide) {
                /* a window that had no data when it was due was never emitted */
                uint32_t flags = RILL_RECORD_UPDATE;
                if (created && !window_has_other_slice(o, k, e, s)) flags = 0;
                if ((rc = add_refire(o, idx, e, flags)) != RILL_OK) return rc;
            }
        }
        if (created) {
            /* the slice's earliest unfired window may come before next_end */
            int64_t w = w_first(o, s);
            if (k->fired_upto != RILL_TIME_MIN && w < k->fired_upto - o->size + o->slide)
                w = k->fired_upto - o->size + o->slide;
            /* not a window this event is late for (e + lateness <= wm) */
            int64_t min_end = rill__time_add(wm, -op->lateness) + 1;
            if (w + o->size < min_end)
                w = o->offset + rill__floor_div(min_end - o->size - o->offset + o->slide - 1, o->slide) * o->slide;
            if (w <= w_last(o, s) && w + o->size < k->next_end) k->next_end = w + o->size;
            int64_t due = key_due(o, k);
            if (due < k->due) {
                k->due = due;
                if ((rc = rill__timers_push(&o->timers, due, idx)) != RILL_OK) return rc;
            }
        }
    }
    return o->n_refires ? flush_refires(o) : RILL_OK;
}

/* ---- checkpoint / restore ------------------------------------------------- */

/* Record: version | fired_upto | n | n slices (start | block). */
static size_t sliced_record_size(const rill_op *op, uint32_t idx) {
    const sliced_op *o = (const sliced_op *)op;
    const sliced_key *k = rill__kt_value(&o->kt, idx);
    return k->n ? 1 + 8 + 4 + (size_t)k->n * o->stride : 0;
}

static void sliced_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const sliced_op *o = (const sliced_op *)op;
    const sliced_key *k = rill__kt_value(&o->kt, idx);
    buf[0] = RECORD_VERSION;
    memcpy(buf + 1, &k->fired_upto, 8);
    memcpy(buf + 9, &k->n, 4);
    memcpy(buf + 13, slice_at(o, k, 0), (size_t)k->n * o->stride);
}

static int sliced_restore_key(rill_op *op, const void *key, size_t klen, const void *val,
                              size_t vlen) {
    sliced_op *o = (sliced_op *)op;
    const char *p = val;
    uint32_t n;
    if (vlen < 13 || p[0] != RECORD_VERSION) return RILL_ECORRUPT;
    memcpy(&n, p + 9, 4);
    if (vlen != 13 + (size_t)n * o->stride || n == 0) return RILL_ECORRUPT;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    sliced_key *k = rill__kt_value(&o->kt, idx);
    k->slices = malloc((size_t)n * o->stride);
    if (!k->slices) {
        rill__kt_remove(&o->kt, idx);
        return RILL_ENOMEM;
    }
    memcpy(&k->fired_upto, p + 1, 8);
    memcpy(k->slices, p + 13, (size_t)n * o->stride);
    k->n = k->cap = n;
    k->due = RILL_TIME_MAX;
    k->next_end = next_window_end(o, k, k->fired_upto);
    return schedule(o, idx, k);
}

static int64_t sliced_key_due(const rill_op *op, uint32_t idx) {
    const sliced_op *o = (const sliced_op *)op;
    return key_due(o, rill__kt_value(&o->kt, idx));
}

static void sliced_release_key(rill_op *op, uint32_t idx) {
    key_release(rill__kt_value(&((sliced_op *)op)->kt, idx));
}

static void sliced_destroy(rill_op *op) {
    sliced_op *o = (sliced_op *)op;
    free(o->refires);
    free(o->tmp);
    rill__op_fini_keyed(op, &o->timers);
    free(o);
}

static const rill_op_methods sliced_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = sliced_process,
    .advance = sliced_advance,
    .record_size = sliced_record_size,
    .record_encode = sliced_record_encode,
    .restore_key = sliced_restore_key,
    .key_due = sliced_key_due,
    .release_key = sliced_release_key,
    .destroy = sliced_destroy,
};

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int rill__op_new_sliced(const char *name, rill_agg_set *aggs, const rill_window_opts *opts,
                        rill_op **out, char *err, size_t errlen) {
    sliced_op *o = calloc(1, sizeof *o);
    if (!o) return RILL_ENOMEM;
    int rc = rill__op_init(&o->base, &sliced_methods, name, aggs, opts, err, errlen);
    if (rc) {
        free(o);
        return rc;
    }
    o->size = opts->window.size_ms;
    o->slide = opts->window.kind == RILL_WINDOW_TUMBLING ? o->size : opts->window.slide_ms;
    o->offset = opts->window.offset_ms;
    o->g = gcd64(o->size, o->slide);
    o->tumbling = o->size == o->slide;
    o->stride = 8 + o->base.aggs.block_size;
    o->base.kt = &o->kt;
    o->tmp = malloc(o->base.aggs.block_size ? o->base.aggs.block_size : 1);
    if (!o->tmp || rill__kt_init(&o->kt, sizeof(sliced_key)) != RILL_OK) {
        sliced_destroy(&o->base);
        snprintf(err, errlen, "operator '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    *out = &o->base;
    return RILL_OK;
}
