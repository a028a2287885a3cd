/* operators/agg_mean.c — arithmetic mean of a numeric field, in double.
 *
 * The accumulator is a compensated sum (Neumaier, see agg_impl.h) and the
 * number of values; the mean is their ratio at result time, so merge and
 * subtract are plain additions and retraction loses almost nothing. i64
 * values are converted to double as they are added (exact up to 2^53 in
 * magnitude); bool counts as 0/1. The mean of no values is null.
 * (variance keeps a Welford mean of its own; this one does not need it.)
 */
#include "operators/agg_impl.h"

typedef struct mean_acc { double s, c; int64_t n; } mean_acc;

#define MEAN_ADD(suffix, at)                                                              \
    static void mean_##suffix##_add(const rill_agg *a, void *acc, const rill_column *col, \
                                    size_t row, int64_t ts) {                             \
        if (!col->valid[row]) return;                                                     \
        mean_acc *x = acc;                                                                \
        rill__ksum_add(&x->s, &x->c, at(col, row));                                       \
        x->n++;                                                                           \
    }
MEAN_ADD(f64, rill__agg_f64_at)
MEAN_ADD(i64, rill__agg_i64_at)
MEAN_ADD(bool, rill__agg_bool_at)

static void mean_merge(const rill_agg *a, void *dst, const void *src) {
    mean_acc *d = dst;
    const mean_acc *s = src;
    rill__ksum_add(&d->s, &d->c, s->s);
    rill__ksum_add(&d->s, &d->c, s->c);
    d->n += s->n;
}

static void mean_subtract(const rill_agg *a, void *dst, const void *src) {
    mean_acc *d = dst;
    const mean_acc *s = src;
    rill__ksum_add(&d->s, &d->c, -s->s);
    rill__ksum_add(&d->s, &d->c, -s->c);
    d->n -= s->n;
    if (d->n == 0) d->s = d->c = 0;
}

static void mean_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                        rill_value *out) {
    const mean_acc *x = acc;
    *out = x->n ? rill_f64((x->s + x->c) / (double)x->n) : rill_null();
}

#define MEAN_OPS(suffix)                                                                  \
    static const rill_agg_ops mean_##suffix##_ops = {                                     \
        RILL_AGG_OPS_VERSION, rill__agg_init_zero, mean_##suffix##_add, mean_merge,       \
        mean_subtract, mean_result,                                                       \
    };
MEAN_OPS(f64)
MEAN_OPS(i64)
MEAN_OPS(bool)

int rill__agg_pick_mean(rill_agg *a) {
    a->ops = a->in_type == RILL_I64 ? &mean_i64_ops
           : a->in_type == RILL_BOOL ? &mean_bool_ops : &mean_f64_ops;
    a->out_type = RILL_F64;
    a->size = sizeof(mean_acc);
    return RILL_OK;
}
