/* operators/agg_recency.c — recency: ms between the two newest events.
 *
 * recency = t1 - t2 where t1 >= t2 are the two largest event times in the
 * window (as a multiset: two events at the same ms give 0); null below two
 * events. Like count it sees events, not values: it has no field (a given
 * one is ignored at bind) and an event without fields still counts. The
 * accumulator keeps just t1, t2 and how many of them are set (0..2); merge
 * takes the two largest of both, which is commutative and associative, so
 * it does not depend on the order the operators merge slices in. No
 * subtract (the second-newest cannot be recovered once dropped).
 */
#include "operators/agg_impl.h"

typedef struct rec_acc { int64_t t1, t2, n; } rec_acc; /* t1 >= t2; n = 0, 1 or 2 */

static void rec_push(rec_acc *x, int64_t ts) {
    if (x->n == 0) {
        x->t1 = ts;
        x->n = 1;
    } else if (ts >= x->t1) {
        x->t2 = x->t1;
        x->t1 = ts;
        x->n = 2;
    } else if (x->n == 1 || ts > x->t2) {
        x->t2 = ts;
        x->n = 2;
    }
}

static void rec_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                    int64_t ts) {
    rec_push(acc, ts);
}

static void rec_merge(const rill_agg *a, void *dst, const void *src) {
    const rec_acc *s = src;
    if (s->n >= 1) rec_push(dst, s->t1);
    if (s->n >= 2) rec_push(dst, s->t2);
}

static void rec_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const rec_acc *x = acc;
    /* t1 - t2 >= 0 but may exceed INT64_MAX for times at both ends of the
     * range; it is then clamped rather than overflowing. */
    if (x->n < 2) {
        *out = rill_null();
        return;
    }
    uint64_t d = (uint64_t)x->t1 - (uint64_t)x->t2;
    *out = rill_i64(d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d);
}

static const rill_agg_ops rec_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, rec_add, rec_merge, NULL, rec_result,
};

int rill__agg_pick_recency(rill_agg *a) {
    a->ops = &rec_ops;
    a->out_type = RILL_I64;
    a->size = sizeof(rec_acc);
    return RILL_OK;
}
