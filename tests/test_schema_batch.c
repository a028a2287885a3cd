/* tests/test_schema_batch.c — schemas and columnar micro-batches
 * (engine/schema.c, engine/batch.c), through the public API only.
 *
 * Schemas: every invalid field list is refused with its status and a
 * message naming the field; lookups, copies and equality.
 * Batches: each type round-trips through set/get; integers are accepted for
 * f64 fields; NaN, infinities and wrong types are refused and change
 * nothing; integer and string keys are distinct (5 is not "5", also as
 * window keys in a graph); keys over RILL_KEY_MAX bytes and keys of other
 * types are refused and add no row; event ids round-trip.
 * A random property test fills batches with many rows and large strings
 * (so every array and the byte arena grow many times) and checks every row
 * against a plain copy kept by the test, then clears the batch and does it
 * again. It prints its seed on failure; RILL_SEED=<n> replays one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill/rill.h"
#include "test_util.h"

/* ---- random numbers (splitmix64) ----------------------------------------- */

static uint64_t g_seed = 20240613;
static uint64_t g_rng;

static void seed_from_env(void) {
    g_seed = tu_seed_env("RILL_SEED", g_seed);
    g_rng = g_seed;
}

static uint64_t rnd(void) { return tu_splitmix64(&g_rng); }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- schemas ------------------------------------------------------------- */

/* rill_schema_make must fail with want and a message naming sub; and
 * rill_schema_new must give NULL for the same list. */
static void expect_schema_error(const rill_field *f, size_t n, int want, const char *sub) {
    rill_schema *s = (rill_schema *)(uintptr_t)1;
    char err[256] = "";
    int rc = rill_schema_make(f, n, &s, err, sizeof err);
    if (rc != want) print_error("schema_make: %s (%s), expected %s\n", rill_errname(rc), err, rill_errname(want));
    assert_int_equal(rc, want);
    assert_null(s);
    if (sub && !strstr(err, sub)) print_error("message \"%s\" does not name \"%s\"\n", err, sub);
    if (sub) assert_non_null(strstr(err, sub));
    assert_null(rill_schema_new(f, n));
}

static void test_schema_errors(void **st) {
    (void)st;
    static const char *const reserved[] = { "ts", "key", "id" };
    for (size_t i = 0; i < 3; i++) {
        rill_field f[] = { { "amount", RILL_F64 }, { reserved[i], RILL_I64 } };
        char quoted[16];
        snprintf(quoted, sizeof quoted, "'%s'", reserved[i]);
        expect_schema_error(f, 2, RILL_EINVAL, quoted);
    }
    rill_field dup[] = { { "amount", RILL_F64 }, { "merchant", RILL_STRING }, { "amount", RILL_I64 } };
    expect_schema_error(dup, 3, RILL_EDUP_NAME, "amount");
    rill_field null_type[] = { { "amount", RILL_F64 }, { "weird", RILL_NULL } };
    expect_schema_error(null_type, 2, RILL_EFIELD_TYPE, "weird");
    rill_field bad_type[] = { { "weird", (rill_type)99 } };
    expect_schema_error(bad_type, 1, RILL_EFIELD_TYPE, "weird");
    rill_field empty[] = { { "amount", RILL_F64 }, { "", RILL_I64 } };
    expect_schema_error(empty, 2, RILL_EINVAL, "1"); /* the field's position */
    rill_field no_name[] = { { NULL, RILL_I64 } };
    expect_schema_error(no_name, 1, RILL_EINVAL, NULL);
    expect_schema_error(NULL, 2, RILL_EINVAL, NULL);

    /* names that only look reserved are fine */
    rill_field ok[] = { { "TS", RILL_F64 }, { "keys", RILL_I64 }, { "id_", RILL_BOOL }, { "tsx", RILL_STRING } };
    rill_schema *s = NULL;
    char err[64];
    assert_int_equal(rill_schema_make(ok, 4, &s, err, sizeof err), RILL_OK);
    assert_non_null(s);
    rill_schema_free(s);
    /* a schema with no fields is valid */
    assert_int_equal(rill_schema_make(NULL, 0, &s, err, sizeof err), RILL_OK);
    assert_int_equal(rill_schema_len(s), 0);
    rill_schema_free(s);
}

