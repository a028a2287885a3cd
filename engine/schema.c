/* engine/schema.c — schemas: an ordered list of named, typed fields.
 *
 * A schema is immutable once made; every holder (source, batch) keeps its
 * own copy, so nobody has to track who frees it. Lookups by name are linear:
 * they happen at compile time and once per decoder set-up, never per event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "rill/error.h"

struct rill_schema {
    size_t n;
    rill_field *fields; /* names owned */
};

const char *rill_type_name(rill_type t) {
    switch (t) {
    case RILL_NULL: return "null";
    case RILL_F64: return "f64";
    case RILL_I64: return "i64";
    case RILL_BOOL: return "bool";
    case RILL_STRING: return "string";
    case RILL_F64_LIST: return "f64 list";
    }
    return "?";
}

rill_value rill_str(const char *p) { return rill_strn(p, p ? strlen(p) : 0); }

static bool field_type_ok(rill_type t) {
    return t == RILL_F64 || t == RILL_I64 || t == RILL_BOOL || t == RILL_STRING ||
           t == RILL_F64_LIST;
}

/* Reserved names of the wire format; a field may not take them. */
static bool reserved_name(const char *name) {
    return !strcmp(name, "ts") || !strcmp(name, "key") || !strcmp(name, "id");
}

int rill_schema_make(const rill_field *fields, size_t n, rill_schema **out, char *err,
                     size_t errlen) {
    *out = NULL;
    if (n && !fields) {
        snprintf(err, errlen, "schema: fields is NULL");
        return RILL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fields[i].name || !fields[i].name[0]) {
            snprintf(err, errlen, "schema: field %zu has no name", i);
            return RILL_EINVAL;
        }
        if (reserved_name(fields[i].name)) {
            snprintf(err, errlen, "schema: field name '%s' is reserved (ts, key, id)",
                     fields[i].name);
            return RILL_EINVAL;
        }
        if (!field_type_ok(fields[i].type)) {
            snprintf(err, errlen, "schema: field '%s' has an invalid type (%d)",
                     fields[i].name, (int)fields[i].type);
            return RILL_EFIELD_TYPE;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(fields[i].name, fields[j].name)) {
                snprintf(err, errlen, "schema: field '%s' is declared twice", fields[i].name);
                return RILL_EDUP_NAME;
            }
    }
    rill_schema *s = calloc(1, sizeof *s);
    if (!s) goto fail_nomem;
    s->fields = calloc(n ? n : 1, sizeof *s->fields);
    if (!s->fields) goto fail_nomem;
    for (size_t i = 0; i < n; i++) {
        s->fields[i].name = strdup(fields[i].name);
        if (!s->fields[i].name) goto fail_nomem;
        s->fields[i].type = fields[i].type;
        s->n = i + 1;
    }
    *out = s;
    return RILL_OK;
fail_nomem:
    rill_schema_free(s);
    snprintf(err, errlen, "schema: out of memory");
    return RILL_ENOMEM;
}

rill_schema *rill_schema_new(const rill_field *fields, size_t n) {
    rill_schema *s;
    char err[160];
    return rill_schema_make(fields, n, &s, err, sizeof err) == RILL_OK ? s : NULL;
}

void rill_schema_free(rill_schema *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free((char *)s->fields[i].name);
    free(s->fields);
    free(s);
}

rill_schema *rill__schema_dup(const rill_schema *s) { return rill_schema_new(s->fields, s->n); }

size_t rill_schema_len(const rill_schema *s) { return s->n; }

const rill_field *rill_schema_field(const rill_schema *s, size_t i) {
    return i < s->n ? &s->fields[i] : NULL;
}

int rill_schema_index(const rill_schema *s, const char *name, size_t *index) {
    if (name)
        for (size_t i = 0; i < s->n; i++)
            if (!strcmp(s->fields[i].name, name)) {
                *index = i;
                return RILL_OK;
            }
    return RILL_EUNKNOWN_FIELD;
}

bool rill_schema_equal(const rill_schema *a, const rill_schema *b) {
    if (a == b) return true;
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->fields[i].type != b->fields[i].type || strcmp(a->fields[i].name, b->fields[i].name))
            return false;
    return true;
}
