/* operators/time_queue.c — keyed items waiting for the watermark, in
 * event-time order (see time_queue.h).
 *
 * One array of fixed-size items (insertion by a short backward scan and a
 * memmove: items arrive nearly sorted), one byte arena for keys and ids and,
 * for queues with a width, one array of doubles; items refer to both by
 * offset, so growing them never invalidates an item. Compaction waits until
 * at least 1024 items were taken and they are at least half the queue, so
 * each item is copied O(1) times in its life.
 *
 * Not done: a bound on the queue's size (it holds what the watermark has
 * not passed yet; the operators count and report it).
 */
#include <stdlib.h>
#include <string.h>

#include "operators/operator.h"
#include "operators/time_queue.h"

void rill__tq_init(rill_tq *q, size_t width) {
    memset(q, 0, sizeof *q);
    q->width = width;
}

void rill__tq_free(rill_tq *q) {
    size_t width = q->width;
    free(q->it);
    free(q->bytes);
    free(q->xs);
    free(q->spare_bytes);
    free(q->spare_xs);
    rill__tq_init(q, width);
}

static int bytes_room(rill_tq *q, size_t len) {
    if (q->blen + len > UINT32_MAX) return RILL_EFULL;
    if (q->blen + len <= q->bcap) return RILL_OK;
    size_t cap = q->bcap ? q->bcap : 4096;
    while (cap < q->blen + len) cap *= 2;
    char *r = realloc(q->bytes, cap);
    if (!r) return RILL_ENOMEM;
    q->bytes = r;
    q->bcap = cap;
    return RILL_OK;
}

int rill__tq_push(rill_tq *q, int64_t ts, const void *key, uint32_t klen, const void *id, uint32_t ilen,
                  rill_tq_item **out) {
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        rill_tq_item *r = realloc(q->it, cap * sizeof *r);
        if (!r) return RILL_ENOMEM;
        q->it = r;
        q->cap = cap;
    }
    if (q->width && q->xlen + q->width > q->xcap) {
        size_t cap = q->xcap ? q->xcap : 1024;
        while (cap < q->xlen + q->width) cap *= 2;
        double *r = realloc(q->xs, cap * sizeof *r);
        if (!r) return RILL_ENOMEM;
        q->xs = r;
        q->xcap = cap;
    }
    int rc = bytes_room(q, (size_t)klen + ilen);
    if (rc) return rc;
    size_t i = q->n;
    while (i > q->head && q->it[i - 1].ts > ts) i--;
    if (i < q->n) memmove(&q->it[i + 1], &q->it[i], (q->n - i) * sizeof *q->it);
    q->n++;
    /* field by field: a whole-struct copy from the stack would read back
     * stores still in flight, which stalls */
    rill_tq_item *t = &q->it[i];
    memset(t, 0, sizeof *t);
    t->ts = ts;
    t->klen = klen;
    t->ilen = ilen;
    t->koff = (uint32_t)q->blen;
    if (klen) memcpy(q->bytes + q->blen, key, klen);
    q->blen += klen;
    t->ioff = (uint32_t)q->blen;
    if (ilen) memcpy(q->bytes + q->blen, id, ilen);
    q->blen += ilen;
    t->xoff = q->xlen;
    q->xlen += q->width;
    *out = t;
    return RILL_OK;
}

int rill__tq_compact(rill_tq *q) {
    if (q->head == q->n) {
        q->head = q->n = q->blen = q->xlen = 0;
        return RILL_OK;
    }
    if (q->head < 1024 || q->head * 2 < q->n) return RILL_OK;
    size_t n = q->n - q->head, need = 0, nx = n * q->width;
    for (size_t i = q->head; i < q->n; i++) need += q->it[i].klen + q->it[i].ilen;
    if (need >= q->spare_bcap) {
        char *b = realloc(q->spare_bytes, need + 1);
        if (!b) return RILL_ENOMEM;
        q->spare_bytes = b;
        q->spare_bcap = need + 1;
    }
    if (nx > q->spare_xcap) {
        double *x = realloc(q->spare_xs, nx * sizeof *x);
        if (!x) return RILL_ENOMEM;
        q->spare_xs = x;
        q->spare_xcap = nx;
    }
    char *b = q->spare_bytes;
    double *xs = q->spare_xs;
    size_t off = 0, xo = 0;
    for (size_t i = 0; i < n; i++) {
        rill_tq_item t = q->it[q->head + i];
        memcpy(b + off, q->bytes + t.koff, t.klen);
        t.koff = (uint32_t)off;
        off += t.klen;
        memcpy(b + off, q->bytes + t.ioff, t.ilen);
        t.ioff = (uint32_t)off;
        off += t.ilen;
        if (q->width) {
            memcpy(xs + xo, q->xs + t.xoff, q->width * sizeof *xs);
            t.xoff = xo;
            xo += q->width;
        }
        q->it[i] = t;
    }
    q->spare_bytes = q->bytes;
    q->bytes = b;
    size_t cap = q->bcap;
    q->bcap = q->spare_bcap;
    q->spare_bcap = cap;
    q->blen = off;
    if (q->width) {
        q->spare_xs = q->xs;
        q->xs = xs;
        cap = q->xcap;
        q->xcap = q->spare_xcap;
        q->spare_xcap = cap;
    }
    q->xlen = xo;
    q->head = 0;
    q->n = n;
    return RILL_OK;
}

int rill__tq_emit(const rill_tq *q, const rill_tq_item *t, rill_batch *b) {
    int rc = rill__batch_reserve(b, 1);
    if (rc) return rc;
    size_t r = b->len, arena_len = b->arena_len;
    if ((rc = rill__batch_arena_put(b, q->bytes + t->koff, t->klen, &b->key[r])) != RILL_OK) return rc;
    if ((rc = rill__batch_arena_put(b, q->bytes + t->ioff, t->ilen, &b->id[r])) != RILL_OK) {
        b->arena_len = arena_len;
        return rc;
    }
    if (!t->ilen) b->id[r] = (rill_span){ 0, 0 };
    b->ts[r] = t->ts;
    b->key_hash[r] = t->khash;
    b->win_start[r] = t->ts;
    b->win_end[r] = rill__time_add(t->ts, 1);
    b->flags[r] = 0;
    b->len = r + 1;
    return RILL_OK;
}