static void test_schema_lookup(void **st) {
    (void)st;
    char name0[] = "amount", name1[] = "merchant";
    rill_field f[] = { { name0, RILL_F64 }, { name1, RILL_STRING }, { "qty", RILL_I64 }, { "flagged", RILL_BOOL } };
    rill_schema *s = rill_schema_new(f, 4);
    assert_non_null(s);
    /* names are copied */
    memset(name0, 'z', strlen(name0));
    memset(name1, 'z', strlen(name1));
    assert_int_equal(rill_schema_len(s), 4);
    static const char *const names[] = { "amount", "merchant", "qty", "flagged" };
    static const rill_type types[] = { RILL_F64, RILL_STRING, RILL_I64, RILL_BOOL };
    for (size_t i = 0; i < 4; i++) {
        const rill_field *fi = rill_schema_field(s, i);
        assert_non_null(fi);
        assert_string_equal(fi->name, names[i]);
        assert_int_equal(fi->type, types[i]);
        size_t idx = 99;
        assert_int_equal(rill_schema_index(s, names[i], &idx), RILL_OK);
        assert_int_equal(idx, i);
    }
    assert_null(rill_schema_field(s, 4));
    size_t idx = 7;
    assert_int_equal(rill_schema_index(s, "zzzzzz", &idx), RILL_EUNKNOWN_FIELD);
    assert_int_equal(rill_schema_index(s, "Amount", &idx), RILL_EUNKNOWN_FIELD);
    assert_int_equal(rill_schema_index(s, "", &idx), RILL_EUNKNOWN_FIELD);
    assert_int_equal(rill_schema_index(s, NULL, &idx), RILL_EUNKNOWN_FIELD);
    assert_int_equal(idx, 7);
    rill_schema_free(s);

    /* type names: distinct and non-empty */
    const rill_type all[] = { RILL_NULL, RILL_F64, RILL_I64, RILL_BOOL, RILL_STRING, RILL_F64_LIST };
    for (size_t i = 0; i < 6; i++) {
        assert_true(rill_type_name(all[i])[0] != 0);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(rill_type_name(all[i]), rill_type_name(all[j]));
    }
    assert_string_equal(rill_type_name(RILL_F64), "f64");
}

