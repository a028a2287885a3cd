/* tests/test_graph_validate.c — graph validation (engine/graph.c,
 * engine/compile.c) and the checks rill_plan_push makes on its input.
 *
 * Each validation rule gets its own graph that breaks it and nothing else;
 * the test asserts the status code and that rill_graph_errmsg() names the
 * culprit (the operator, sink or source, and the field or input at fault)
 * as substrings, so a user can act on the message alone.
 *
 * The graphs that do compile (every window kind, both emission modes, a
 * union of two sources, a chain of two operators) are also run on a small
 * random stream, and each record is checked against a brute-force count
 * over the events written plainly here: this shows the plan compiled is the
 * one that was asked for, not only that compile said yes. Random streams
 * print their seed on failure; RILL_SEED=<n> replays one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill/rill.h"
#include "test_util.h"

#define T0 INT64_C(1700000000000)
#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)

/* ---- random numbers (splitmix64) ----------------------------------------- */

static uint64_t g_seed = 20240612;
static uint64_t g_rng;

static void seed_from_env(void) {
    g_seed = tu_seed_env("RILL_SEED", g_seed);
    g_rng = g_seed;
}

static uint64_t rnd(void) { return tu_splitmix64(&g_rng); }

/* ---- graphs ---------------------------------------------------------------- */

/* The source "tx": amount f64, merchant string, qty i64, flagged bool. */
static rill_schema *tx_schema(void) {
    rill_field f[] = {
        { "amount", RILL_F64 }, { "merchant", RILL_STRING },
        { "qty", RILL_I64 },    { "flagged", RILL_BOOL },
    };
    rill_schema *s = rill_schema_new(f, 4);
    assert_non_null(s);
    return s;
}

static rill_graph *graph_with_tx(void) {
    rill_graph *g = rill_graph_new();
    assert_non_null(g);
    assert_string_equal(rill_graph_errmsg(g), "");
    rill_schema *s = tx_schema();
    assert_int_equal(rill_graph_source(g, "tx", s, NULL), RILL_OK);
    rill_schema_free(s);
    return g;
}

static rill_window_opts wopts(rill_window_spec w, const rill_agg_spec *aggs, size_t n) {
    rill_window_opts o = { .window = w, .aggs = aggs, .n_aggs = n };
    return o;
}

static const rill_agg_spec COUNT_ONLY[] = { { RILL_AGG_COUNT, NULL, "n", 0 } };

static void ignore_record(const rill_record *r, void *user) {
    (void)r;
    (void)user;
}

/* Compile g, expecting status want and a message holding every string of
 * the NULL-terminated list; prints the message when it does not. Frees g. */
static void expect_compile_error(rill_graph *g, int want, ...) {
    rill_plan *p = (rill_plan *)(uintptr_t)1;
    int rc = rill_graph_compile(g, NULL, &p);
    const char *msg = rill_graph_errmsg(g);
    if (rc != want)
        print_error("compile returned %s (%s), expected %s\n", rill_errname(rc), msg,
                    rill_errname(want));
    assert_int_equal(rc, want);
    assert_null(p);
    va_list ap;
    va_start(ap, want);
    for (const char *sub; (sub = va_arg(ap, const char *)) != NULL;) {
        if (!strstr(msg, sub)) print_error("message \"%s\" does not name \"%s\"\n", msg, sub);
        assert_non_null(strstr(msg, sub));
    }
    va_end(ap);
    rill_graph_free(g);
}

/* ---- one test per validation rule ------------------------------------------ */

static void test_unknown_field(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amuont", "total", 0 } };
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 2);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_FIELD, "per_minute", "amuont", "total", NULL);
}

static void test_sum_over_string(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = { { RILL_AGG_SUM, "merchant", "total", 0 } };
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EFIELD_TYPE, "per_minute", "merchant", "string", NULL);
}

static void test_mean_over_string(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = { { RILL_AGG_MEAN, "amount", "avg", 0 }, { RILL_AGG_MAX, "merchant", "top", 0 } };
    rill_window_opts o = wopts(rill_sliding(5 * MIN_MS, MIN_MS), a, 2);
    assert_int_equal(rill_graph_window(g, "five_min", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EFIELD_TYPE, "five_min", "merchant", "top", NULL);
}

static void test_null_input(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "orphan_op", NULL, &o), RILL_OK);
    expect_compile_error(g, RILL_ENO_INPUT, "orphan_op", NULL);
}

static void test_input_names_nothing(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "txx", &o), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_NODE, "per_minute", "txx", NULL);
}

