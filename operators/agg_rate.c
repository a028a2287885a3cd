/* operators/agg_rate.c — rate: events per second of window length.
 *
 * Like count, every event counts (no field; a given one is ignored at
 * bind). The window length is only known at result time:
 * rate = count / ((end - start) / 1000.0), null when end <= start (a
 * window of no length, e.g. an on-event tumbling window at its first ms,
 * has no rate). The accumulator is one int64 count; merge adds. There is
 * no subtract (the operators retract only the kinds that declare one).
 */
#include "operators/agg_impl.h"

typedef struct rate_acc { int64_t n; } rate_acc;

static void rate_add(const rill_agg *a, void *acc, const rill_column *col, size_t row,
                     int64_t ts) {
    ((rate_acc *)acc)->n++;
}

static void rate_merge(const rill_agg *a, void *dst, const void *src) {
    ((rate_acc *)dst)->n += ((const rate_acc *)src)->n;
}

static void rate_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                        rill_value *out) {
    if (end <= start) {
        *out = rill_null();
        return;
    }
    /* end - start may not fit in int64 near the ends of time; as unsigned it
     * is exact, since end > start. */
    double secs = (double)((uint64_t)end - (uint64_t)start) / 1000.0;
    *out = rill_f64((double)((const rate_acc *)acc)->n / secs);
}

static const rill_agg_ops rate_ops = {
    RILL_AGG_OPS_VERSION, rill__agg_init_zero, rate_add, rate_merge, NULL, rate_result,
};

int rill__agg_pick_rate(rill_agg *a) {
    a->ops = &rate_ops;
    a->out_type = RILL_F64;
    a->size = sizeof(rate_acc);
    return RILL_OK;
}