static void test_schema_equal(void **st) {
    (void)st;
    rill_field a[] = { { "amount", RILL_F64 }, { "merchant", RILL_STRING } };
    rill_field same[] = { { "amount", RILL_F64 }, { "merchant", RILL_STRING } };
    rill_field swapped[] = { { "merchant", RILL_STRING }, { "amount", RILL_F64 } };
    rill_field retyped[] = { { "amount", RILL_I64 }, { "merchant", RILL_STRING } };
    rill_field renamed[] = { { "amount", RILL_F64 }, { "merchants", RILL_STRING } };
    rill_schema *sa = rill_schema_new(a, 2), *ss = rill_schema_new(same, 2),
                *sw = rill_schema_new(swapped, 2), *sr = rill_schema_new(retyped, 2),
                *sn = rill_schema_new(renamed, 2), *short_ = rill_schema_new(a, 1),
                *none = rill_schema_new(NULL, 0);
    assert_non_null(sa);
    assert_non_null(ss);
    assert_non_null(sw);
    assert_non_null(sr);
    assert_non_null(sn);
    assert_non_null(short_);
    assert_non_null(none);
    assert_true(rill_schema_equal(sa, sa));
    assert_true(rill_schema_equal(sa, ss));
    assert_true(rill_schema_equal(ss, sa));
    assert_false(rill_schema_equal(sa, sw));
    assert_false(rill_schema_equal(sa, sr));
    assert_false(rill_schema_equal(sa, sn));
    assert_false(rill_schema_equal(sa, short_));
    assert_false(rill_schema_equal(short_, sa));
    assert_false(rill_schema_equal(none, short_));
    /* a batch keeps its own copy, equal to the one given */
    rill_batch *b = rill_batch_new(sa, 0);
    assert_non_null(b);
    rill_schema_free(sa);
    assert_true(rill_schema_equal(rill_batch_schema(b), ss));
    assert_int_equal(rill_batch_append(b, 1, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_set(b, 1, rill_str("still here")), RILL_OK);
    assert_int_equal(rill_batch_get(b, 0, 1).as.str.len, 10);
    rill_batch_free(b);
    rill_schema_free(ss);
    rill_schema_free(sw);
    rill_schema_free(sr);
    rill_schema_free(sn);
    rill_schema_free(short_);
    rill_schema_free(none);
    assert_null(rill_batch_new(NULL, 4));
}

/* ---- batches --------------------------------------------------------------- */

enum { F_AMOUNT, F_MERCHANT, F_QTY, F_FLAGGED, F_LIST };

static rill_schema *all_types_schema(void) {
    rill_field f[] = {
        { "amount", RILL_F64 }, { "merchant", RILL_STRING }, { "qty", RILL_I64 },
        { "flagged", RILL_BOOL }, { "recent", RILL_F64_LIST },
    };
    rill_schema *s = rill_schema_new(f, 5);
    assert_non_null(s);
    return s;
}

static void test_round_trip(void **st) {
    (void)st;
    rill_schema *s = all_types_schema();
    rill_batch *b = rill_batch_new(s, 2);
    assert_non_null(b);
    assert_int_equal(rill_batch_len(b), 0);

    /* no row yet */
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, 1.0), RILL_EINVAL);
    assert_int_equal(rill_batch_set_id(b, rill_i64(1)), RILL_EINVAL);

    assert_int_equal(rill_batch_append(b, -42, rill_i64(7)), RILL_OK);
    for (size_t f = 0; f < 5; f++) assert_int_equal(rill_batch_get(b, 0, f).type, RILL_NULL);
    const double list[] = { 1.5, -2.25, 1e300 };
    assert_int_equal(rill_batch_set(b, F_MERCHANT, rill_strn("abc", 3)), RILL_OK); /* odd arena length */
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, -0.125), RILL_OK);
    assert_int_equal(rill_batch_set_i64(b, F_QTY, INT64_MIN), RILL_OK);
    assert_int_equal(rill_batch_set(b, F_FLAGGED, rill_bool(true)), RILL_OK);
    rill_value lv = { .type = RILL_F64_LIST, .as.list = { list, 3 } };
    assert_int_equal(rill_batch_set(b, F_LIST, lv), RILL_OK);

    assert_int_equal(rill_batch_append(b, INT64_MAX, rill_str("card-1")), RILL_OK);
    assert_int_equal(rill_batch_set(b, F_MERCHANT, rill_strn("a\0b", 3)), RILL_OK); /* bytes, not C strings */
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, DBL_MAX), RILL_OK);
    assert_int_equal(rill_batch_set_i64(b, F_QTY, INT64_MAX), RILL_OK);
    assert_int_equal(rill_batch_set(b, F_FLAGGED, rill_bool(false)), RILL_OK);

    assert_int_equal(rill_batch_append(b, 0, rill_str("")), RILL_OK);        /* empty key */
    assert_int_equal(rill_batch_set(b, F_MERCHANT, rill_str("")), RILL_OK);  /* empty, present */
    assert_int_equal(rill_batch_set_i64(b, F_AMOUNT, (INT64_C(1) << 53)), RILL_OK); /* integer into f64 */
    rill_value empty_list = { .type = RILL_F64_LIST, .as.list = { NULL, 0 } };
    assert_int_equal(rill_batch_set(b, F_LIST, empty_list), RILL_OK);

    assert_int_equal(rill_batch_len(b), 3);
    rill_value v;
    assert_int_equal(rill_batch_ts(b, 0), -42);
    v = rill_batch_key(b, 0);
    assert_int_equal(v.type, RILL_I64);
    assert_int_equal(v.as.i64, 7);
    v = rill_batch_get(b, 0, F_AMOUNT);
    assert_int_equal(v.type, RILL_F64);
    assert_true(v.as.f64 == -0.125);
    v = rill_batch_get(b, 0, F_MERCHANT);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 3);
    assert_memory_equal(v.as.str.ptr, "abc", 3);
    v = rill_batch_get(b, 0, F_QTY);
    assert_int_equal(v.type, RILL_I64);
    assert_true(v.as.i64 == INT64_MIN);
    v = rill_batch_get(b, 0, F_FLAGGED);
    assert_int_equal(v.type, RILL_BOOL);
    assert_true(v.as.b);
    v = rill_batch_get(b, 0, F_LIST);
    assert_int_equal(v.type, RILL_F64_LIST);
    assert_int_equal(v.as.list.len, 3);
    assert_int_equal((uintptr_t)v.as.list.ptr % _Alignof(double), 0);
    for (size_t i = 0; i < 3; i++) assert_true(v.as.list.ptr[i] == list[i]);

    assert_true(rill_batch_ts(b, 1) == INT64_MAX);
    v = rill_batch_key(b, 1);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 6);
    assert_memory_equal(v.as.str.ptr, "card-1", 6);
    v = rill_batch_get(b, 1, F_MERCHANT);
    assert_int_equal(v.as.str.len, 3);
    assert_memory_equal(v.as.str.ptr, "a\0b", 3);
    assert_true(rill_batch_get(b, 1, F_AMOUNT).as.f64 == DBL_MAX);
    assert_true(rill_batch_get(b, 1, F_QTY).as.i64 == INT64_MAX);
    v = rill_batch_get(b, 1, F_FLAGGED);
    assert_int_equal(v.type, RILL_BOOL);
    assert_false(v.as.b);
    assert_int_equal(rill_batch_get(b, 1, F_LIST).type, RILL_NULL);

    v = rill_batch_key(b, 2);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 0);
    v = rill_batch_get(b, 2, F_MERCHANT);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 0);
    v = rill_batch_get(b, 2, F_AMOUNT);
    assert_int_equal(v.type, RILL_F64);
    assert_true(v.as.f64 == 9007199254740992.0);
    v = rill_batch_get(b, 2, F_LIST);
    assert_int_equal(v.type, RILL_F64_LIST);
    assert_int_equal(v.as.list.len, 0);

    /* setting null clears a field; a second set replaces the first */
    assert_int_equal(rill_batch_set(b, F_AMOUNT, rill_null()), RILL_OK);
    assert_int_equal(rill_batch_get(b, 2, F_AMOUNT).type, RILL_NULL);
    assert_int_equal(rill_batch_set(b, F_MERCHANT, rill_str("second")), RILL_OK);
    assert_int_equal(rill_batch_get(b, 2, F_MERCHANT).as.str.len, 6);
    /* only the last row is set */
    assert_int_equal(rill_batch_get(b, 0, F_MERCHANT).as.str.len, 3);

    /* out of range reads are null */
    assert_int_equal(rill_batch_get(b, 3, F_AMOUNT).type, RILL_NULL);
    assert_int_equal(rill_batch_get(b, 0, 5).type, RILL_NULL);
    assert_int_equal(rill_batch_set_f64(b, 5, 1.0), RILL_EINVAL);
    rill_batch_free(b);
    rill_schema_free(s);
}