static void test_input_is_a_sink(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "printer", "per_minute", ignore_record, NULL), RILL_OK);
    assert_int_equal(rill_graph_window(g, "per_hour", "printer", &o), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_NODE, "per_hour", "printer", NULL);
}

static void test_sink_on_unknown_operator(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "printer", "per_minutes", ignore_record, NULL), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_NODE, "printer", "per_minutes", NULL);

    /* a source is not an operator: sinks read operators only */
    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "raw_printer", "tx", ignore_record, NULL), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_NODE, "raw_printer", "tx", NULL);

    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "no_target", NULL, ignore_record, NULL), RILL_OK);
    expect_compile_error(g, RILL_ENO_INPUT, "no_target", NULL);
}

static void test_cycle(void **st) {
    (void)st;
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);

    /* a reads b, b reads a */
    rill_graph *g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "loop_a", "loop_b", &o), RILL_OK);
    assert_int_equal(rill_graph_window(g, "loop_b", "loop_a", &o), RILL_OK);
    rill_plan *p = NULL;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_ECYCLE);
    assert_null(p);
    const char *msg = rill_graph_errmsg(g);
    assert_true(strstr(msg, "loop_a") || strstr(msg, "loop_b"));
    assert_non_null(strstr(msg, "cycle"));
    rill_graph_free(g);

    /* a also reads the source; the loop is closed through add_input */
    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "ring_a", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_window(g, "ring_b", "ring_a", &o), RILL_OK);
    assert_int_equal(rill_graph_window(g, "ring_c", "ring_b", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "ring_a", "ring_c"), RILL_OK);
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_ECYCLE);
    assert_null(p);
    msg = rill_graph_errmsg(g);
    assert_true(strstr(msg, "ring_a") || strstr(msg, "ring_b") || strstr(msg, "ring_c"));
    rill_graph_free(g);

    /* an operator reading itself */
    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "self_loop", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "self_loop", "self_loop"), RILL_OK);
    expect_compile_error(g, RILL_ECYCLE, "self_loop", NULL);
}

static void test_duplicate_node_name(void **st) {
    (void)st;
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    rill_graph *g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "tx", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EDUP_NAME, "'tx'", NULL);

    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EDUP_NAME, "per_minute", NULL);

    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "printer", "per_minute", ignore_record, NULL), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "printer", "per_minute", ignore_record, NULL), RILL_OK);
    expect_compile_error(g, RILL_EDUP_NAME, "printer", NULL);

    /* the same input twice in one operator */
    g = graph_with_tx();
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "per_minute", "tx"), RILL_OK);
    expect_compile_error(g, RILL_EDUP_NAME, "per_minute", "tx", NULL);
}

static void test_duplicate_aggregate_name(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = {
        { RILL_AGG_COUNT, NULL, "n", 0 },
        { RILL_AGG_SUM, "amount", "amount_stat", 0 },
        { RILL_AGG_MAX, "amount", "amount_stat", 0 },
    };
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 3);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EDUP_NAME, "per_minute", "amount_stat", NULL);
}

static void test_reserved_aggregate_name(void **st) {
    (void)st;
    static const char *const reserved[] = { "op", "key", "start", "end", "ts", "id", "update" };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        rill_graph *g = graph_with_tx();
        rill_agg_spec a[] = { { RILL_AGG_SUM, "amount", reserved[i], 0 } };
        rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 1);
        assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", reserved[i]);
        expect_compile_error(g, RILL_EBAD_AGG, "per_minute", quoted, NULL);
    }
}

static void test_tumbling_size(void **st) {
    (void)st;
    const int64_t bad[] = { 0, -1, -MIN_MS, INT64_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rill_graph *g = graph_with_tx();
        rill_window_opts o = wopts(rill_tumbling(bad[i]), COUNT_ONLY, 1);
        assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
        expect_compile_error(g, RILL_EBAD_SIZE, "per_minute", "size", NULL);
    }
}

static void test_sliding_slide(void **st) {
    (void)st;
    /* slide larger than size */
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_sliding(MIN_MS, 2 * MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "trailing", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_SLIDE, "trailing", "slide", NULL);

    /* zero and negative slides */
    const int64_t bad[] = { 0, -1000 };
    for (size_t i = 0; i < 2; i++) {
        g = graph_with_tx();
        o = wopts(rill_sliding(5 * MIN_MS, bad[i]), COUNT_ONLY, 1);
        assert_int_equal(rill_graph_window(g, "trailing", "tx", &o), RILL_OK);
        expect_compile_error(g, RILL_EBAD_SLIDE, "trailing", "slide", NULL);
    }

    /* a sliding window with no size is a size error, not a slide error */
    g = graph_with_tx();
    o = wopts(rill_sliding(0, 0), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "trailing", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_SIZE, "trailing", "size", NULL);
}

