/* operators/window_on_event.c — on-event emission for sliding, tumbling and
 * session windows: one record per event, as of that event.
 *
 * The point-in-time feature: for an event at t the value over the key's
 * events in the trailing window (t - size, t] (sliding), in its tumbling
 * window so far [start, t], or in its session so far. Events at the same ms
 * count in arrival order, so each event sees itself and those before it.
 *
 * An event is emitted once the watermark reaches its time (W >= t), when no
 * on-time event can still fall before it; in an in-order stream with no
 * out-of-orderness bound that is at once. Until then it waits in its key's
 * pending list, sorted by (t, arrival). For the trailing window, emitted
 * events enter the key's two-stacks FIFO (fifo_agg.c) as single-event
 * partial aggregates and leave it from the front once older than t - size,
 * so every record costs O(1) amortised merges for any aggregate. Tumbling
 * and session windows only grow until they restart (another window, or a
 * gap >= the session gap), so their FIFO is kept collapsed to one element,
 * the aggregate so far, which keeps their state (and each commit) small.
 *
 * An event behind the watermark (t < W) is late: records already emitted
 * cannot be revised, so it goes to the late output whatever the allowed
 * lateness.
 *
 * A key whose emitted events can no longer fall in any future event's window
 * (the watermark passed the newest one's time + size, its tumbling window's
 * end, or + gap) drops them, and with nothing waiting the key is dropped too,
 * so a stream of ever new keys does not grow memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/fifo_agg.h"
#include "operators/keytable.h"
#include "operators/operator.h"
#include "operators/timers.h"

#define RECORD_VERSION 2

typedef struct pend_hdr {
    int64_t ts;
    uint64_t seq;
    unsigned char *id; /* canonical id bytes (owned) or NULL */
    uint64_t idlen;
} pend_hdr; /* followed by the event's block */

typedef struct oe_key {
    rill_key_hdr h;
    rill_fifo_agg fifo;   /* emitted events still in the window */
    char *pend;           /* waiting events, sorted by (ts, seq) */
    uint32_t n_pend, cap_pend;
    uint64_t next_seq;
    int64_t due;
    int64_t run_start;    /* session so far: its first event's time */
    uint8_t fifo_ready;
} oe_key;

typedef struct oe_op oe_op;
/* Drop from f what is outside the window of an event at ts; return the
 * window's start. One per window kind, chosen at compile time. */
typedef int64_t (*evict_fn)(const oe_op *o, oe_key *k, int64_t ts);
/* The watermark at which a key whose newest emitted event is at `newest`
 * has nothing left in any future event's window. */
typedef int64_t (*expiry_fn)(const oe_op *o, int64_t newest);

struct oe_op {
    rill_op base;
    evict_fn evict;
    /* Tumbling and session windows only ever grow until they restart, so
     * their FIFO is kept collapsed to one element: the aggregate so far. */
    bool collapse;
    expiry_fn expiry;
    int64_t size, offset, gap;
    size_t pstride; /* pend_hdr + block */
    rill_keytable kt;
    rill_timer_heap timers;
    char *one;  /* scratch block: a single event */
    char *tmp;  /* scratch block: the window */
};

static pend_hdr *pend_at(const oe_op *o, const oe_key *k, uint32_t i) {
    return (pend_hdr *)(void *)(k->pend + (size_t)i * o->pstride);
}

static int key_ready(oe_op *o, oe_key *k) {
    if (k->fifo_ready) return RILL_OK;
    if (rill__fifo_init(&k->fifo, &o->base.aggs) != RILL_OK) return RILL_ENOMEM;
    k->fifo_ready = 1;
    return RILL_OK;
}

static void oe_release_key(rill_op *op, uint32_t idx) {
    oe_op *o = (oe_op *)op;
    oe_key *k = rill__kt_value(&o->kt, idx);
    for (uint32_t j = 0; j < k->n_pend; j++) free(pend_at(o, k, j)->id);
    if (k->fifo_ready) rill__fifo_free(&k->fifo);
    free(k->pend);
    memset(k, 0, sizeof *k);
}

static int64_t tumble_start(const oe_op *o, int64_t t) {
    return rill__floor_div(t - o->offset, o->size) * o->size + o->offset;
}

static int64_t evict_trailing(const oe_op *o, oe_key *k, int64_t ts) {
    rill_fifo_agg *f = &k->fifo;
    while (rill__fifo_len(f) && rill__fifo_stamp(f, 0) <= ts - o->size) rill__fifo_pop(f);
    return ts - o->size + 1;
}

static int64_t evict_tumbling(const oe_op *o, oe_key *k, int64_t ts) {
    rill_fifo_agg *f = &k->fifo;
    int64_t start = tumble_start(o, ts);
    if (rill__fifo_len(f) && rill__fifo_back_stamp(f) < start) rill__fifo_clear(f);
    return start;
}

