/* operators/agg_last_n.c — the N newest values, oldest first, as a list.
 *
 * "Newest" orders events by (event time, arrival): of events at the same
 * ms, a later arrival is newer. The accumulator keeps up to N entries
 * (time, value in the input type) sorted oldest first, in a ring of N
 * slots after a small header, so the common case (events in time order)
 * appends and drops the oldest in O(1); an out-of-order event is inserted
 * after every entry not newer than it, shifting the newer ones by one.
 *
 * Arrival is never stored: within an accumulator it is the add order, and
 * merge(dst, src) treats src as the later arrivals, so merge inserts src's
 * entries (its newest N, oldest first) into dst exactly as adds. That makes
 * the result that of adding the whole stream to one accumulator, in any
 * grouping of the merges. Values without the field are skipped; the result
 * is null while no value has been kept. Results are doubles (an i64 beyond
 * 2^53 is rounded only there) in a->scratch, N of them, allocated at bind.
 * No subtract.
 */
#include <stdlib.h>

#include "operators/agg_impl.h"

typedef struct ln_entry {
    int64_t ts;
    union { double f; int64_t i; } v;
} ln_entry;

typedef struct ln_acc {
    uint32_t start, count; /* ring: the oldest is e[start] */
    ln_entry e[];          /* a->param slots */
} ln_acc;

static ln_entry *slot(ln_acc *x, uint32_t n, uint32_t i) {
    uint32_t p = x->start + i;
    return &x->e[p >= n ? p - n : p];
}

static const ln_entry *cslot(const ln_acc *x, uint32_t n, uint32_t i) {
    uint32_t p = x->start + i;
    return &x->e[p >= n ? p - n : p];
}

/* Add an entry newer in arrival than every entry of x. */
static void ln_insert(ln_acc *x, uint32_t n, ln_entry e) {
    if (x->count == n) {
        if (e.ts < slot(x, n, 0)->ts) return; /* older than all it would keep */
        x->start = x->start + 1 == n ? 0 : x->start + 1;
        x->count--;
    }
    uint32_t p = x->count;
    while (p > 0 && slot(x, n, p - 1)->ts > e.ts) {
        *slot(x, n, p) = *slot(x, n, p - 1);
        p--;
    }
    *slot(x, n, p) = e;
    x->count++;
}

#define LN_ADD(suffix, member, expr)                                                      \
    static void ln_##suffix##_add(const rill_agg *a, void *acc, const rill_column *col,   \
                                  size_t row, int64_t ts) {                               \
        if (!col->valid[row]) return;                                                     \
        ln_entry e = { .ts = ts };                                                        \
        e.v.member = (expr);                                                              \
        ln_insert(acc, a->param, e);                                                      \
    }
LN_ADD(f64, f, col->data.f64[row])
LN_ADD(i64, i, col->data.i64[row])
LN_ADD(bool, i, col->data.b[row] ? 1 : 0)

static void ln_merge(const rill_agg *a, void *dst, const void *src) {
    const ln_acc *s = src;
    uint32_t n = a->param;
    for (uint32_t i = 0; i < s->count; i++) ln_insert(dst, n, *cslot(s, n, i));
}

#define LN_RESULT(suffix, expr)                                                           \
    static void ln_##suffix##_result(const rill_agg *a, const void *acc, int64_t start,   \
                                     int64_t end, rill_value *out) {                      \
        const ln_acc *x = acc;                                                            \
        if (!x->count) {                                                                  \
            *out = rill_null();                                                           \
            return;                                                                       \
        }                                                                                 \
        for (uint32_t i = 0; i < x->count; i++) {                                         \
            const ln_entry *e = cslot(x, a->param, i);                                    \
            a->scratch[i] = (expr);                                                       \
        }                                                                                 \
        out->type = RILL_F64_LIST;                                                        \
        out->as.list.ptr = a->scratch;                                                    \
        out->as.list.len = x->count;                                                      \
    }
LN_RESULT(f64, e->v.f)
LN_RESULT(i64, (double)e->v.i)
LN_RESULT(bool, e->v.i ? 1.0 : 0.0)

#define LN_OPS(suffix)                                                                    \
    static const rill_agg_ops ln_##suffix##_ops = {                                       \
        RILL_AGG_OPS_VERSION, rill__agg_init_zero, ln_##suffix##_add, ln_merge, NULL,     \
        ln_##suffix##_result,                                                             \
    };
LN_OPS(f64)
LN_OPS(i64)
LN_OPS(bool)

int rill__agg_pick_last_n(rill_agg *a) {
    a->ops = a->in_type == RILL_I64 ? &ln_i64_ops
           : a->in_type == RILL_BOOL ? &ln_bool_ops : &ln_f64_ops;
    a->out_type = RILL_F64_LIST;
    a->size = sizeof(ln_acc) + (size_t)a->param * sizeof(ln_entry);
    a->scratch = malloc((size_t)a->param * sizeof *a->scratch);
    return a->scratch ? RILL_OK : RILL_ENOMEM;
}