static void test_session_gap(void **st) {
    (void)st;
    const int64_t bad[] = { 0, -30000 };
    for (size_t i = 0; i < 2; i++) {
        rill_graph *g = graph_with_tx();
        rill_window_opts o = wopts(rill_session(bad[i]), COUNT_ONLY, 1);
        assert_int_equal(rill_graph_window(g, "visits", "tx", &o), RILL_OK);
        expect_compile_error(g, RILL_EBAD_SIZE, "visits", "gap", NULL);
    }
}

static void test_global_trigger(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_global(RILL_TRIGGER_EVERY_N, 0), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "lifetime", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_SIZE, "lifetime", "trigger_every", NULL);

    g = graph_with_tx();
    o = wopts(rill_global(RILL_TRIGGER_EVERY_MS, -5), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "lifetime", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_SIZE, "lifetime", "trigger_every", NULL);
}

static void test_no_aggregates(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), NULL, 0);
    assert_int_equal(rill_graph_window(g, "empty_op", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_AGG, "empty_op", "no aggregates", NULL);
}

static void test_last_n_zero(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = { { RILL_AGG_LAST_N, "amount", "recent_amounts", 0 } };
    rill_window_opts o = wopts(rill_sliding(5 * MIN_MS, MIN_MS), a, 1);
    assert_int_equal(rill_graph_window(g, "history", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EBAD_AGG, "history", "recent_amounts", "amount", NULL);
}

static void test_union_mismatch(void **st) {
    (void)st;
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "total", 0 } };
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 2);

    /* the second input lacks the field */
    rill_graph *g = graph_with_tx();
    rill_field f2[] = { { "merchant", RILL_STRING } };
    rill_schema *s2 = rill_schema_new(f2, 1);
    assert_non_null(s2);
    assert_int_equal(rill_graph_source(g, "refunds", s2, NULL), RILL_OK);
    rill_schema_free(s2);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "per_minute", "refunds"), RILL_OK);
    expect_compile_error(g, RILL_EUNKNOWN_FIELD, "per_minute", "amount", "refunds", NULL);

    /* the second input has it with another type */
    g = graph_with_tx();
    rill_field f3[] = { { "amount", RILL_I64 } };
    rill_schema *s3 = rill_schema_new(f3, 1);
    assert_non_null(s3);
    assert_int_equal(rill_graph_source(g, "cents", s3, NULL), RILL_OK);
    rill_schema_free(s3);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "per_minute", "cents"), RILL_OK);
    expect_compile_error(g, RILL_EFIELD_TYPE, "per_minute", "amount", "cents", NULL);

    /* add_input to an operator that does not exist fails at once */
    g = graph_with_tx();
    assert_int_equal(rill_graph_add_input(g, "nowhere", "tx"), RILL_EUNKNOWN_NODE);
    assert_non_null(strstr(rill_graph_errmsg(g), "nowhere"));
    rill_graph_free(g);
}

static void test_negative_lateness(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    o.allowed_lateness_ms = -1;
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    expect_compile_error(g, RILL_EINVAL, "per_minute", "allowed_lateness_ms", NULL);
}

static void test_bad_source_options(void **st) {
    (void)st;
    rill_graph *g = rill_graph_new();
    assert_non_null(g);
    rill_schema *s = tx_schema();
    rill_source_opts so = { .max_out_of_orderness_ms = -1 };
    assert_int_equal(rill_graph_source(g, "clicks", s, &so), RILL_OK);
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "clicks", &o), RILL_OK);
    expect_compile_error(g, RILL_EINVAL, "clicks", "max_out_of_orderness_ms", NULL);

    g = rill_graph_new();
    assert_non_null(g);
    so = (rill_source_opts){ .idle_timeout_ms = -1 };
    assert_int_equal(rill_graph_source(g, "clicks", s, &so), RILL_OK);
    assert_int_equal(rill_graph_window(g, "per_minute", "clicks", &o), RILL_OK);
    expect_compile_error(g, RILL_EINVAL, "clicks", "idle_timeout_ms", NULL);
    rill_schema_free(s);
}

