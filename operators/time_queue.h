/* operators/time_queue.h — keyed items waiting for the watermark, in
 * event-time order (internal).
 *
 * The feature-vector operator queues its triggers and the model operator its
 * vectors and labels until the watermark passes their time, then takes them
 * from the front. Each item keeps a copy of its key and id bytes in the
 * queue's byte arena and, when the queue was made with a width, that many
 * doubles of its own (a vector). Items stay sorted by (ts, seq): seq is the
 * caller's arrival number, and an item is inserted after every item with
 * ts <= its own, so equal times keep arrival order. Arrivals are nearly
 * sorted, so an insertion scans little.
 *
 * Taking from the front only moves head; rill__tq_compact() later drops the
 * taken items and their bytes by copying what is left into spare buffers,
 * which then take the place of the old ones (no allocation once both are
 * big enough).
 */
#ifndef RILL_OPERATORS_TIME_QUEUE_H
#define RILL_OPERATORS_TIME_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/batch.h"

typedef struct rill_tq_item {
    int64_t ts;
    uint64_t seq;    /* arrival order among equal ts */
    uint64_t khash;  /* hash of the key */
    uint64_t jhash;  /* the owner's: a second hash (the model's join key) */
    double y;        /* the owner's: a value (the model's label) */
    size_t xoff;     /* where the item's width doubles start in xs */
    uint32_t koff, klen, ioff, ilen; /* key and id bytes in the arena */
} rill_tq_item;

typedef struct rill_tq {
    rill_tq_item *it; /* sorted by (ts, seq) from head; before head: taken */
    size_t head, n, cap;
    size_t width;     /* doubles per item */
    char *bytes;
    size_t blen, bcap;
    double *xs;
    size_t xlen, xcap;
    char *spare_bytes;
    size_t spare_bcap;
    double *spare_xs;
    size_t spare_xcap;
} rill_tq;

/* An empty queue whose items carry width doubles each (may be 0). */
void rill__tq_init(rill_tq *q, size_t width);
/* Free everything; q is left empty (width kept). */
void rill__tq_free(rill_tq *q);

/* Queue an item at ts with copies of its key and id bytes; *out is the
 * item, for the caller to fill in seq, khash and what else it uses (and,
 * with a width, its doubles at rill__tq_vals()) before the next call on q.
 * The other fields start at 0. RILL_ENOMEM, or RILL_EFULL past 4 GiB of
 * bytes; nothing is queued on failure. */
int rill__tq_push(rill_tq *q, int64_t ts, const void *key, uint32_t klen, const void *id, uint32_t ilen,
                  rill_tq_item **out);

/* Drop the items before head once that is worth it (or reset an empty
 * queue). Items are moved: pointers into the queue do not survive it.
 * RILL_ENOMEM leaves the queue as it was. */
int rill__tq_compact(rill_tq *q);

/* The front item if there is one and its ts < wm, else NULL. */
static inline const rill_tq_item *rill__tq_due(const rill_tq *q, int64_t wm) {
    return q->head < q->n && q->it[q->head].ts < wm ? &q->it[q->head] : NULL;
}
static inline size_t rill__tq_len(const rill_tq *q) { return q->n - q->head; }
static inline const char *rill__tq_key(const rill_tq *q, const rill_tq_item *t) {
    return q->bytes + t->koff;
}
static inline const char *rill__tq_id(const rill_tq *q, const rill_tq_item *t) {
    return q->bytes + t->ioff;
}
static inline double *rill__tq_vals(const rill_tq *q, const rill_tq_item *t) {
    return q->xs + t->xoff;
}

/* Append the row of item t to an operator's output batch b: its ts, key
 * and id, the point window [ts, ts + 1), flags 0. The caller then sets every
 * column of the row (value and valid byte): none is set here. RILL_ENOMEM
 * or RILL_EFULL with the batch as it was. */
int rill__tq_emit(const rill_tq *q, const rill_tq_item *t, rill_batch *b);

#endif
