/* operators/agg_first_last.c — the value of the earliest (first) or latest
 * (last) event in event time.
 *
 * The accumulator is the chosen event's time and value, kept in the input
 * type (an i64 stays exact, a bool stays a bool; the output type is the
 * input type). Ties in time go by arrival: first keeps the earliest arrival
 * among equal times, last the latest. Within one accumulator events are
 * added in arrival order, and merge(dst, src) treats src as the later
 * arrivals, which is what the operators promise; so for first a tie keeps
 * dst and for last a tie takes src. Events without the field are skipped:
 * first/last is that of the events that carry a value; null when none do.
 * No subtract (not invertible).
 */
#include "operators/agg_impl.h"

typedef struct fl_acc {
    int64_t ts;
    union { double f; int64_t i; } v;
    int64_t has;
} fl_acc;

/* KEEP_NEW(t_new, t_old): the event at t_new, arriving later, replaces the one
 * at t_old. */
#define FIRST_KEEP_NEW(tn, to) ((tn) < (to))
#define LAST_KEEP_NEW(tn, to) ((tn) >= (to))

#define FL_ADD(name, KEEP_NEW, member, expr)                                               \
    static void name##_add(const rill_agg *a, void *acc, const rill_column *col,           \
                           size_t row, int64_t ts) {                                       \
        if (!col->valid[row]) return;                                                      \
        fl_acc *x = acc;                                                                   \
        if (x->has && !KEEP_NEW(ts, x->ts)) return;                                        \
        x->ts = ts;                                                                        \
        x->v.member = (expr);                                                              \
        x->has = 1;                                                                        \
    }
FL_ADD(first_f64, FIRST_KEEP_NEW, f, col->data.f64[row])
FL_ADD(first_i64, FIRST_KEEP_NEW, i, col->data.i64[row])
FL_ADD(first_bool, FIRST_KEEP_NEW, i, col->data.b[row] ? 1 : 0)
FL_ADD(last_f64, LAST_KEEP_NEW, f, col->data.f64[row])
FL_ADD(last_i64, LAST_KEEP_NEW, i, col->data.i64[row])
FL_ADD(last_bool, LAST_KEEP_NEW, i, col->data.b[row] ? 1 : 0)

static void first_merge(const rill_agg *a, void *dst, const void *src) {
    fl_acc *d = dst;
    const fl_acc *s = src;
    if (s->has && (!d->has || FIRST_KEEP_NEW(s->ts, d->ts))) *d = *s;
}

static void last_merge(const rill_agg *a, void *dst, const void *src) {
    fl_acc *d = dst;
    const fl_acc *s = src;
    if (s->has && (!d->has || LAST_KEEP_NEW(s->ts, d->ts))) *d = *s;
}

static void f64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const fl_acc *x = acc;
    *out = x->has ? rill_f64(x->v.f) : rill_null();
}

static void i64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const fl_acc *x = acc;
    *out = x->has ? rill_i64(x->v.i) : rill_null();
}

static void bool_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                        rill_value *out) {
    const fl_acc *x = acc;
    *out = x->has ? rill_bool(x->v.i != 0) : rill_null();
}

#define V RILL_AGG_OPS_VERSION
#define Z rill__agg_init_zero
static const rill_agg_ops first_f64_ops = { V, Z, first_f64_add, first_merge, NULL, f64_result };
static const rill_agg_ops first_i64_ops = { V, Z, first_i64_add, first_merge, NULL, i64_result };
static const rill_agg_ops first_bool_ops = { V, Z, first_bool_add, first_merge, NULL, bool_result };
static const rill_agg_ops last_f64_ops = { V, Z, last_f64_add, last_merge, NULL, f64_result };
static const rill_agg_ops last_i64_ops = { V, Z, last_i64_add, last_merge, NULL, i64_result };
static const rill_agg_ops last_bool_ops = { V, Z, last_bool_add, last_merge, NULL, bool_result };

int rill__agg_pick_first_last(rill_agg *a) {
    int first = a->kind == RILL_AGG_FIRST;
    switch (a->in_type) {
    case RILL_I64: a->ops = first ? &first_i64_ops : &last_i64_ops; break;
    case RILL_BOOL: a->ops = first ? &first_bool_ops : &last_bool_ops; break;
    default: a->ops = first ? &first_f64_ops : &last_f64_ops; break;
    }
    a->out_type = a->in_type;
    a->size = sizeof(fl_acc);
    return RILL_OK;
}