/* What cannot wait for compile: NULL and empty arguments at add time. */
static void test_add_time_errors(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_schema *s = tx_schema();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_source(g, "", s, NULL), RILL_EINVAL);
    assert_int_equal(rill_graph_source(g, NULL, s, NULL), RILL_EINVAL);
    assert_int_equal(rill_graph_source(g, "clicks", NULL, NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_graph_errmsg(g), "clicks"));
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_graph_errmsg(g), "per_minute"));
    rill_window_opts bad = wopts(rill_tumbling(MIN_MS), NULL, 2);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &bad), RILL_EINVAL);
    assert_non_null(strstr(rill_graph_errmsg(g), "per_minute"));
    assert_int_equal(rill_graph_window(g, "", "tx", &o), RILL_EINVAL);
    assert_int_equal(rill_graph_sink(g, "printer", "per_minute", NULL, NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_graph_errmsg(g), "printer"));
    assert_int_equal(rill_graph_source(NULL, "x", s, NULL), RILL_EINVAL);
    assert_int_equal(rill_graph_window(NULL, "x", "tx", &o), RILL_EINVAL);
    assert_int_equal(rill_graph_add_input(NULL, "x", "tx"), RILL_EINVAL);
    assert_int_equal(rill_graph_sink(NULL, "x", "y", ignore_record, NULL), RILL_EINVAL);
    assert_int_equal(rill_graph_compile(NULL, NULL, &(rill_plan *){ NULL }), RILL_EINVAL);
    assert_int_equal(rill_graph_compile(g, NULL, NULL), RILL_EINVAL);
    /* the failed calls added nothing: the graph still compiles, with no operator */
    assert_int_equal(rill_graph_op_count(g), 0);
    rill_plan *p = NULL;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    assert_non_null(p);
    assert_string_equal(rill_graph_errmsg(g), "");
    rill_plan_free(p);
    rill_schema_free(s);
    rill_graph_free(g);
}

/* ---- status codes ------------------------------------------------------------ */

static void test_status_strings(void **st) {
    (void)st;
    static const int codes[] = {
        RILL_OK,
#define X(name, value, msg) RILL_E##name,
        RILL_ERRNO_MAP(X)
#undef X
    };
    size_t n = sizeof codes / sizeof codes[0];
    assert_true(n >= 22);
    for (size_t i = 0; i < n; i++) {
        const char *m = rill_strerror(codes[i]), *nm = rill_errname(codes[i]);
        assert_non_null(m);
        assert_non_null(nm);
        assert_true(m[0] && nm[0]);
        assert_true(codes[i] == RILL_OK || codes[i] < 0);
        assert_int_equal(strncmp(nm, "RILL_", 5), 0);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(m, rill_strerror(codes[j]));
            assert_string_not_equal(nm, rill_errname(codes[j]));
        }
    }
    assert_string_equal(rill_errname(RILL_EUNKNOWN_FIELD), "RILL_EUNKNOWN_FIELD");
    assert_string_equal(rill_errname(RILL_OK), "RILL_OK");
    /* codes outside the list still give a string */
    assert_non_null(rill_strerror(12345));
    assert_non_null(rill_errname(-9999));
    assert_true(rill_strerror(-9999)[0] != 0);
}

static void test_free_null(void **st) {
    (void)st;
    rill_plan_free(NULL);
    rill_graph_free(NULL);
    rill_schema_free(NULL);
    rill_batch_free(NULL);
    assert_non_null(rill_graph_errmsg(NULL));
    assert_non_null(rill_plan_errmsg(NULL));
}

/* ---- push errors --------------------------------------------------------------- */

typedef struct counter { int64_t events; size_t records; } counter;

static void count_events(const rill_record *r, void *user) {
    counter *c = user;
    assert_string_equal(r->names[0], "n");
    c->events += r->values[0].as.i64;
    c->records++;
}

