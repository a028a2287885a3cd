/* operators/agg_minmax.c — min and max of a numeric field.
 *
 * i64 fields compare and return exact int64; f64 fields return f64, and
 * bool fields (0/1) return f64 as well. The accumulator is the extreme so
 * far and whether there is one; the min or max of no values is null.
 * Neither is invertible, so there is no subtract: sliding windows combine
 * slices with the FIFO aggregation instead (operators/fifo_agg.c).
 */
#include "operators/agg_impl.h"

typedef struct mm_f64_acc { double v; int64_t has; } mm_f64_acc;
typedef struct mm_i64_acc { int64_t v; int64_t has; } mm_i64_acc;

/* BETTER(x, y): x replaces the current extreme y. */
#define MM_DEFINE(name, acc_t, elem_t, at, BETTER)                                         \
    static void name##_add(const rill_agg *a, void *acc, const rill_column *col,           \
                           size_t row, int64_t ts) {                                       \
        if (!col->valid[row]) return;                                                      \
        acc_t *x = acc;                                                                    \
        elem_t v = at(col, row);                                                           \
        if (!x->has || BETTER(v, x->v)) {                                                  \
            x->v = v;                                                                      \
            x->has = 1;                                                                    \
        }                                                                                  \
    }
#define MM_MERGE(name, acc_t, BETTER)                                                      \
    static void name##_merge(const rill_agg *a, void *dst, const void *src) {              \
        acc_t *d = dst;                                                                    \
        const acc_t *s = src;                                                              \
        if (s->has && (!d->has || BETTER(s->v, d->v))) *d = *s;                            \
    }
#define LESS(x, y) ((x) < (y))
#define GREATER(x, y) ((x) > (y))

static int64_t i64_at(const rill_column *col, size_t row) { return col->data.i64[row]; }

MM_DEFINE(min_f64, mm_f64_acc, double, rill__agg_f64_at, LESS)
MM_DEFINE(min_bool, mm_f64_acc, double, rill__agg_bool_at, LESS)
MM_DEFINE(min_i64, mm_i64_acc, int64_t, i64_at, LESS)
MM_DEFINE(max_f64, mm_f64_acc, double, rill__agg_f64_at, GREATER)
MM_DEFINE(max_bool, mm_f64_acc, double, rill__agg_bool_at, GREATER)
MM_DEFINE(max_i64, mm_i64_acc, int64_t, i64_at, GREATER)
MM_MERGE(min_f64, mm_f64_acc, LESS)
MM_MERGE(min_i64, mm_i64_acc, LESS)
MM_MERGE(max_f64, mm_f64_acc, GREATER)
MM_MERGE(max_i64, mm_i64_acc, GREATER)

static void f64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const mm_f64_acc *x = acc;
    *out = x->has ? rill_f64(x->v) : rill_null();
}

static void i64_result(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                       rill_value *out) {
    const mm_i64_acc *x = acc;
    *out = x->has ? rill_i64(x->v) : rill_null();
}

#define V RILL_AGG_OPS_VERSION
#define Z rill__agg_init_zero
static const rill_agg_ops min_f64_ops = { V, Z, min_f64_add, min_f64_merge, NULL, f64_result };
static const rill_agg_ops min_bool_ops = { V, Z, min_bool_add, min_f64_merge, NULL, f64_result };
static const rill_agg_ops min_i64_ops = { V, Z, min_i64_add, min_i64_merge, NULL, i64_result };
static const rill_agg_ops max_f64_ops = { V, Z, max_f64_add, max_f64_merge, NULL, f64_result };
static const rill_agg_ops max_bool_ops = { V, Z, max_bool_add, max_f64_merge, NULL, f64_result };
static const rill_agg_ops max_i64_ops = { V, Z, max_i64_add, max_i64_merge, NULL, i64_result };

int rill__agg_pick_minmax(rill_agg *a) {
    int is_min = a->kind == RILL_AGG_MIN;
    if (a->in_type == RILL_I64) {
        a->ops = is_min ? &min_i64_ops : &max_i64_ops;
        a->out_type = RILL_I64;
        a->size = sizeof(mm_i64_acc);
    } else {
        if (a->in_type == RILL_BOOL)
            a->ops = is_min ? &min_bool_ops : &max_bool_ops;
        else
            a->ops = is_min ? &min_f64_ops : &max_f64_ops;
        a->out_type = RILL_F64;
        a->size = sizeof(mm_f64_acc);
    }
    return RILL_OK;
}
