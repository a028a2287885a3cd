/* operators/agg_impl.h — what the aggregate files share (private to the
 * agg_*.c files and aggregate.c).
 *
 * Each agg_<concept>.c exports one picker: given a rill_agg whose kind,
 * in_type and param are already checked and resolved by rill__agg_bind(),
 * it sets ops, out_type and the raw accumulator size (bind rounds it up to
 * a multiple of 8). Pickers choose per input type, so the add() they pick
 * never looks at the type again.
 *
 * Accumulators are read and written in place as C structs, so a block (and
 * every offset in it) must be 8-byte aligned; the operators keep blocks in
 * malloc'd memory at multiples of 8. Accumulator structs have no padding
 * holes, and init zeroes all a->size bytes, so a block's bytes are fully
 * determined by its content (what the state backend stores).
 */
#ifndef RILL_OPERATORS_AGG_IMPL_H
#define RILL_OPERATORS_AGG_IMPL_H

#include "operators/aggregate.h"

/* init for every aggregate whose empty accumulator is all zero bytes. */
void rill__agg_init_zero(const rill_agg *a, void *acc);

/* The numeric value of row `row` of a f64, i64 or bool column, as a double. */
static inline double rill__agg_f64_at(const rill_column *col, size_t row) { return col->data.f64[row]; }
static inline double rill__agg_i64_at(const rill_column *col, size_t row) { return (double)col->data.i64[row]; }
static inline double rill__agg_bool_at(const rill_column *col, size_t row) { return col->data.b[row] ? 1.0 : 0.0; }

/* Neumaier's compensated summation: the running sum is s + c, where c
 * gathers the low-order bits each addition to s rounds away, so a long
 * stream (or a merge/subtract sequence) keeps nearly full precision. */
static inline void rill__ksum_add(double *s, double *c, double x) {
    double t = *s + x;
    if ((*s >= 0 ? *s : -*s) >= (x >= 0 ? x : -x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

/* Pickers; each returns RILL_OK, or RILL_ENOMEM (only last-N allocates). */
int rill__agg_pick_count(rill_agg *a);
int rill__agg_pick_sum(rill_agg *a);
int rill__agg_pick_mean(rill_agg *a);
int rill__agg_pick_minmax(rill_agg *a);   /* min and max */
int rill__agg_pick_variance(rill_agg *a); /* variance and stddev */
int rill__agg_pick_first_last(rill_agg *a);
int rill__agg_pick_last_n(rill_agg *a);
int rill__agg_pick_distinct(rill_agg *a);
int rill__agg_pick_rate(rill_agg *a);
int rill__agg_pick_recency(rill_agg *a);

#endif