static void test_push_errors(void **st) {
    (void)st;
    rill_graph *g = graph_with_tx();
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), COUNT_ONLY, 1);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &o), RILL_OK);
    counter c = { 0, 0 };
    assert_int_equal(rill_graph_sink(g, "count", "per_minute", count_events, &c), RILL_OK);
    rill_plan *p = NULL;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    assert_non_null(p);

    rill_schema *s = tx_schema();
    rill_batch *b = rill_batch_new(s, 4);
    assert_non_null(b);
    assert_int_equal(rill_batch_append(b, T0, rill_i64(1)), RILL_OK);

    /* an unknown source */
    assert_int_equal(rill_plan_push(p, "txn", b), RILL_EUNKNOWN_NODE);
    assert_non_null(strstr(rill_plan_errmsg(p), "txn"));
    assert_int_equal(rill_plan_push(p, NULL, b), RILL_EUNKNOWN_NODE);
    assert_int_equal(rill_plan_advance(p, "txn", T0), RILL_EUNKNOWN_NODE);
    assert_non_null(strstr(rill_plan_errmsg(p), "txn"));
    assert_int_equal(rill_plan_push(p, "tx", NULL), RILL_EINVAL);

    /* a batch of another schema: fewer fields, and the same fields in another order */
    rill_field f2[] = { { "amount", RILL_F64 } };
    rill_schema *s2 = rill_schema_new(f2, 1);
    rill_field f3[] = {
        { "merchant", RILL_STRING }, { "amount", RILL_F64 },
        { "qty", RILL_I64 },         { "flagged", RILL_BOOL },
    };
    rill_schema *s3 = rill_schema_new(f3, 4);
    assert_non_null(s2);
    assert_non_null(s3);
    rill_batch *b2 = rill_batch_new(s2, 4), *b3 = rill_batch_new(s3, 4);
    assert_non_null(b2);
    assert_non_null(b3);
    assert_int_equal(rill_batch_append(b2, T0, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_batch_append(b3, T0, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_plan_push(p, "tx", b2), RILL_EINVAL);
    assert_non_null(strstr(rill_plan_errmsg(p), "tx"));
    assert_non_null(strstr(rill_plan_errmsg(p), "schema"));
    assert_int_equal(rill_plan_push(p, "tx", b3), RILL_EINVAL);
    assert_non_null(strstr(rill_plan_errmsg(p), "schema"));

    /* event times beyond +-2^61 ms; the whole batch is refused */
    const int64_t lim = INT64_C(1) << 61;
    const int64_t bad[] = { lim + 1, -lim - 1, INT64_MAX, INT64_MIN };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rill_batch_clear(b);
        assert_int_equal(rill_batch_append(b, T0, rill_i64(1)), RILL_OK);
        assert_int_equal(rill_batch_append(b, bad[i], rill_i64(2)), RILL_OK);
        assert_int_equal(rill_plan_push(p, "tx", b), RILL_EINVAL);
        const char *msg = rill_plan_errmsg(p);
        assert_non_null(strstr(msg, "tx"));
        assert_non_null(strstr(msg, "ts"));
        char num[32];
        snprintf(num, sizeof num, "%" PRId64, bad[i]);
        if (!strstr(msg, num)) print_error("message \"%s\" does not give ts %s\n", msg, num);
        assert_non_null(strstr(msg, num));
    }
    int64_t wm = 0;
    assert_int_equal(rill_plan_source_watermark(p, "tx", &wm), RILL_OK);
    assert_true(wm == INT64_MIN); /* nothing refused moved it */

    /* the plan is still usable, and only what was accepted is counted */
    rill_batch_clear(b);
    for (int i = 0; i < 5; i++) assert_int_equal(rill_batch_append(b, T0 + i, rill_i64(i)), RILL_OK);
    assert_int_equal(rill_plan_push(p, "tx", b), RILL_OK);
    rill_batch_clear(b);
    assert_int_equal(rill_batch_append(b, lim, rill_i64(9)), RILL_OK); /* the limit itself is valid */
    assert_int_equal(rill_plan_push(p, "tx", b), RILL_OK);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.events, 6);
    assert_int_equal(c.records, 6);

    rill_batch_free(b);
    rill_batch_free(b2);
    rill_batch_free(b3);
    rill_schema_free(s);
    rill_schema_free(s2);
    rill_schema_free(s3);
    rill_plan_free(p);
    rill_graph_free(g);
}

/* ---- graphs that compile, run against a brute-force oracle ------------------- */

#define MAX_EV 3000
#define MAX_REC 20000

typedef struct event { int64_t ts; int64_t key; double amount; int src; } event;

typedef struct rec {
    char op[24];
    int64_t key, start, end, ts;
    int64_t n;        /* the value named "n" (count) */
    double total;     /* "total" if present */
    int64_t minutes;  /* "minutes" if present */
    int64_t events;   /* "events" if present */
} rec;

typedef struct run {
    event ev[MAX_EV];
    size_t n_ev;
    rec *recs;
    size_t n_rec;
} run;

static void collect(const rill_record *r, void *user) {
    run *x = user;
    assert_true(x->n_rec < MAX_REC);
    rec *o = &x->recs[x->n_rec++];
    memset(o, 0, sizeof *o);
    snprintf(o->op, sizeof o->op, "%s", r->op);
    assert_int_equal(r->key.type, RILL_I64);
    o->key = r->key.as.i64;
    o->start = r->start;
    o->end = r->end;
    o->ts = r->ts;
    for (size_t i = 0; i < r->n_values; i++) {
        const rill_value *v = &r->values[i];
        if (!strcmp(r->names[i], "n")) {
            assert_int_equal(v->type, RILL_I64);
            o->n = v->as.i64;
        } else if (!strcmp(r->names[i], "total")) {
            assert_int_equal(v->type, RILL_F64);
            o->total = v->as.f64;
        } else if (!strcmp(r->names[i], "minutes")) {
            assert_int_equal(v->type, RILL_I64);
            o->minutes = v->as.i64;
        } else if (!strcmp(r->names[i], "events")) {
            assert_int_equal(v->type, RILL_I64);
            o->events = v->as.i64;
        }
    }
}