static void test_refused_values(void **st) {
    (void)st;
    rill_schema *s = all_types_schema();
    rill_batch *b = rill_batch_new(s, 0);
    assert_non_null(b);
    assert_int_equal(rill_batch_append(b, 1, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, 3.5), RILL_OK);

    /* NaN and infinities: RILL_EINVAL, and the field keeps its value */
    const double bad[] = { NAN, -NAN, INFINITY, -INFINITY };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, bad[i]), RILL_EINVAL);
        assert_int_equal(rill_batch_set(b, F_AMOUNT, rill_f64(bad[i])), RILL_EINVAL);
        assert_true(rill_batch_get(b, 0, F_AMOUNT).as.f64 == 3.5);
    }
    /* on a fresh row the field stays null */
    assert_int_equal(rill_batch_append(b, 2, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, NAN), RILL_EINVAL);
    assert_int_equal(rill_batch_get(b, 1, F_AMOUNT).type, RILL_NULL);

    /* wrong types: RILL_EFIELD_TYPE, field unchanged (null) */
    struct { size_t field; rill_value v; } wrong[] = {
        { F_AMOUNT, rill_str("3.5") },  { F_AMOUNT, rill_bool(true) },
        { F_QTY, rill_f64(3.0) },       { F_QTY, rill_bool(true) }, { F_QTY, rill_str("3") },
        { F_FLAGGED, rill_i64(1) },     { F_FLAGGED, rill_f64(1) }, { F_FLAGGED, rill_str("true") },
        { F_MERCHANT, rill_i64(5) },    { F_MERCHANT, rill_f64(5) }, { F_MERCHANT, rill_bool(false) },
        { F_LIST, rill_f64(1) },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        assert_int_equal(rill_batch_set(b, wrong[i].field, wrong[i].v), RILL_EFIELD_TYPE);
        assert_int_equal(rill_batch_get(b, 1, wrong[i].field).type, RILL_NULL);
    }
    assert_int_equal(rill_batch_set_i64(b, F_FLAGGED, 1), RILL_EFIELD_TYPE);
    assert_int_equal(rill_batch_set_f64(b, F_QTY, 1), RILL_EFIELD_TYPE);
    /* integers are accepted into f64 fields */
    assert_int_equal(rill_batch_set_i64(b, F_AMOUNT, -17), RILL_OK);
    assert_int_equal(rill_batch_get(b, 1, F_AMOUNT).type, RILL_F64);
    assert_true(rill_batch_get(b, 1, F_AMOUNT).as.f64 == -17.0);
    assert_int_equal(rill_batch_len(b), 2);
    rill_batch_free(b);
    rill_schema_free(s);
}

