/* operators/agg_sum.c — sum of a numeric field.
 *
 * An i64 field sums exactly in int64 (arithmetic modulo 2^64, so an
 * overflowing sum wraps rather than being undefined; merge and subtract
 * stay exact inverses either way). An f64 or bool field (bool as 0/1) sums
 * in double with Neumaier compensation, which keeps retraction by subtract
 * accurate over long sliding windows. Both keep the number of values added,
 * so the sum of no values (an empty window, or one whose events all lack
 * the field) is null rather than 0, as in SQL.
 */
#include "operators/agg_impl.h"

typedef struct sum_i64_acc { uint64_t s; int64_t n; } sum_i64_acc;
typedef struct sum_f64_acc { double s, c; int64_t n; } sum_f64_acc;

static void sum_i64_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                        int64_t ts) {
    if (!col->valid[row]) return;
    sum_i64_acc *x = acc;
    x->s += (uint64_t)col->data.i64[row];
    x->n++;
}

static void sum_i64_merge(const rill_agg *a, void *dst, const void *src) {
    sum_i64_acc *d = dst;
    const sum_i64_acc *s = src;
    d->s += s->s;
    d->n += s->n;
}

static void sum_i64_subtract(const rill_agg *a, void *dst, const void *src) {
    sum_i64_acc *d = dst;
    const sum_i64_acc *s = src;
    d->s -= s->s;
    d->n -= s->n;
}

static void sum_i64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                           rill_value *out) {
    const sum_i64_acc *x = acc;
    /* the two's-complement value of the bits, without relying on the
     * implementation-defined conversion of an out-of-range uint64 */
    int64_t v = x->s <= (uint64_t)INT64_MAX ? (int64_t)x->s : -(int64_t)(UINT64_MAX - x->s) - 1;
    *out = x->n ? rill_i64(v) : rill_null();
}

#define SUM_F64_ADD(suffix, at)                                                          \
    static void sum_##suffix##_add(const rill_agg *a, void *acc, const rill_column *col, \
                                   size_t row, int64_t ts) {                             \
        if (!col->valid[row]) return;                                                    \
        sum_f64_acc *x = acc;                                                            \
        rill__ksum_add(&x->s, &x->c, at(col, row));                                      \
        x->n++;                                                                          \
    }
SUM_F64_ADD(f64, rill__agg_f64_at)
SUM_F64_ADD(bool, rill__agg_bool_at)

static void sum_f64_merge(const rill_agg *a, void *dst, const void *src) {
    sum_f64_acc *d = dst;
    const sum_f64_acc *s = src;
    rill__ksum_add(&d->s, &d->c, s->s);
    rill__ksum_add(&d->s, &d->c, s->c);
    d->n += s->n;
}

static void sum_f64_subtract(const rill_agg *a, void *dst, const void *src) {
    sum_f64_acc *d = dst;
    const sum_f64_acc *s = src;
    rill__ksum_add(&d->s, &d->c, -s->s);
    rill__ksum_add(&d->s, &d->c, -s->c);
    d->n -= s->n;
    if (d->n == 0) d->s = d->c = 0; /* no residue of rounding in an empty sum */
}

static void sum_f64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                           rill_value *out) {
    const sum_f64_acc *x = acc;
    *out = x->n ? rill_f64(x->s + x->c) : rill_null();
}

static const rill_agg_ops sum_i64_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, sum_i64_add, sum_i64_merge, sum_i64_subtract,
    sum_i64_result,
};
static const rill_agg_ops sum_f64_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, sum_f64_add, sum_f64_merge, sum_f64_subtract,
    sum_f64_result,
};
static const rill_agg_ops sum_bool_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, sum_bool_add, sum_f64_merge, sum_f64_subtract,
    sum_f64_result,
};

int rill__agg_pick_sum(rill_agg *a) {
    if (a->in_type == RILL_I64) {
        a->ops = &sum_i64_ops;
        a->out_type = RILL_I64;
        a->size = sizeof(sum_i64_acc);
    } else {
        a->ops = a->in_type == RILL_BOOL ? &sum_bool_ops : &sum_f64_ops;
        a->out_type = RILL_F64;
        a->size = sizeof(sum_f64_acc);
    }
    return RILL_OK;
}