/* n events over keys 0..keys-1, strictly increasing ts from T0, integer
 * amounts (so sums are exact), from source 0 or (if two_sources) 0/1. */
static void make_events(run *x, size_t n, int keys, int64_t step, bool two_sources) {
    assert_true(n <= MAX_EV);
    int64_t t = T0;
    for (size_t i = 0; i < n; i++) {
        t += 1 + (int64_t)(rnd() % (uint64_t)step);
        x->ev[i] = (event){ t, (int64_t)(rnd() % (uint64_t)keys), (double)(rnd() % 1000),
                            two_sources ? (int)(rnd() % 2) : 0 };
    }
    x->n_ev = n;
}

static void push_events(rill_plan *p, run *x, const char *const *sources, int n_sources) {
    for (int s = 0; s < n_sources; s++) {
        rill_schema *sc = tx_schema();
        rill_batch *b = rill_batch_new(sc, 128);
        assert_non_null(b);
        for (size_t i = 0; i < x->n_ev; i++) {
            if (x->ev[i].src != s) continue;
            assert_int_equal(rill_batch_append(b, x->ev[i].ts, rill_i64(x->ev[i].key)), RILL_OK);
            assert_int_equal(rill_batch_set_f64(b, 0, x->ev[i].amount), RILL_OK);
            if (rill_batch_len(b) == 100) { /* cut into several micro-batches */
                assert_int_equal(rill_plan_push(p, sources[s], b), RILL_OK);
                rill_batch_clear(b);
            }
        }
        if (rill_batch_len(b)) assert_int_equal(rill_plan_push(p, sources[s], b), RILL_OK);
        rill_batch_free(b);
        rill_schema_free(sc);
    }
}

/* Events of key in [lo, hi), and the sum of their amounts. */
static int64_t oracle_count(const run *x, int64_t key, int64_t lo, int64_t hi, double *sum) {
    int64_t c = 0;
    double s = 0;
    for (size_t i = 0; i < x->n_ev; i++)
        if (x->ev[i].key == key && x->ev[i].ts >= lo && x->ev[i].ts < hi) {
            c++;
            s += x->ev[i].amount;
        }
    if (sum) *sum = s;
    return c;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

static rill_plan *compile_one(rill_graph *g, const char *op, run *x) {
    assert_int_equal(rill_graph_sink(g, "collect", op, collect, x), RILL_OK);
    rill_plan *p = NULL;
    int rc = rill_graph_compile(g, NULL, &p);
    if (rc) print_error("compile: %s: %s\n", rill_errname(rc), rill_graph_errmsg(g));
    assert_int_equal(rc, RILL_OK);
    assert_non_null(p);
    assert_string_equal(rill_graph_errmsg(g), "");
    return p;
}

static void run_window(rill_window_spec w, rill_emit_mode emit, run *x) {
    rill_graph *g = graph_with_tx();
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "total", 0 } };
    rill_window_opts o = wopts(w, a, 2);
    o.emit = emit;
    assert_int_equal(rill_graph_window(g, "op", "tx", &o), RILL_OK);
    rill_plan *p = compile_one(g, "op", x);
    static const char *const src[] = { "tx" };
    push_events(p, x, src, 1);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    rill_op_stats s;
    assert_int_equal(rill_plan_op_stats(p, "op", &s), RILL_OK);
    assert_int_equal(s.events_in, x->n_ev);
    assert_int_equal(s.late, 0);
    assert_int_equal(s.emitted, x->n_rec);
    rill_plan_free(p);
    rill_graph_free(g);
}

