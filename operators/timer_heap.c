/* operators/timer_heap.c — binary min-heap ordered by (time, seq). */
#include <stdlib.h>

#include "operators/timer_heap.h"
#include "rill/error.h"

static int before(const rill_timer *a, const rill_timer *b) {
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void rill__timers_free(rill_timer_heap *h) {
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

int rill__timers_push(rill_timer_heap *h, int64_t time, uint32_t key) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        rill_timer *q = realloc(h->v, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        h->v = q;
        h->cap = cap;
    }
    rill_timer t = { time, h->next_seq++, key };
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&t, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = t;
    return RILL_OK;
}

int rill__timers_pop_due(rill_timer_heap *h, int64_t now, rill_timer *out) {
    if (!h->n || h->v[0].time > now) return 0;
    *out = h->v[0];
    rill_timer last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return 1;
}