static void test_keys(void **st) {
    (void)st;
    rill_schema *s = all_types_schema();
    rill_batch *b = rill_batch_new(s, 0);
    assert_non_null(b);

    /* 5 and "5" are different keys */
    assert_int_equal(rill_batch_append(b, 1, rill_i64(5)), RILL_OK);
    assert_int_equal(rill_batch_append(b, 2, rill_str("5")), RILL_OK);
    rill_value k0 = rill_batch_key(b, 0), k1 = rill_batch_key(b, 1);
    assert_int_equal(k0.type, RILL_I64);
    assert_int_equal(k0.as.i64, 5);
    assert_int_equal(k1.type, RILL_STRING);
    assert_int_equal(k1.as.str.len, 1);
    assert_memory_equal(k1.as.str.ptr, "5", 1);

    /* extreme integers */
    const int64_t ints[] = { 0, -1, INT64_MIN, INT64_MAX };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rill_batch_append(b, 3, rill_i64(ints[i])), RILL_OK);
        rill_value k = rill_batch_key(b, rill_batch_len(b) - 1);
        assert_int_equal(k.type, RILL_I64);
        assert_true(k.as.i64 == ints[i]);
    }

    /* RILL_KEY_MAX bytes is the limit */
    char *big = malloc(RILL_KEY_MAX + 2);
    assert_non_null(big);
    for (size_t i = 0; i < RILL_KEY_MAX + 1; i++) big[i] = (char)('a' + i % 26);
    size_t len = rill_batch_len(b);
    assert_int_equal(rill_batch_append(b, 4, rill_strn(big, RILL_KEY_MAX)), RILL_OK);
    rill_value k = rill_batch_key(b, len);
    assert_int_equal(k.as.str.len, RILL_KEY_MAX);
    assert_memory_equal(k.as.str.ptr, big, RILL_KEY_MAX);
    assert_int_equal(rill_batch_append(b, 4, rill_strn(big, RILL_KEY_MAX + 1)), RILL_EINVAL);
    assert_int_equal(rill_batch_append(b, 4, rill_strn(big, (size_t)1 << 20)), RILL_EINVAL);
    /* keys of other types */
    assert_int_equal(rill_batch_append(b, 4, rill_f64(5.0)), RILL_EINVAL);
    assert_int_equal(rill_batch_append(b, 4, rill_bool(true)), RILL_EINVAL);
    assert_int_equal(rill_batch_append(b, 4, rill_null()), RILL_EINVAL);
    assert_int_equal(rill_batch_append(b, 4, rill_strn(NULL, 3)), RILL_EINVAL);
    assert_int_equal(rill_batch_len(b), len + 1); /* nothing refused was appended */
    /* a refused append leaves the last row the target of set */
    assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, 2.0), RILL_OK);
    assert_true(rill_batch_get(b, len, F_AMOUNT).as.f64 == 2.0);
    free(big);
    rill_batch_free(b);
    rill_schema_free(s);
}

