/* operators/fifo_agg.h — FIFO aggregation with two stacks.
 *
 * A queue of (stamp, accumulator block) elements that answers "aggregate of
 * everything in the queue" in O(1) amortised per push/pop using only merge,
 * so it serves non-invertible aggregates (min, max, last-N, HyperLogLog)
 * as well as invertible ones (Tangwongsan et al., "Sliding-window
 * aggregation algorithms", the two-stacks algorithm):
 *   - the back stack keeps only the running aggregate of what was pushed;
 *   - the front stack keeps, per element, the aggregate of it and everything
 *     behind it in the front stack (its suffix);
 *   - popping from an empty front flips the back stack over, computing the
 *     suffixes once, so every element is merged O(1) times in its life.
 * Sliding windows push slices; on-event windows push single events.
 */
#ifndef RILL_OPERATORS_FIFO_AGG_H
#define RILL_OPERATORS_FIFO_AGG_H

#include "operators/aggregate.h"

typedef struct rill_fifo_agg {
    const rill_agg_set *set;
    char *ring;        /* elements: stamp (8) | value block | suffix block */
    size_t stride;
    uint64_t head, mid, tail; /* front stack [head, mid), back stack [mid, tail) */
    size_t cap;        /* power of two */
    char *back;        /* running aggregate of the back stack */
} rill_fifo_agg;

int rill__fifo_init(rill_fifo_agg *f, const rill_agg_set *set);
void rill__fifo_free(rill_fifo_agg *f);
void rill__fifo_clear(rill_fifo_agg *f);
static inline size_t rill__fifo_len(const rill_fifo_agg *f) { return (size_t)(f->tail - f->head); }

/* Element i (0 = front): its stamp and value block. */
static inline char *rill__fifo_elem(const rill_fifo_agg *f, size_t i) {
    return f->ring + ((f->head + i) & (f->cap - 1)) * f->stride;
}
static inline int64_t rill__fifo_stamp(const rill_fifo_agg *f, size_t i) {
    int64_t t;
    __builtin_memcpy(&t, rill__fifo_elem(f, i), sizeof t);
    return t;
}
static inline int64_t rill__fifo_back_stamp(const rill_fifo_agg *f) {
    return rill__fifo_stamp(f, rill__fifo_len(f) - 1);
}

/* Push a copy of block with its stamp (RILL_ENOMEM, nothing changed). */
int rill__fifo_push(rill_fifo_agg *f, int64_t stamp, const void *block);
/* Drop the front element (the queue must not be empty). */
void rill__fifo_pop(rill_fifo_agg *f);
/* out = aggregate of every element, oldest to newest (empty: init). */
void rill__fifo_query(rill_fifo_agg *f, void *out);

#endif
