/* operators/timers.h — "key k is due at time t" timers of an operator.
 *
 * Operators schedule a key for a time (a window end, the end of its allowed
 * lateness, an on-event record waiting for the watermark) and pop every key
 * that is due when the watermark moves. Entries are never updated in place:
 * a key whose due time changes pushes again and the operator skips stale
 * entries when they pop.
 *
 * Window ends fall on a grid, so most pushes share a handful of times, and
 * on-event records wait for times within the out-of-orderness bound. The
 * timers are therefore kept in buckets of one time each, in a min-heap of
 * buckets; a push finds the live bucket of its time through a direct-mapped
 * cache (time mod 1024) and appends in O(1); only a time not in the cache
 * costs a heap insertion (two buckets may then share a time, which is
 * harmless). Keys pop in time order, and in push order within a time.
 */
#ifndef RILL_OPERATORS_TIMERS_H
#define RILL_OPERATORS_TIMERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rill_timer { int64_t time; uint32_t key; } rill_timer;

typedef struct rill_timer_bucket {
    int64_t time;
    uint64_t seq;     /* creation order: equal times pop oldest bucket first */
    uint32_t *keys;
    size_t head, n, cap;
} rill_timer_bucket;

#define RILL_TIMER_CACHE 1024 /* a power of two */

/* A heap entry carries its bucket's order key, so sifting never touches
 * the buckets themselves. */
typedef struct rill_timer_slot { int64_t time; uint64_t seq; uint32_t id; } rill_timer_slot;

typedef struct rill_timer_heap {
    rill_timer_bucket *pool;  /* buckets, reused through free_ids */
    size_t pool_n, pool_cap;
    uint32_t *free_ids;
    size_t n_free;
    rill_timer_slot *heap;    /* buckets ordered by (time, seq) */
    size_t heap_n, heap_cap;
    uint32_t cache[RILL_TIMER_CACHE]; /* bucket id + 1 by time mod size; 0 = none */
    uint64_t next_seq;
    size_t count;             /* timers pending */
} rill_timer_heap;

void rill__timers_free(rill_timer_heap *h);
int rill__timers_push(rill_timer_heap *h, int64_t time, uint32_t key); /* RILL_ENOMEM */
/* Pop the earliest timer if its time <= now: returns 1 and fills *t, else 0. */
int rill__timers_pop_due(rill_timer_heap *h, int64_t now, rill_timer *t);

#endif