/* 5 and "5" also stay apart as window keys. */
typedef struct key_counts { int64_t int5, str5; size_t records; } key_counts;

static void count_by_key(const rill_record *r, void *user) {
    key_counts *c = user;
    c->records++;
    if (r->key.type == RILL_I64 && r->key.as.i64 == 5) c->int5 += r->values[0].as.i64;
    if (r->key.type == RILL_STRING && r->key.as.str.len == 1 && r->key.as.str.ptr[0] == '5')
        c->str5 += r->values[0].as.i64;
}

static void test_keys_in_a_graph(void **st) {
    (void)st;
    rill_schema *s = all_types_schema();
    rill_graph *g = rill_graph_new();
    assert_non_null(g);
    assert_int_equal(rill_graph_source(g, "tx", s, NULL), RILL_OK);
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 } };
    rill_window_opts o = { .window = rill_tumbling(60000), .aggs = a, .n_aggs = 1 };
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    key_counts c = { 0, 0, 0 };
    assert_int_equal(rill_graph_sink(g, "count", "per_minute", count_by_key, &c), RILL_OK);
    rill_plan *p = NULL;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    rill_batch *b = rill_batch_new(s, 0);
    assert_non_null(b);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rill_batch_append(b, 1000 + i, i % 3 ? rill_i64(5) : rill_str("5")), RILL_OK);
    }
    assert_int_equal(rill_plan_push(p, "tx", b), RILL_OK);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.records, 2);
    assert_int_equal(c.int5, 6);  /* i = 1,2,4,5,7,8 */
    assert_int_equal(c.str5, 4);  /* i = 0,3,6,9 */
    rill_batch_free(b);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
}