static int64_t evict_session(const oe_op *o, oe_key *k, int64_t ts) {
    rill_fifo_agg *f = &k->fifo;
    if (rill__fifo_len(f) && ts - rill__fifo_back_stamp(f) >= o->gap) rill__fifo_clear(f);
    if (!rill__fifo_len(f)) k->run_start = ts;
    return k->run_start;
}

static int64_t expiry_trailing(const oe_op *o, int64_t newest) { return rill__time_add(newest, o->size); }
static int64_t expiry_tumbling(const oe_op *o, int64_t newest) {
    return rill__time_add(tumble_start(o, newest), o->size);
}
static int64_t expiry_session(const oe_op *o, int64_t newest) { return rill__time_add(newest, o->gap); }

/* When key k next needs the watermark: its first waiting event, or the time
 * its emitted events all leave the window (then the key can go). */
static int64_t oe_due(const oe_op *o, const oe_key *k) {
    int64_t due = RILL_TIME_MAX;
    if (k->fifo_ready && rill__fifo_len(&k->fifo)) due = o->expiry(o, rill__fifo_back_stamp(&k->fifo));
    if (k->n_pend && pend_at(o, k, 0)->ts < due) due = pend_at(o, k, 0)->ts;
    return due;
}

/* Make sure a timer fires no later than the key's due time (an early one
 * finds nothing to do and re-arms). */
static int arm(oe_op *o, uint32_t idx, oe_key *k) {
    int64_t due = oe_due(o, k);
    if (due >= k->due) return RILL_OK;
    k->due = due;
    return rill__timers_push(&o->timers, due, idx);
}

/* Emit the event (ts, block, id) of key idx: drop what left its window,
 * push it, and record the aggregate of the FIFO. */
static int emit_event(oe_op *o, uint32_t idx, int64_t ts, const void *block, const void *id,
                      size_t idlen) {
    oe_key *k = rill__kt_value(&o->kt, idx);
    rill_fifo_agg *f = &k->fifo;
    int64_t start = o->evict(o, k, ts);
    int rc = rill__fifo_push(f, ts, block);
    if (rc) return rc;
    rill__fifo_query(f, o->tmp);
    if (o->collapse) { /* keep only the aggregate so far, stamped with ts */
        rill__fifo_clear(f);
        if ((rc = rill__fifo_push(f, ts, o->tmp)) != RILL_OK) return rc;
    }
    rill_kt_entry *e = rill__kt_entry(&o->kt, idx);
    return rill__op_emit(&o->base, rill__kt_key(e), e->klen, e->hash, start,
                         rill__time_add(ts, 1), ts, o->tmp, 0, id, idlen);
}

/* Emit the key's waiting events with ts <= wm, in order. */
static int drain(oe_op *o, uint32_t idx, int64_t wm) {
    oe_key *k = rill__kt_value(&o->kt, idx);
    uint32_t done = 0;
    int rc = RILL_OK;
    while (done < k->n_pend && pend_at(o, k, done)->ts <= wm) {
        pend_hdr *h = pend_at(o, k, done);
        rc = emit_event(o, idx, h->ts, h + 1, h->id, h->idlen);
        if (rc) break;
        free(h->id);
        done++;
    }
    if (done) {
        memmove(k->pend, k->pend + (size_t)done * o->pstride, (size_t)(k->n_pend - done) * o->pstride);
        k->n_pend -= done;
        int drc = rill__op_mark_dirty(&o->base, idx); /* its FIFO and waiting list changed */
        if (!rc) rc = drc;
    }
    return rc ? rc : arm(o, idx, k);
}

static int add_pending(oe_op *o, oe_key *k, int64_t ts, const void *block, const void *id, size_t idlen) {
    if (k->n_pend == k->cap_pend) {
        uint32_t cap = k->cap_pend ? k->cap_pend * 2 : 4;
        char *q = realloc(k->pend, (size_t)cap * o->pstride);
        if (!q) return RILL_ENOMEM;
        k->pend = q;
        k->cap_pend = cap;
    }
    unsigned char *idcopy = NULL;
    if (idlen) {
        idcopy = malloc(idlen);
        if (!idcopy) return RILL_ENOMEM;
        memcpy(idcopy, id, idlen);
    }
    uint32_t i = k->n_pend;
    while (i > 0 && pend_at(o, k, i - 1)->ts > ts) i--; /* after equal ts: arrival order */
    memmove(k->pend + (size_t)(i + 1) * o->pstride, k->pend + (size_t)i * o->pstride,
            (size_t)(k->n_pend - i) * o->pstride);
    k->n_pend++;
    pend_hdr *h = pend_at(o, k, i);
    h->ts = ts;
    h->seq = k->next_seq++;
    h->id = idcopy;
    h->idlen = idlen;
    memcpy(h + 1, block, o->base.aggs.block_size);
    return RILL_OK;
}

