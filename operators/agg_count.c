/* operators/agg_count.c — count: the number of events in the window.
 *
 * Every event counts, whether or not it carries any field (count has no
 * field; a given one is ignored at bind). The accumulator is one int64;
 * merge adds, subtract takes away, so sliding windows can retract slices.
 * The result of an empty accumulator is 0, never null.
 */
#include "operators/agg_impl.h"

typedef struct count_acc { int64_t n; } count_acc;

static void count_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                      int64_t ts) {
    ((count_acc *)acc)->n++;
}

static void count_merge(const rill_agg *a, void *dst, const void *src) {
    ((count_acc *)dst)->n += ((const count_acc *)src)->n;
}

static void count_subtract(const rill_agg *a, void *dst, const void *src) {
    ((count_acc *)dst)->n -= ((const count_acc *)src)->n;
}

static void count_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                         rill_value *out) {
    *out = rill_i64(((const count_acc *)acc)->n);
}

static const rill_agg_ops count_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, count_add, count_merge, count_subtract,
    count_result,
};

int rill__agg_pick_count(rill_agg *a) {
    a->ops = &count_ops;
    a->out_type = RILL_I64;
    a->size = sizeof(count_acc);
    return RILL_OK;
}