static void test_ids(void **st) {
    (void)st;
    rill_schema *s = all_types_schema();
    rill_batch *b = rill_batch_new(s, 0);
    assert_non_null(b);
    assert_int_equal(rill_batch_append(b, 1, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_id(b, 0).type, RILL_NULL);
    assert_int_equal(rill_batch_set_id(b, rill_i64(-99)), RILL_OK);
    assert_int_equal(rill_batch_append(b, 2, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_set_id(b, rill_str("evt-2")), RILL_OK);
    assert_int_equal(rill_batch_append(b, 3, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_set_id(b, rill_str("")), RILL_OK); /* an empty string id is an id */
    assert_int_equal(rill_batch_append(b, 4, rill_i64(1)), RILL_OK);
    char big[RILL_KEY_MAX + 1];
    memset(big, 'q', sizeof big);
    assert_int_equal(rill_batch_set_id(b, rill_strn(big, sizeof big)), RILL_EINVAL);
    assert_int_equal(rill_batch_set_id(b, rill_f64(1.0)), RILL_EINVAL);
    assert_int_equal(rill_batch_set_id(b, rill_null()), RILL_EINVAL);
    assert_int_equal(rill_batch_id(b, 3).type, RILL_NULL);

    rill_value v = rill_batch_id(b, 0);
    assert_int_equal(v.type, RILL_I64);
    assert_int_equal(v.as.i64, -99);
    v = rill_batch_id(b, 1);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 5);
    assert_memory_equal(v.as.str.ptr, "evt-2", 5);
    v = rill_batch_id(b, 2);
    assert_int_equal(v.type, RILL_STRING);
    assert_int_equal(v.as.str.len, 0);
    rill_batch_free(b);
    rill_schema_free(s);
}

/* ---- growth, clear and reuse: random rows against a plain copy ------------- */

typedef struct model_row {
    int64_t ts;
    bool key_is_str;
    int64_t key_i;
    char *key_s;
    size_t key_len;
    int id_kind;         /* 0 none, 1 i64, 2 string */
    int64_t id_i;
    char *id_s;
    size_t id_len;
    bool has[4];
    double amount;
    char *merchant;
    size_t merchant_len;
    int64_t qty;
    bool flagged;
} model_row;

static char *rnd_bytes(size_t n) {
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (char)rnd();
    return p;
}

static void model_free(model_row *m, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(m[i].key_s);
        free(m[i].id_s);
        free(m[i].merchant);
    }
}

static void fill(rill_batch *b, model_row *m, size_t n) {
    for (size_t r = 0; r < n; r++) {
        model_row *x = &m[r];
        memset(x, 0, sizeof *x);
        x->ts = (int64_t)rnd() >> (rnd() % 64);
        x->key_is_str = rnd() & 1;
        if (x->key_is_str) {
            x->key_len = (size_t)rnd_below(RILL_KEY_MAX + 1);
            x->key_s = rnd_bytes(x->key_len);
            assert_int_equal(rill_batch_append(b, x->ts, rill_strn(x->key_s, x->key_len)), RILL_OK);
        } else {
            x->key_i = (int64_t)rnd();
            assert_int_equal(rill_batch_append(b, x->ts, rill_i64(x->key_i)), RILL_OK);
        }
        x->id_kind = (int)rnd_below(3);
        if (x->id_kind == 1) {
            x->id_i = (int64_t)rnd();
            assert_int_equal(rill_batch_set_id(b, rill_i64(x->id_i)), RILL_OK);
        } else if (x->id_kind == 2) {
            x->id_len = (size_t)rnd_below(40);
            x->id_s = rnd_bytes(x->id_len);
            assert_int_equal(rill_batch_set_id(b, rill_strn(x->id_s, x->id_len)), RILL_OK);
        }
        for (int f = 0; f < 4; f++) x->has[f] = rnd_below(4) != 0;
        if (x->has[F_AMOUNT]) {
            x->amount = ((double)(int64_t)rnd()) / 1e6;
            assert_int_equal(rill_batch_set_f64(b, F_AMOUNT, x->amount), RILL_OK);
        }
        if (x->has[F_MERCHANT]) {
            /* mostly short, now and then 16 KiB to 256 KiB */
            x->merchant_len = rnd_below(300) ? (size_t)rnd_below(64)
                                             : (size_t)(16384 + rnd_below(1u << 18));
            x->merchant = rnd_bytes(x->merchant_len);
            assert_int_equal(rill_batch_set(b, F_MERCHANT, rill_strn(x->merchant, x->merchant_len)), RILL_OK);
        }
        if (x->has[F_QTY]) {
            x->qty = (int64_t)rnd();
            assert_int_equal(rill_batch_set_i64(b, F_QTY, x->qty), RILL_OK);
        }
        if (x->has[F_FLAGGED]) {
            x->flagged = rnd() & 1;
            assert_int_equal(rill_batch_set(b, F_FLAGGED, rill_bool(x->flagged)), RILL_OK);
        }
    }
}

static void check(const rill_batch *b, const model_row *m, size_t n) {
    assert_int_equal(rill_batch_len(b), n);
    for (size_t r = 0; r < n; r++) {
        const model_row *x = &m[r];
        assert_true(rill_batch_ts(b, r) == x->ts);
        rill_value k = rill_batch_key(b, r);
        if (x->key_is_str) {
            assert_int_equal(k.type, RILL_STRING);
            assert_int_equal(k.as.str.len, x->key_len);
            if (x->key_len) assert_memory_equal(k.as.str.ptr, x->key_s, x->key_len);
        } else {
            assert_int_equal(k.type, RILL_I64);
            assert_true(k.as.i64 == x->key_i);
        }
        rill_value id = rill_batch_id(b, r);
        if (x->id_kind == 0) assert_int_equal(id.type, RILL_NULL);
        if (x->id_kind == 1) {
            assert_int_equal(id.type, RILL_I64);
            assert_true(id.as.i64 == x->id_i);
        }
        if (x->id_kind == 2) {
            assert_int_equal(id.type, RILL_STRING);
            assert_int_equal(id.as.str.len, x->id_len);
            if (x->id_len) assert_memory_equal(id.as.str.ptr, x->id_s, x->id_len);
        }
        rill_value v = rill_batch_get(b, r, F_AMOUNT);
        assert_int_equal(v.type, x->has[F_AMOUNT] ? RILL_F64 : RILL_NULL);
        if (x->has[F_AMOUNT]) assert_true(v.as.f64 == x->amount);
        v = rill_batch_get(b, r, F_MERCHANT);
        assert_int_equal(v.type, x->has[F_MERCHANT] ? RILL_STRING : RILL_NULL);
        if (x->has[F_MERCHANT]) {
            assert_int_equal(v.as.str.len, x->merchant_len);
            if (x->merchant_len) assert_memory_equal(v.as.str.ptr, x->merchant, x->merchant_len);
        }
        v = rill_batch_get(b, r, F_QTY);
        assert_int_equal(v.type, x->has[F_QTY] ? RILL_I64 : RILL_NULL);
        if (x->has[F_QTY]) assert_true(v.as.i64 == x->qty);
        v = rill_batch_get(b, r, F_FLAGGED);
        assert_int_equal(v.type, x->has[F_FLAGGED] ? RILL_BOOL : RILL_NULL);
        if (x->has[F_FLAGGED]) assert_true(v.as.b == x->flagged);
        assert_int_equal(rill_batch_get(b, r, F_LIST).type, RILL_NULL);
    }
}

static void test_growth_and_reuse(void **st) {
    (void)st;
    seed_from_env();
    print_message("seed %" PRIu64 "\n", g_seed);
    rill_schema *s = all_types_schema();
    rill_batch *b = rill_batch_new(s, 1); /* start tiny: everything must grow */
    assert_non_null(b);
    const size_t sizes[] = { 20000, 3, 0, 7000 };
    model_row *m = calloc(20000, sizeof *m);
    assert_non_null(m);
    for (size_t round = 0; round < 4; round++) {
        fill(b, m, sizes[round]);
        check(b, m, sizes[round]);
        model_free(m, sizes[round]);
        rill_batch_clear(b);
        assert_int_equal(rill_batch_len(b), 0);
    }
    /* after clear, a new row starts with every field null, whatever the old
     * rows at that position held */
    assert_int_equal(rill_batch_append(b, 5, rill_i64(5)), RILL_OK);
    for (size_t f = 0; f < 5; f++) assert_int_equal(rill_batch_get(b, 0, f).type, RILL_NULL);
    assert_int_equal(rill_batch_id(b, 0).type, RILL_NULL);
    free(m);
    rill_batch_free(b);
    rill_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_schema_lookup),
        cmocka_unit_test(test_schema_equal),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused_values),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_in_a_graph),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_growth_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
