/* operators/aggregate.c — binding aggregate specs to an input schema, and
 * the whole-block helpers the window operators call.
 *
 * One table, indexed by rill_agg_kind, says for each kind its name, whether
 * it reads a field, which field types it accepts, its parameter range and
 * which picker (agg_<concept>.c) chooses its methods. Bind is the only
 * place that looks at the kind: after it, the operators call through
 * a->ops and nothing on the per-event path switches on kind or type.
 *
 * Validation, in the order the checks run: a known kind, an output name, a
 * field for the kinds that read one (count, rate and recency read only the
 * event itself and ignore a given field), the field exists in the schema,
 * its type suits the kind, the parameter is in range. Every message names
 * the aggregate's output name, its kind and its field.
 *
 * A set lays its aggregates' accumulators one after the other in a block,
 * each rounded up to 8 bytes; it does not decide where blocks live or how
 * they are stored (the operators and the state backend do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/agg_impl.h"
#include "rill/error.h"

#define T_F64 (1u << RILL_F64)
#define T_I64 (1u << RILL_I64)
#define T_BOOL (1u << RILL_BOOL)
#define T_STRING (1u << RILL_STRING)
#define T_LIST (1u << RILL_F64_LIST)
#define T_NUMERIC (T_F64 | T_I64 | T_BOOL)

typedef struct kind_info {
    const char *name;
    int reads_field;   /* 0: the kind sees only events, a given field is ignored */
    unsigned types;    /* accepted field types, bit per rill_type */
    const char *needs; /* "<kind> needs ..." in type errors */
    const char *param_name; /* NULL: the kind has no parameter (param ignored) */
    uint32_t param_lo, param_hi, param_default; /* default 0: the param must be given */
    int (*pick)(rill_agg *a);
} kind_info;