static int oe_process(rill_op *op, const rill_op_input *in) {
    oe_op *o = (oe_op *)op;
    const rill_batch *b = in->b;
    op->events_in += b->len;
    rill_wm_walk walk = rill__wm_walk_start(in);
    int rc;
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        int crc = rill__op_catch_up(op, wm);
        if (crc) return crc;
        if (ts < wm) {
            rill__op_late(op, in, row, wm);
            continue;
        }
        bool created;
        uint32_t idx = rill__op_upsert(op, rill__batch_bytes(b, b->key[row]), b->key[row].len,
                                       b->key_hash[row], &created, &rc);
        if (idx == RILL_KT_NONE) return rc;
        oe_key *k = rill__kt_value(&o->kt, idx);
        if (created) k->due = RILL_TIME_MAX;
        if ((rc = key_ready(o, k)) != RILL_OK) return rc;
        rill__agg_block_init(&op->aggs, o->one);
        rill__agg_block_add(&op->aggs, o->one, in->cols, row, ts);
        if ((rc = rill__op_mark_dirty(&o->base, idx)) != RILL_OK) return rc;
        const void *id = rill__batch_bytes(b, b->id[row]);
        size_t idlen = b->id[row].len;
        int64_t now = rill__wm_now(&walk);
        if (!k->n_pend && ts <= now) { /* the in-order fast path */
            if ((rc = emit_event(o, idx, ts, o->one, id, idlen)) != RILL_OK) return rc;
            if ((rc = arm(o, idx, rill__kt_value(&o->kt, idx))) != RILL_OK) return rc;
            continue;
        }
        if ((rc = add_pending(o, k, ts, o->one, id, idlen)) != RILL_OK) return rc;
        if ((rc = drain(o, idx, now)) != RILL_OK) return rc;
    }
    return RILL_OK;
}

static int oe_advance(rill_op *op, int64_t wm) {
    oe_op *o = (oe_op *)op;
    op->wm = wm;
    rill_timer t;
    while (rill__timers_pop_due(&o->timers, wm, &t)) {
        if (!rill__kt_entry(&o->kt, t.key)->live) continue;
        oe_key *k = rill__kt_value(&o->kt, t.key);
        if (k->due != t.time) continue;
        k->due = RILL_TIME_MAX;
        int rc = drain(o, t.key, wm);
        if (rc) return rc;
        k = rill__kt_value(&o->kt, t.key);
        if (k->fifo_ready && rill__fifo_len(&k->fifo) &&
            o->expiry(o, rill__fifo_back_stamp(&k->fifo)) <= wm) {
            /* every later event's window starts after what the FIFO holds */
            rill__fifo_clear(&k->fifo);
            if ((rc = rill__op_mark_dirty(op, t.key)) != RILL_OK) return rc;
        }
        if (!k->n_pend && !rill__fifo_len(&k->fifo) && !k->h.stored) {
            rill__op_drop_key(op, t.key); /* nothing left, nothing stored */
            continue;
        }
        if ((rc = arm(o, t.key, k)) != RILL_OK) return rc;
    }
    return RILL_OK;
}

/* Record: version | next_seq | run_start | n_fifo | n_pend |
 *         fifo (ts | block)... | pending (ts | idlen(4) | id | block)... */
static size_t oe_record_size(const rill_op *op, uint32_t idx) {
    const oe_op *o = (const oe_op *)op;
    const oe_key *k = rill__kt_value(&o->kt, idx);
    size_t bs = op->aggs.block_size;
    size_t nf = k->fifo_ready ? rill__fifo_len(&k->fifo) : 0;
    if (!nf && !k->n_pend) return 0; /* nothing left: delete its record */
    size_t need = 1 + 8 + 8 + 4 + 4 + nf * (8 + bs);
    for (uint32_t i = 0; i < k->n_pend; i++) need += 8 + 4 + pend_at(o, k, i)->idlen + bs;
    return need;
}

