/* rill/types.h — schemas, values and columnar micro-batches.
 *
 * A schema is an ordered list of named, typed fields. A batch holds rows of
 * one schema in columns: event time, key, optional event id, and one column
 * per field, each with a presence bit per row (a field an event did not
 * carry is null and aggregates skip it).
 */
#ifndef RILL_TYPES_H
#define RILL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rill_type {
    RILL_NULL = 0,
    RILL_F64 = 1,
    RILL_I64 = 2,
    RILL_BOOL = 3,
    RILL_STRING = 4,
    RILL_F64_LIST = 5, /* only produced by aggregates (last-N) */
} rill_type;

/* The name of a type ("f64"); static storage. */
const char *rill_type_name(rill_type t);

/* A borrowed, typed value. Strings and lists point into storage owned by
 * whoever handed the value out: a value read from a batch lives until the
 * batch is next changed (a row appended, a field set, cleared or freed),
 * since growing moves its storage; a record's values live until the sink
 * callback returns. Copy what must live longer. */
typedef struct rill_value {
    rill_type type;
    union {
        double f64;
        int64_t i64;
        bool b;
        struct { const char *ptr; size_t len; } str;
        struct { const double *ptr; size_t len; } list;
    } as;
} rill_value;

static inline rill_value rill_null(void) { rill_value v = {0}; return v; }
static inline rill_value rill_f64(double x) { rill_value v = { .type = RILL_F64, .as.f64 = x }; return v; }
static inline rill_value rill_i64(int64_t x) { rill_value v = { .type = RILL_I64, .as.i64 = x }; return v; }
static inline rill_value rill_bool(bool x) { rill_value v = { .type = RILL_BOOL, .as.b = x }; return v; }
static inline rill_value rill_strn(const char *p, size_t n) {
    rill_value v = { .type = RILL_STRING, .as.str = { p, n } }; return v;
}
rill_value rill_str(const char *p); /* NUL-terminated convenience */

/* ---- schema -------------------------------------------------------------- */

typedef struct rill_field {
    const char *name;
    rill_type type; /* RILL_F64, RILL_I64, RILL_BOOL or RILL_STRING */
} rill_field;

typedef struct rill_schema rill_schema;

/* A schema of the n fields given (names are copied). NULL on allocation
 * failure or an invalid field list (no name, bad type, duplicate name);
 * rill_schema_make() says which with a status and a message instead. */
rill_schema *rill_schema_new(const rill_field *fields, size_t n);
int rill_schema_make(const rill_field *fields, size_t n, rill_schema **out,
                     char *errbuf, size_t errlen);
void rill_schema_free(rill_schema *s); /* accepts NULL */

size_t rill_schema_len(const rill_schema *s);
const rill_field *rill_schema_field(const rill_schema *s, size_t i);
/* RILL_OK and *index set, or RILL_EUNKNOWN_FIELD. */
int rill_schema_index(const rill_schema *s, const char *name, size_t *index);
/* True when both list the same names with the same types in the same order. */
bool rill_schema_equal(const rill_schema *a, const rill_schema *b);

/* ---- batch --------------------------------------------------------------- */

typedef struct rill_batch rill_batch;

/* An empty batch for rows of schema s. The batch keeps its own reference to
 * the schema, so s may be freed afterwards. It grows as rows are added;
 * capacity is a first size hint. NULL on allocation failure. */
rill_batch *rill_batch_new(const rill_schema *s, size_t capacity);
void rill_batch_free(rill_batch *b); /* accepts NULL */
/* Forget all rows, keep the memory. */
void rill_batch_clear(rill_batch *b);

size_t rill_batch_len(const rill_batch *b);
const rill_schema *rill_batch_schema(const rill_batch *b);

/* Append a row with event time ts and a key (RILL_I64 or RILL_STRING, at
 * most RILL_KEY_MAX bytes). Every field starts null. RILL_EINVAL for a bad
 * key, RILL_ENOMEM (nothing appended) when the batch cannot grow. */
#define RILL_KEY_MAX 1024
int rill_batch_append(rill_batch *b, int64_t ts, rill_value key);

/* Set a field of the last row. RILL_EFIELD_TYPE when the value's type does
 * not fit the field (an integer is accepted for an f64 field), RILL_EINVAL
 * for NaN or an infinity, or when there is no row yet. */
int rill_batch_set(rill_batch *b, size_t field, rill_value v);
int rill_batch_set_f64(rill_batch *b, size_t field, double v);
int rill_batch_set_i64(rill_batch *b, size_t field, int64_t v);
/* Optional event id of the last row (RILL_I64 or RILL_STRING). */
int rill_batch_set_id(rill_batch *b, rill_value id);

int64_t rill_batch_ts(const rill_batch *b, size_t row);
rill_value rill_batch_key(const rill_batch *b, size_t row);
rill_value rill_batch_id(const rill_batch *b, size_t row);  /* RILL_NULL if none */
rill_value rill_batch_get(const rill_batch *b, size_t row, size_t field); /* RILL_NULL if absent */

#endif
