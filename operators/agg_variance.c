/* operators/agg_variance.c — sample variance and standard deviation.
 *
 * The accumulator is (n, mean, M2), M2 = sum of squared deviations from the
 * mean. add is Welford's update (Welford 1962): d = x - mean; mean += d/n;
 * M2 += d (x - mean). merge is the parallel formula of Chan, Golub and
 * LeVeque (1979): with d = mean_b - mean_a,
 *     mean = mean_a + d n_b / n,   M2 = M2_a + M2_b + d^2 n_a n_b / n.
 * subtract solves the same formula for part a, given the whole and b:
 *     mean_a = mean + (mean - mean_b) n_b / n_a,
 *     M2_a   = M2 - M2_b - d^2 n_a n_b / n   (clamped at 0),
 * which loses precision when a is a small remnant of a large, spread-out
 * whole (the error is about machine epsilon times M2 of the whole).
 * Results: variance = M2 / (n - 1) (sample variance), stddev = its square
 * root, both null below two values. i64 values enter as doubles, bool as 0/1.
 */
#include <math.h>

#include "operators/agg_impl.h"

typedef struct var_acc { int64_t n; double mean, m2; } var_acc;

#define VAR_ADD(suffix, at)                                                              \
    static void var_##suffix##_add(const rill_agg *a, void *acc, const rill_column *col, \
                                   size_t row, int64_t ts) {                             \
        if (!col->valid[row]) return;                                                    \
        var_acc *x = acc;                                                                \
        double v = at(col, row);                                                         \
        double d = v - x->mean;                                                          \
        x->n++;                                                                          \
        x->mean += d / (double)x->n;                                                     \
        x->m2 += d * (v - x->mean);                                                      \
    }
VAR_ADD(f64, rill__agg_f64_at)
VAR_ADD(i64, rill__agg_i64_at)
VAR_ADD(bool, rill__agg_bool_at)

static void var_merge(const rill_agg *a, void *dst, const void *src) {
    var_acc *d = dst;
    const var_acc *s = src;
    if (!s->n) return;
    if (!d->n) {
        *d = *s;
        return;
    }
    double na = (double)d->n, nb = (double)s->n, n = na + nb;
    double delta = s->mean - d->mean;
    d->mean += delta * nb / n;
    d->m2 += s->m2 + delta * delta * na * nb / n;
    d->n += s->n;
}

static void var_subtract(const rill_agg *a, void *dst, const void *src) {
    var_acc *d = dst;
    const var_acc *s = src;
    if (!s->n) return;
    int64_t left = d->n - s->n;
    if (left <= 0) {
        d->n = 0;
        d->mean = d->m2 = 0;
        return;
    }
    double n = (double)d->n, nb = (double)s->n, na = (double)left;
    double mean_a = d->mean + (d->mean - s->mean) * nb / na;
    double delta = s->mean - mean_a;
    double m2 = d->m2 - s->m2 - delta * delta * na * nb / n;
    d->n = left;
    d->mean = mean_a;
    /* One value has no spread; rounding must not leave a negative M2 either. */
    d->m2 = (left == 1 || m2 < 0) ? 0 : m2;
}

static void variance_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                            rill_value *out) {
    const var_acc *x = acc;
    *out = x->n >= 2 ? rill_f64(x->m2 / (double)(x->n - 1)) : rill_null();
}

static void stddev_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                          rill_value *out) {
    const var_acc *x = acc;
    *out = x->n >= 2 ? rill_f64(sqrt(x->m2 / (double)(x->n - 1))) : rill_null();
}

#define VAR_OPS(suffix, res)                                                              \
    static const rill_agg_ops res##_##suffix##_ops = {                                    \
        RILL_AGG_OPS_VERSION, rill__agg_init_zero, var_##suffix##_add, var_merge,         \
        var_subtract, res##_result,                                                       \
    };
VAR_OPS(f64, variance)
VAR_OPS(i64, variance)
VAR_OPS(bool, variance)
VAR_OPS(f64, stddev)
VAR_OPS(i64, stddev)
VAR_OPS(bool, stddev)

int rill__agg_pick_variance(rill_agg *a) {
    if (a->kind == RILL_AGG_STDDEV)
        a->ops = a->in_type == RILL_I64 ? &stddev_i64_ops
               : a->in_type == RILL_BOOL ? &stddev_bool_ops : &stddev_f64_ops;
    else
        a->ops = a->in_type == RILL_I64 ? &variance_i64_ops
               : a->in_type == RILL_BOOL ? &variance_bool_ops : &variance_f64_ops;
    a->out_type = RILL_F64;
    a->size = sizeof(var_acc);
    return RILL_OK;
}