static void oe_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const oe_op *o = (const oe_op *)op;
    const oe_key *k = rill__kt_value(&o->kt, idx);
    size_t bs = op->aggs.block_size;
    size_t nf = k->fifo_ready ? rill__fifo_len(&k->fifo) : 0;
    char *p = buf;
    uint32_t nf32 = (uint32_t)nf;
    *p++ = RECORD_VERSION;
    memcpy(p, &k->next_seq, 8); p += 8;
    memcpy(p, &k->run_start, 8); p += 8;
    memcpy(p, &nf32, 4); p += 4;
    memcpy(p, &k->n_pend, 4); p += 4;
    for (size_t i = 0; i < nf; i++) {
        memcpy(p, rill__fifo_elem(&k->fifo, i), 8 + bs);
        p += 8 + bs;
    }
    for (uint32_t i = 0; i < k->n_pend; i++) {
        const pend_hdr *h = pend_at(o, k, i);
        uint32_t il = (uint32_t)h->idlen;
        memcpy(p, &h->ts, 8); p += 8;
        memcpy(p, &il, 4); p += 4;
        if (il) memcpy(p, h->id, il);
        p += il;
        memcpy(p, h + 1, bs); p += bs;
    }
}

static int oe_restore_key(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen) {
    oe_op *o = (oe_op *)op;
    size_t bs = op->aggs.block_size;
    const char *p = val, *end = p + vlen;
    uint64_t seq;
    uint32_t nf, np;
    int64_t run_start;
    if (vlen < 25 || p[0] != RECORD_VERSION) return RILL_ECORRUPT;
    memcpy(&seq, p + 1, 8);
    memcpy(&run_start, p + 9, 8);
    memcpy(&nf, p + 17, 4);
    memcpy(&np, p + 21, 4);
    p += 25;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    oe_key *k = rill__kt_value(&o->kt, idx);
    k->due = RILL_TIME_MAX;
    k->run_start = run_start;
    int rc = key_ready(o, k);
    for (uint32_t i = 0; i < nf && !rc; i++) {
        int64_t ts;
        if ((size_t)(end - p) < 8 + bs) { rc = RILL_ECORRUPT; break; }
        memcpy(&ts, p, 8);
        rc = rill__fifo_push(&k->fifo, ts, p + 8);
        p += 8 + bs;
    }
    for (uint32_t i = 0; i < np && !rc; i++) {
        int64_t ts;
        uint32_t il;
        if ((size_t)(end - p) < 12) { rc = RILL_ECORRUPT; break; }
        memcpy(&ts, p, 8);
        memcpy(&il, p + 8, 4);
        p += 12;
        if ((size_t)(end - p) < (size_t)il + bs) { rc = RILL_ECORRUPT; break; }
        rc = add_pending(o, k, ts, p + il, p, il);
        p += il + bs;
    }
    k->next_seq = seq;
    if (!rc && p != end) rc = RILL_ECORRUPT;
    return rc ? rc : arm(o, idx, k);
}

static int64_t oe_key_due(const rill_op *op, uint32_t idx) {
    const oe_op *o = (const oe_op *)op;
    return oe_due(o, rill__kt_value(&o->kt, idx));
}

static void oe_destroy(rill_op *op) {
    oe_op *o = (oe_op *)op;
    free(o->one);
    free(o->tmp);
    rill__op_fini_keyed(op, &o->timers);
    free(o);
}

static const rill_op_methods oe_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = oe_process,
    .advance = oe_advance,
    .record_size = oe_record_size,
    .record_encode = oe_record_encode,
    .restore_key = oe_restore_key,
    .key_due = oe_key_due,
    .release_key = oe_release_key,
    .destroy = oe_destroy,
};

int rill__op_new_on_event(const char *name, rill_agg_set *aggs, const rill_window_opts *opts,
                          rill_op **out, char *err, size_t errlen) {
    oe_op *o = calloc(1, sizeof *o);
    if (!o) return RILL_ENOMEM;
    int rc = rill__op_init(&o->base, &oe_methods, name, aggs, opts, err, errlen);
    if (rc) {
        free(o);
        return rc;
    }
    const rill_window_spec *w = &opts->window;
    o->evict = w->kind == RILL_WINDOW_SLIDING ? evict_trailing
             : w->kind == RILL_WINDOW_TUMBLING ? evict_tumbling : evict_session;
    o->collapse = w->kind != RILL_WINDOW_SLIDING;
    o->expiry = w->kind == RILL_WINDOW_SLIDING ? expiry_trailing
              : w->kind == RILL_WINDOW_TUMBLING ? expiry_tumbling : expiry_session;
    o->size = w->size_ms;
    o->offset = w->offset_ms;
    o->gap = w->gap_ms;
    size_t bs = o->base.aggs.block_size ? o->base.aggs.block_size : 8;
    o->pstride = sizeof(pend_hdr) + o->base.aggs.block_size;
    o->base.kt = &o->kt;
    o->one = malloc(bs);
    o->tmp = malloc(bs);
    if (!o->one || !o->tmp || rill__kt_init(&o->kt, sizeof(oe_key)) != RILL_OK) {
        oe_destroy(&o->base);
        snprintf(err, errlen, "operator '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    *out = &o->base;
    return RILL_OK;
}
