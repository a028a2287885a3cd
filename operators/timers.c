/* operators/timers.c — bucketed timer heap (see timers.h). */
#include <stdlib.h>
#include <string.h>

#include "operators/timers.h"
#include "rill/error.h"

static int before(const rill_timer_slot *x, const rill_timer_slot *y) {
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

void rill__timers_free(rill_timer_heap *h) {
    for (size_t i = 0; i < h->pool_n; i++) free(h->pool[i].keys);
    free(h->pool);
    free(h->free_ids);
    free(h->heap);
    memset(h, 0, sizeof *h);
}

static void sift_up(rill_timer_heap *h, size_t i) {
    rill_timer_slot x = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&x, &h->heap[parent])) break;
        h->heap[i] = h->heap[parent];
        i = parent;
    }
    h->heap[i] = x;
}

static void sift_down(rill_timer_heap *h, size_t i) {
    rill_timer_slot x = h->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->heap_n) break;
        if (c + 1 < h->heap_n && before(&h->heap[c + 1], &h->heap[c])) c++;
        if (!before(&h->heap[c], &x)) break;
        h->heap[i] = h->heap[c];
        i = c;
    }
    h->heap[i] = x;
}

/* A bucket for time, found in the cache or made and put in the heap. */
static rill_timer_bucket *bucket_for(rill_timer_heap *h, int64_t time) {
    uint32_t *slot = &h->cache[(uint64_t)time & (RILL_TIMER_CACHE - 1)];
    if (*slot && h->pool[*slot - 1].time == time) return &h->pool[*slot - 1];
    if (h->heap_n == h->heap_cap) {
        size_t cap = h->heap_cap ? h->heap_cap * 2 : 16;
        rill_timer_slot *q = realloc(h->heap, cap * sizeof *q);
        if (!q) return NULL;
        h->heap = q;
        h->heap_cap = cap;
    }
    uint32_t id;
    if (h->n_free) {
        id = h->free_ids[--h->n_free];
    } else {
        if (h->pool_n == h->pool_cap) {
            size_t cap = h->pool_cap ? h->pool_cap * 2 : 16;
            rill_timer_bucket *q = realloc(h->pool, cap * sizeof *q);
            uint32_t *f = realloc(h->free_ids, cap * sizeof *f);
            if (q) h->pool = q;
            if (f) h->free_ids = f;
            if (!q || !f) return NULL;
            h->pool_cap = cap;
        }
        id = (uint32_t)h->pool_n++;
        memset(&h->pool[id], 0, sizeof h->pool[id]);
    }
    rill_timer_bucket *b = &h->pool[id];
    b->time = time;
    b->seq = h->next_seq++;
    b->head = b->n = 0;
    h->heap[h->heap_n++] = (rill_timer_slot){ time, b->seq, id };
    sift_up(h, h->heap_n - 1);
    *slot = id + 1;
    return b;
}

int rill__timers_push(rill_timer_heap *h, int64_t time, uint32_t key) {
    rill_timer_bucket *b = bucket_for(h, time);
    if (!b) return RILL_ENOMEM;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        uint32_t *q = realloc(b->keys, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        b->keys = q;
        b->cap = cap;
    }
    b->keys[b->n++] = key;
    h->count++;
    return RILL_OK;
}

int rill__timers_pop_due(rill_timer_heap *h, int64_t now, rill_timer *out) {
    while (h->heap_n) {
        if (h->heap[0].time > now) return 0;
        uint32_t id = h->heap[0].id;
        rill_timer_bucket *b = &h->pool[id];
        if (b->head < b->n) {
            out->time = b->time;
            out->key = b->keys[b->head++];
            h->count--;
            return 1;
        }
        /* an emptied bucket leaves the heap, the cache and goes back to the pool */
        h->heap[0] = h->heap[--h->heap_n];
        if (h->heap_n) sift_down(h, 0);
        uint32_t *slot = &h->cache[(uint64_t)b->time & (RILL_TIMER_CACHE - 1)];
        if (*slot == id + 1) *slot = 0;
        b->head = b->n = 0;
        if (b->cap > 1024) { /* do not keep a huge bucket's memory forever */
            free(b->keys);
            b->keys = NULL;
            b->cap = 0;
        }
        h->free_ids[h->n_free++] = id;
    }
    return 0;
}
