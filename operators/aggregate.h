/* operators/aggregate.h — the aggregate vtable (internal).
 *
 * An aggregate keeps a fixed-size, plain-bytes accumulator: the operator
 * lays the accumulators of all its aggregates side by side in one block per
 * slice / session / key (a->offset, a->size), and the state backend stores
 * that block as it is (so there is no separate encode step: the byte form
 * is the accumulator, in host byte order, under the operator's format
 * version).
 *
 * Every aggregate can merge two accumulators, which is what slicing, session
 * merging and the two-stacks FIFO aggregation need; merge(dst, src) is
 * called with src holding events later in event time than dst whenever the
 * caller knows an order (first/last/last-N use it to break ties).
 * The methods are chosen once at bind time from the aggregate kind and the
 * input type, so nothing on the per-event path switches on either.
 */
#ifndef RILL_OPERATORS_AGGREGATE_H
#define RILL_OPERATORS_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>
#include "rill/graph.h"
#include "engine/batch.h"

#define RILL_AGG_OPS_VERSION 1

typedef struct rill_agg rill_agg;

typedef struct rill_agg_ops {
    int version;
    /* Set acc to the empty aggregate. */
    void (*init)(const rill_agg *a, void *acc);
    /* Add row `row` of column col (NULL for aggregates without a field) with
     * event time ts. A null value (col->valid[row] == 0) is skipped by every
     * aggregate except count, rate and recency, which count events. */
    void (*add)(const rill_agg *a, void *acc, const rill_column *col, size_t row, int64_t ts);
    /* dst = dst (+) src. */
    void (*merge)(const rill_agg *a, void *dst, const void *src);
    /* Optional (NULL when the aggregate is not invertible): dst = dst (-) src
     * where src was merged into dst before. */
    void (*subtract)(const rill_agg *a, void *dst, const void *src);
    /* The value for a window [start, end). Lists point into a->scratch and
     * live until the next result call on a. */
    void (*result)(const rill_agg *a, const void *acc, int64_t start, int64_t end,
                   rill_value *out);
} rill_agg_ops;

struct rill_agg {
    const rill_agg_ops *ops;
    rill_agg_kind kind;
    char *name;          /* output name (owned) */
    char *field;         /* input field name (owned), NULL if none */
    rill_type in_type;   /* type of the input field, RILL_NULL if none */
    rill_type out_type;
    uint32_t param;      /* N for last-N, precision for distinct (resolved) */
    size_t offset;       /* where its accumulator starts in the operator's block */
    size_t size;         /* bytes of its accumulator (multiple of 8) */
    double *scratch;     /* result storage for lists (owned) */
};

/* Fill a from spec for input fields of schema in: check the field exists and
 * has a type the kind accepts, resolve defaults, pick the methods, compute
 * the size. On error returns RILL_EUNKNOWN_FIELD, RILL_EFIELD_TYPE or
 * RILL_EBAD_AGG with a message in err (naming the aggregate and field) and
 * leaves nothing to free. a->offset is left for the caller to set. */
int rill__agg_bind(rill_agg *a, const rill_agg_spec *spec, const rill_schema *in,
                   char *err, size_t errlen);
void rill__agg_unbind(rill_agg *a); /* frees what bind allocated; accepts zeroed */

/* A set of bound aggregates laid out in one accumulator block. */
typedef struct rill_agg_set {
    rill_agg *aggs;
    size_t n;
    size_t block_size; /* bytes of one block of all accumulators */
} rill_agg_set;

/* Bind specs[0..n) against schema in, lay them out in a block, and check the
 * output names are unique (RILL_EDUP_NAME). Errors as rill__agg_bind. */
int rill__agg_set_bind(rill_agg_set *set, const rill_agg_spec *specs, size_t n,
                       const rill_schema *in, char *err, size_t errlen);
void rill__agg_set_free(rill_agg_set *set);

/* Whole-block helpers: each loops over the set's aggregates. */
void rill__agg_block_init(const rill_agg_set *set, void *block);
void rill__agg_block_add(const rill_agg_set *set, void *block, const rill_column *const *cols,
                         size_t row, int64_t ts);
void rill__agg_block_merge(const rill_agg_set *set, void *dst, const void *src);
/* values[i] = result of aggregate i. */
void rill__agg_block_result(const rill_agg_set *set, const void *block, int64_t start,
                            int64_t end, rill_value *values);

#endif