static const kind_info kinds[] = {
    [RILL_AGG_COUNT] = { "count", 0, 0, NULL, NULL, 0, 0, 0, rill__agg_pick_count },
    [RILL_AGG_SUM] = { "sum", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL, 0, 0, 0,
                       rill__agg_pick_sum },
    [RILL_AGG_MEAN] = { "mean", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL, 0, 0,
                        0, rill__agg_pick_mean },
    [RILL_AGG_MIN] = { "min", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL, 0, 0, 0,
                       rill__agg_pick_minmax },
    [RILL_AGG_MAX] = { "max", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL, 0, 0, 0,
                       rill__agg_pick_minmax },
    [RILL_AGG_VARIANCE] = { "variance", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL,
                            0, 0, 0, rill__agg_pick_variance },
    [RILL_AGG_STDDEV] = { "stddev", 1, T_NUMERIC, "a numeric field (f64, i64 or bool)", NULL, 0,
                          0, 0, rill__agg_pick_variance },
    [RILL_AGG_FIRST] = { "first", 1, T_NUMERIC, "an f64, i64 or bool field", NULL, 0, 0, 0,
                         rill__agg_pick_first_last },
    [RILL_AGG_LAST] = { "last", 1, T_NUMERIC, "an f64, i64 or bool field", NULL, 0, 0, 0,
                        rill__agg_pick_first_last },
    [RILL_AGG_LAST_N] = { "last_n", 1, T_NUMERIC, "an f64, i64 or bool field", "N", 1, 4096, 0,
                          rill__agg_pick_last_n },
    [RILL_AGG_DISTINCT] = { "distinct", 1, T_NUMERIC | T_STRING | T_LIST, "a field", "precision",
                            4, 16, 12, rill__agg_pick_distinct },
    [RILL_AGG_RATE] = { "rate", 0, 0, NULL, NULL, 0, 0, 0, rill__agg_pick_rate },
    [RILL_AGG_RECENCY] = { "recency", 0, 0, NULL, NULL, 0, 0, 0, rill__agg_pick_recency },
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const kind_info *kind_of(rill_agg_kind k) {
    if ((unsigned)k >= N_KINDS || !kinds[k].name) return NULL;
    return &kinds[k];
}

const char *rill_agg_kind_name(rill_agg_kind k) {
    const kind_info *ki = kind_of(k);
    return ki ? ki->name : "unknown";
}

void rill__agg_init_zero(const rill_agg *a, void *acc) { memset(acc, 0, a->size); }

/* "a string", "an f64 list": the type with its article, for messages. */
static const char *article(rill_type t) {
    return (t == RILL_F64 || t == RILL_I64 || t == RILL_F64_LIST) ? "an" : "a";
}

int rill__agg_bind(rill_agg *a, const rill_agg_spec *spec, const rill_schema *in, char *err,
                   size_t errlen) {
    memset(a, 0, sizeof *a);
    const kind_info *ki = kind_of(spec->kind);
    const char *name = spec->name ? spec->name : "";
    const char *field = spec->field;
    if (!ki) {
        snprintf(err, errlen, "aggregate '%s': unknown kind %d", name, (int)spec->kind);
        return RILL_EBAD_AGG;
    }
    if (!name[0]) {
        if (field && ki->reads_field)
            snprintf(err, errlen, "aggregate (%s) of field '%s': missing output name", ki->name,
                     field);
        else
            snprintf(err, errlen, "aggregate (%s): missing output name", ki->name);
        return RILL_EBAD_AGG;
    }
    a->kind = spec->kind;
    a->in_type = RILL_NULL;
    if (ki->reads_field) {
        size_t idx;
        if (!field || !field[0]) {
            snprintf(err, errlen, "aggregate '%s' (%s): no input field; %s needs %s", name,
                     ki->name, ki->name, ki->needs);
            return RILL_EBAD_AGG;
        }
        if (!in || rill_schema_index(in, field, &idx) != RILL_OK) {
            snprintf(err, errlen, "aggregate '%s' (%s): field '%s' is not in the input", name,
                     ki->name, field);
            return RILL_EUNKNOWN_FIELD;
        }
        rill_type t = rill_schema_field(in, idx)->type;
        if ((unsigned)t >= 32 || !(ki->types & (1u << t))) {
            snprintf(err, errlen, "aggregate '%s' (%s): field '%s' is %s %s; %s needs %s", name,
                     ki->name, field, article(t), rill_type_name(t), ki->name, ki->needs);
            return RILL_EFIELD_TYPE;
        }
        a->in_type = t;
    }
    if (ki->param_name) {
        uint32_t p = spec->param ? spec->param : ki->param_default;
        if (p < ki->param_lo || p > ki->param_hi) {
            snprintf(err, errlen, "aggregate '%s' (%s) of field '%s': %s must be in %u..%u, got %u",
                     name, ki->name, field, ki->param_name, ki->param_lo, ki->param_hi,
                     (unsigned)spec->param);
            return RILL_EBAD_AGG;
        }
        a->param = p;
    }
    a->name = strdup(name);
    if (ki->reads_field) a->field = strdup(field);
    if (!a->name || (ki->reads_field && !a->field)) goto fail_nomem;
    if (ki->pick(a) != RILL_OK) goto fail_nomem;
    a->size = (a->size + 7) & ~(size_t)7;
    return RILL_OK;
fail_nomem:
    rill__agg_unbind(a);
    snprintf(err, errlen, "aggregate '%s' (%s): out of memory", name, ki->name);
    return RILL_ENOMEM;
}

void rill__agg_unbind(rill_agg *a) {
    if (!a) return;
    free(a->name);
    free(a->field);
    free(a->scratch);
    memset(a, 0, sizeof *a);
}

int rill__agg_set_bind(rill_agg_set *set, const rill_agg_spec *specs, size_t n,
                       const rill_schema *in, char *err, size_t errlen) {
    memset(set, 0, sizeof *set);
    if (n && !specs) {
        snprintf(err, errlen, "aggregates: specs is NULL");
        return RILL_EINVAL;
    }
    int rc;
    rill_agg *aggs = calloc(n ? n : 1, sizeof *aggs);
    if (!aggs) {
        snprintf(err, errlen, "aggregates: out of memory");
        return RILL_ENOMEM;
    }
    size_t off = 0, bound = 0;
    for (; bound < n; bound++) {
        rill_agg *a = &aggs[bound];
        if ((rc = rill__agg_bind(a, &specs[bound], in, err, errlen)) != RILL_OK) goto fail;
        a->offset = off;
        off += a->size;
        for (size_t j = 0; j < bound; j++)
            if (!strcmp(aggs[j].name, a->name)) {
                snprintf(err, errlen,
                         "aggregate '%s' (%s%s%s%s): output name already used by aggregate %zu (%s)",
                         a->name, rill_agg_kind_name(a->kind), a->field ? " of field '" : "",
                         a->field ? a->field : "", a->field ? "'" : "", j,
                         rill_agg_kind_name(aggs[j].kind));
                bound++; /* a is bound: free it too */
                rc = RILL_EDUP_NAME;
                goto fail;
            }
    }
    set->aggs = aggs;
    set->n = n;
    set->block_size = off;
    return RILL_OK;
fail:
    for (size_t j = 0; j < bound; j++) rill__agg_unbind(&aggs[j]);
    free(aggs);
    return rc;
}

void rill__agg_set_free(rill_agg_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) rill__agg_unbind(&set->aggs[i]);
    free(set->aggs);
    memset(set, 0, sizeof *set);
}

void rill__agg_block_init(const rill_agg_set *set, void *block) {
    char *p = block;
    for (size_t i = 0; i < set->n; i++) {
        const rill_agg *a = &set->aggs[i];
        a->ops->init(a, p + a->offset);
    }
}

void rill__agg_block_add(const rill_agg_set *set, void *block, const rill_column *const *cols,
                         size_t row, int64_t ts) {
    char *p = block;
    for (size_t i = 0; i < set->n; i++) {
        const rill_agg *a = &set->aggs[i];
        a->ops->add(a, p + a->offset, cols ? cols[i] : NULL, row, ts);
    }
}

void rill__agg_block_merge(const rill_agg_set *set, void *dst, const void *src) {
    char *d = dst;
    const char *s = src;
    for (size_t i = 0; i < set->n; i++) {
        const rill_agg *a = &set->aggs[i];
        a->ops->merge(a, d + a->offset, s + a->offset);
    }
}

void rill__agg_block_result(const rill_agg_set *set, const void *block, int64_t start,
                            int64_t end, rill_value *values) {
    const char *p = block;
    for (size_t i = 0; i < set->n; i++) {
        const rill_agg *a = &set->aggs[i];
        a->ops->result(a, p + a->offset, start, end, &values[i]);
    }
}
