/* operators/fifo_agg.c — two-stacks FIFO aggregation (see fifo_agg.h). */
#include <stdlib.h>
#include <string.h>

#include "operators/fifo_agg.h"
#include "rill/error.h"

static char *slot(const rill_fifo_agg *f, uint64_t i) {
    return f->ring + (i & (f->cap - 1)) * f->stride;
}
static char *value_of(const rill_fifo_agg *f, char *e) { (void)f; return e + 8; }
static char *suffix_of(const rill_fifo_agg *f, char *e) { return e + 8 + f->set->block_size; }

int rill__fifo_init(rill_fifo_agg *f, const rill_agg_set *set) {
    memset(f, 0, sizeof *f);
    f->set = set;
    f->stride = 8 + 2 * set->block_size;
    f->back = malloc(set->block_size ? set->block_size : 1);
    if (!f->back) return RILL_ENOMEM;
    rill__agg_block_init(set, f->back);
    return RILL_OK;
}

void rill__fifo_free(rill_fifo_agg *f) {
    free(f->ring);
    free(f->back);
    memset(f, 0, sizeof *f);
}

void rill__fifo_clear(rill_fifo_agg *f) {
    f->head = f->mid = f->tail = 0;
    rill__agg_block_init(f->set, f->back);
}

static int grow(rill_fifo_agg *f) {
    size_t cap = f->cap ? f->cap * 2 : 8;
    char *ring = malloc(cap * f->stride);
    if (!ring) return RILL_ENOMEM;
    /* re-base so that element head sits at 0 */
    for (uint64_t i = f->head; i < f->tail; i++)
        memcpy(ring + (i - f->head) * f->stride, slot(f, i), f->stride);
    free(f->ring);
    f->ring = ring;
    f->cap = cap;
    f->mid -= f->head;
    f->tail -= f->head;
    f->head = 0;
    return RILL_OK;
}

int rill__fifo_push(rill_fifo_agg *f, int64_t stamp, const void *block) {
    if (f->tail - f->head == f->cap && grow(f) != RILL_OK) return RILL_ENOMEM;
    char *e = slot(f, f->tail++);
    memcpy(e, &stamp, 8);
    memcpy(value_of(f, e), block, f->set->block_size);
    /* merge the aligned copy: block may be any bytes (a restored record) */
    rill__agg_block_merge(f->set, f->back, value_of(f, e));
    return RILL_OK;
}

/* Move the back stack to the front, computing each element's suffix. */
static void flip(rill_fifo_agg *f) {
    const rill_agg_set *set = f->set;
    char *later = NULL;
    for (uint64_t i = f->tail; i-- > f->mid;) {
        char *e = slot(f, i);
        memcpy(suffix_of(f, e), value_of(f, e), set->block_size);
        if (later) rill__agg_block_merge(set, suffix_of(f, e), later);
        later = suffix_of(f, e);
    }
    f->mid = f->tail;
    rill__agg_block_init(set, f->back);
}

void rill__fifo_pop(rill_fifo_agg *f) {
    if (f->head == f->mid) flip(f);
    f->head++;
    if (f->head == f->tail) rill__fifo_clear(f);
}

void rill__fifo_query(rill_fifo_agg *f, void *out) {
    if (f->head == f->mid) {
        memcpy(out, f->back, f->set->block_size);
        return;
    }
    memcpy(out, suffix_of(f, slot(f, f->head)), f->set->block_size);
    rill__agg_block_merge(f->set, out, f->back);
}