static void test_compile_every_kind(void **st) {
    (void)st;
    seed_from_env();
    run *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->recs = calloc(MAX_REC, sizeof *x->recs);
    assert_non_null(x->recs);
    make_events(x, 1500, 7, 2000, false); /* about 25 minutes */
    print_message("seed %" PRIu64 "\n", g_seed);

    /* tumbling 1 min, on close: one record per (key, minute) with events */
    x->n_rec = 0;
    run_window(rill_tumbling(MIN_MS), RILL_EMIT_ON_CLOSE, x);
    int64_t total = 0;
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        assert_int_equal(o->end - o->start, MIN_MS);
        assert_int_equal(floor_div(o->start, MIN_MS) * MIN_MS, o->start);
        assert_int_equal(o->ts, o->end - 1);
        double sum;
        assert_int_equal(o->n, oracle_count(x, o->key, o->start, o->end, &sum));
        assert_true(o->n > 0);
        assert_true(o->total == sum);
        total += o->n;
    }
    assert_int_equal(total, (int64_t)x->n_ev);

    /* sliding 5 min / 1 min, on close: every event in exactly 5 windows */
    x->n_rec = 0;
    run_window(rill_sliding(5 * MIN_MS, MIN_MS), RILL_EMIT_ON_CLOSE, x);
    total = 0;
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        assert_int_equal(o->end - o->start, 5 * MIN_MS);
        assert_int_equal(floor_div(o->start, MIN_MS) * MIN_MS, o->start);
        double sum;
        assert_int_equal(o->n, oracle_count(x, o->key, o->start, o->end, &sum));
        assert_true(o->total == sum);
        total += o->n;
    }
    assert_int_equal(total, 5 * (int64_t)x->n_ev);

    /* sliding on event: one record per event, the trailing (ts - 5 min, ts] */
    x->n_rec = 0;
    run_window(rill_sliding(5 * MIN_MS, MIN_MS), RILL_EMIT_ON_EVENT, x);
    assert_int_equal(x->n_rec, x->n_ev);
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        double sum;
        assert_int_equal(o->n, oracle_count(x, o->key, o->ts - 5 * MIN_MS + 1, o->ts + 1, &sum));
        assert_true(o->total == sum);
    }

    /* tumbling on event: the window so far [start, ts] */
    x->n_rec = 0;
    run_window(rill_tumbling(MIN_MS), RILL_EMIT_ON_EVENT, x);
    assert_int_equal(x->n_rec, x->n_ev);
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        int64_t start = floor_div(o->ts, MIN_MS) * MIN_MS;
        assert_int_equal(o->n, oracle_count(x, o->key, start, o->ts + 1, NULL));
    }

    /* session gap 30 s, on close: sessions of a key are disjoint, cover every
     * event once, and are separated by more than the gap */
    x->n_rec = 0;
    run_window(rill_session(30000), RILL_EMIT_ON_CLOSE, x);
    total = 0;
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        double sum;
        assert_int_equal(o->n, oracle_count(x, o->key, o->start, o->end, &sum));
        assert_true(o->n > 0);
        assert_true(o->total == sum);
        /* nothing of this key less than a gap before the first event */
        assert_int_equal(oracle_count(x, o->key, o->start - 29999, o->start, NULL), 0);
        total += o->n;
    }
    assert_int_equal(total, (int64_t)x->n_ev);

    /* session on event: the session so far */
    x->n_rec = 0;
    run_window(rill_session(30000), RILL_EMIT_ON_EVENT, x);
    assert_int_equal(x->n_rec, x->n_ev);

    /* global, every event: the key's running count */
    x->n_rec = 0;
    run_window(rill_global(RILL_TRIGGER_EVERY_EVENT, 0), RILL_EMIT_ON_CLOSE, x);
    assert_int_equal(x->n_rec, x->n_ev);
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        assert_int_equal(o->n, oracle_count(x, o->key, INT64_MIN, o->ts + 1, NULL));
    }

    /* global, every N = 7 events and every 2 min: the newest record of each
     * key has all its events */
    const rill_window_spec globals[] = { rill_global(RILL_TRIGGER_EVERY_N, 7),
                                         rill_global(RILL_TRIGGER_EVERY_MS, 2 * MIN_MS) };
    for (size_t k = 0; k < 2; k++) {
        x->n_rec = 0;
        run_window(globals[k], RILL_EMIT_ON_CLOSE, x);
        for (int64_t key = 0; key < 7; key++) {
            int64_t best = 0;
            for (size_t r = 0; r < x->n_rec; r++)
                if (x->recs[r].key == key && x->recs[r].n > best) best = x->recs[r].n;
            assert_int_equal(best, oracle_count(x, key, INT64_MIN, INT64_MAX, NULL));
        }
        if (k == 0)
            for (size_t r = 0; r < x->n_rec; r++) /* a multiple of N, or the final one */
                assert_true(x->recs[r].n % 7 == 0 ||
                            x->recs[r].n == oracle_count(x, x->recs[r].key, INT64_MIN, INT64_MAX, NULL));
    }
    free(x->recs);
    free(x);
}

/* An operator reading another's output: an hourly count of per-minute
 * records, and hourly sums of their fields. */
