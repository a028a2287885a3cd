/* operators/timer_heap.h — a min-heap of (time, key index) timers.
 *
 * Operators schedule "key k has something due at time t" (a window end, an
 * on-event record waiting for the watermark) and pop what is due when the
 * watermark moves. Entries are never updated in place: a key whose due time
 * changes pushes a new entry and the operator skips stale ones when popped.
 * Equal times pop in push order, so emission order is deterministic.
 */
#ifndef RILL_OPERATORS_TIMER_HEAP_H
#define RILL_OPERATORS_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rill_timer { int64_t time; uint64_t seq; uint32_t key; } rill_timer;

typedef struct rill_timer_heap {
    rill_timer *v;
    size_t n, cap;
    uint64_t next_seq;
} rill_timer_heap;

void rill__timers_free(rill_timer_heap *h);
int rill__timers_push(rill_timer_heap *h, int64_t time, uint32_t key); /* RILL_ENOMEM */
/* Pop the earliest timer if its time <= now: returns 1 and fills *t, else 0. */
int rill__timers_pop_due(rill_timer_heap *h, int64_t now, rill_timer *t);

#endif