static void test_compile_chain(void **st) {
    (void)st;
    seed_from_env();
    run *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->recs = calloc(MAX_REC, sizeof *x->recs);
    assert_non_null(x->recs);
    make_events(x, 2500, 5, 9000, false); /* about 3 hours */
    print_message("seed %" PRIu64 "\n", g_seed);

    rill_graph *g = graph_with_tx();
    rill_agg_spec am[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "total", 0 } };
    rill_window_opts om = wopts(rill_tumbling(MIN_MS), am, 2);
    assert_int_equal(rill_graph_window(g, "per_minute", "tx", &om), RILL_OK);
    rill_agg_spec ah[] = {
        { RILL_AGG_COUNT, NULL, "minutes", 0 },
        { RILL_AGG_SUM, "n", "events", 0 },
        { RILL_AGG_SUM, "total", "total", 0 },
    };
    rill_window_opts oh = wopts(rill_tumbling(HOUR_MS), ah, 3);
    /* declared before its input: compile orders the operators */
    assert_int_equal(rill_graph_window(g, "per_hour", "per_minute", &oh), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "minutes_out", "per_minute", collect, x), RILL_OK);
    rill_plan *p = compile_one(g, "per_hour", x);
    static const char *const src[] = { "tx" };
    push_events(p, x, src, 1);
    assert_int_equal(rill_plan_flush(p), RILL_OK);

    size_t hours = 0;
    int64_t all = 0;
    for (size_t r = 0; r < x->n_rec; r++) {
        rec *o = &x->recs[r];
        double sum;
        if (!strcmp(o->op, "per_minute")) {
            assert_int_equal(o->n, oracle_count(x, o->key, o->start, o->end, &sum));
            continue;
        }
        assert_string_equal(o->op, "per_hour");
        hours++;
        assert_int_equal(o->end - o->start, HOUR_MS);
        assert_int_equal(o->events, oracle_count(x, o->key, o->start, o->end, &sum));
        assert_true(o->total == sum);
        int64_t minutes = 0;
        for (int64_t m = o->start; m < o->end; m += MIN_MS)
            minutes += oracle_count(x, o->key, m, m + MIN_MS, NULL) > 0;
        assert_int_equal(o->minutes, minutes);
        all += o->events;
    }
    assert_true(hours >= 5 * 3);
    assert_int_equal(all, (int64_t)x->n_ev);
    rill_plan_free(p);
    rill_graph_free(g);
    free(x->recs);
    free(x);
}

/* A union of two sources: a count per key and minute over both. */
static void test_compile_union(void **st) {
    (void)st;
    seed_from_env();
    run *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->recs = calloc(MAX_REC, sizeof *x->recs);
    assert_non_null(x->recs);
    make_events(x, 1200, 4, 1500, true);

    rill_graph *g = graph_with_tx();
    rill_schema *s = tx_schema();
    assert_int_equal(rill_graph_source(g, "tx2", s, NULL), RILL_OK);
    rill_schema_free(s);
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "total", 0 } };
    rill_window_opts o = wopts(rill_tumbling(MIN_MS), a, 2);
    assert_int_equal(rill_graph_window(g, "both", "tx", &o), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "both", "tx2"), RILL_OK);
    rill_plan *p = compile_one(g, "both", x);
    static const char *const src[] = { "tx", "tx2" };
    push_events(p, x, src, 2);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    int64_t total = 0;
    for (size_t r = 0; r < x->n_rec; r++) {
        double sum;
        assert_int_equal(x->recs[r].n, oracle_count(x, x->recs[r].key, x->recs[r].start, x->recs[r].end, &sum));
        assert_true(x->recs[r].total == sum);
        total += x->recs[r].n;
    }
    assert_int_equal(total, (int64_t)x->n_ev);
    rill_plan_free(p);
    rill_graph_free(g);
    free(x->recs);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_sum_over_string),
        cmocka_unit_test(test_mean_over_string),
        cmocka_unit_test(test_null_input),
        cmocka_unit_test(test_input_names_nothing),
        cmocka_unit_test(test_input_is_a_sink),
        cmocka_unit_test(test_sink_on_unknown_operator),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_duplicate_node_name),
        cmocka_unit_test(test_duplicate_aggregate_name),
        cmocka_unit_test(test_reserved_aggregate_name),
        cmocka_unit_test(test_tumbling_size),
        cmocka_unit_test(test_sliding_slide),
        cmocka_unit_test(test_session_gap),
        cmocka_unit_test(test_global_trigger),
        cmocka_unit_test(test_no_aggregates),
        cmocka_unit_test(test_last_n_zero),
        cmocka_unit_test(test_union_mismatch),
        cmocka_unit_test(test_negative_lateness),
        cmocka_unit_test(test_bad_source_options),
        cmocka_unit_test(test_add_time_errors),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_push_errors),
        cmocka_unit_test(test_compile_every_kind),
        cmocka_unit_test(test_compile_chain),
        cmocka_unit_test(test_compile_union),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
