/* tests/test_windows.c — unit tests of each window kind on small streams
 * whose results are worked out by hand in the comments: merges, session
 * bridging, lateness at the boundary, several sources, idle sources, empty
 * batches, a batch of one event, chained operators, processing time.
 * (Random streams against a brute-force oracle: test_oracle_windows.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rill/rill.h"

#define MAXREC 256

typedef struct rec {
    char op[32];
    char key[32];
    int64_t start, end, ts;
    uint32_t flags;
    double v[4];  /* values as doubles (null -> NaN) */
    size_t nv;
} rec;

typedef struct capture { rec r[MAXREC]; size_t n; uint64_t late; } capture;

static void on_record(const rill_record *r, void *user) {
    capture *c = user;
    assert_true(c->n < MAXREC);
    rec *x = &c->r[c->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->op, sizeof x->op, "%s", r->op);
    if (r->key.type == RILL_STRING) snprintf(x->key, sizeof x->key, "%.*s", (int)r->key.as.str.len, r->key.as.str.ptr);
    else snprintf(x->key, sizeof x->key, "#%lld", (long long)r->key.as.i64);
    x->start = r->start;
    x->end = r->end;
    x->ts = r->ts;
    x->flags = r->flags;
    x->nv = r->n_values < 4 ? r->n_values : 4;
    for (size_t i = 0; i < x->nv; i++) {
        rill_value v = r->values[i];
        x->v[i] = v.type == RILL_F64 ? v.as.f64 : v.type == RILL_I64 ? (double)v.as.i64 : __builtin_nan("");
    }
}

static void on_late(const rill_late_event *e, void *user) { ((capture *)user)->late++; }

static rill_schema *schema_x(void) {
    rill_field f[] = { { "x", RILL_F64 } };
    return rill_schema_new(f, 1);
}

/* A graph with one source "s" (bound ms) and one window operator "w". */
static rill_plan *one_op(capture *c, rill_window_spec w, rill_emit_mode emit, int64_t bound, int64_t lateness,
                         const rill_agg_spec *aggs, size_t n_aggs) {
    rill_graph *g = rill_graph_new();
    rill_schema *s = schema_x();
    rill_source_opts so = { .max_out_of_orderness_ms = bound };
    assert_int_equal(rill_graph_source(g, "s", s, &so), RILL_OK);
    rill_window_opts wo = { .window = w, .aggs = aggs, .n_aggs = n_aggs, .emit = emit,
                            .allowed_lateness_ms = lateness };
    assert_int_equal(rill_graph_window(g, "w", "s", &wo), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, c), RILL_OK);
    assert_int_equal(rill_graph_on_late(g, on_late, c), RILL_OK);
    rill_plan *p = NULL;
    int rc = rill_graph_compile(g, NULL, &p);
    if (rc) fail_msg("compile: %s", rill_graph_errmsg(g));
    rill_graph_free(g);
    rill_schema_free(s);
    return p;
}

/* Push events (ts, x) for key "k" as one batch. */
static void push(rill_plan *p, const char *src, const int64_t *ts, const double *x, size_t n, const char *key) {
    rill_schema *s = schema_x();
    rill_batch *b = rill_batch_new(s, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rill_batch_append(b, ts[i], rill_str(key)), RILL_OK);
        assert_int_equal(rill_batch_set_f64(b, 0, x ? x[i] : 1.0), RILL_OK);
    }
    int rc = rill_plan_push(p, src, b);
    if (rc) fail_msg("push: %s", rill_plan_errmsg(p));
    rill_batch_free(b);
    rill_schema_free(s);
}

static void push1(rill_plan *p, int64_t ts, double x) { push(p, "s", &ts, &x, 1, "k"); }

static const rec *find(const capture *c, int64_t start, int64_t end, int nth_from_last) {
    for (size_t i = c->n; i-- > 0;)
        if (c->r[i].start == start && c->r[i].end == end && nth_from_last-- == 0) return &c->r[i];
    return NULL;
}

static const rill_agg_spec COUNT_SUM[] = {
    { RILL_AGG_COUNT, NULL, "n", 0 },
    { RILL_AGG_SUM, "x", "sum", 0 },
};

/* Tumbling 1000: events 0, 500, 999 | 1000 | 2500. W = 2500 after the batch,
 * so [0,1000) (n=3, sum 0+500+999 as x=ts) and [1000,2000) (n=1) fire; [2000,3000)
 * waits for the flush. */
static void test_tumbling_basic(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_tumbling(1000), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 0, 500, 999, 1000, 2500 };
    double x[] = { 0, 500, 999, 1000, 2500 };
    push(p, "s", ts, x, 5, "k");
    assert_int_equal(c.n, 2);
    const rec *r = find(&c, 0, 1000, 0);
    assert_non_null(r);
    assert_true(r->v[0] == 3 && r->v[1] == 1499);
    assert_int_equal(r->ts, 999);
    r = find(&c, 1000, 2000, 0);
    assert_non_null(r);
    assert_true(r->v[0] == 1 && r->v[1] == 1000);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 3);
    r = find(&c, 2000, 3000, 0);
    assert_non_null(r);
    assert_true(r->v[0] == 1 && r->v[1] == 2500);
    rill_op_stats stats;
    assert_int_equal(rill_plan_op_stats(p, "w", &stats), RILL_OK);
    assert_int_equal(stats.events_in, 5);
    assert_int_equal(stats.emitted, 3);
    assert_int_equal(stats.late, 0);
    rill_plan_free(p);
}

/* An empty batch changes nothing; a batch of one event works alone. */
static void test_empty_and_single(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_tumbling(10), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    push(p, "s", NULL, NULL, 0, "k");
    assert_int_equal(c.n, 0);
    int64_t wm;
    assert_int_equal(rill_plan_source_watermark(p, "s", &wm), RILL_OK);
    assert_true(wm == INT64_MIN);
    push1(p, 3, 7.5);
    assert_int_equal(c.n, 0);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].start == 0 && c.r[0].end == 10 && c.r[0].v[0] == 1 && c.r[0].v[1] == 7.5);
    rill_plan_free(p);
}

/* Tumbling 10, allowed lateness 5, bound 0. Window [0,10) fires at W >= 10 and
 * keeps accepting events while W < 10 + 5. */
static void test_lateness_boundary(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_tumbling(10), RILL_EMIT_ON_CLOSE, 0, 5, COUNT_SUM, 2);
    push1(p, 0, 1);
    push1(p, 10, 1);          /* W = 10 = end: [0,10) fires with n=1 */
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].v[0] == 1 && c.r[0].flags == 0);
    push1(p, 9, 1);           /* W = 10 < 15: accepted, fires again n=2, flagged */
    assert_int_equal(c.n, 2);
    assert_true(c.r[1].start == 0 && c.r[1].v[0] == 2 && (c.r[1].flags & RILL_RECORD_UPDATE));
    push1(p, 14, 1);          /* W = 14 = end + lateness - 1 */
    push1(p, 5, 1);           /* still accepted: n=3 */
    const rec *r = find(&c, 0, 10, 0);
    assert_true(r->v[0] == 3 && (r->flags & RILL_RECORD_UPDATE));
    push1(p, 15, 1);          /* W = 15 = end + lateness */
    size_t before = c.n;
    push1(p, 9, 1);           /* late: one ms past the allowed lateness */
    assert_int_equal(c.n, before);
    assert_int_equal(c.late, 1);
    rill_plan_free(p);

    /* lateness 0: an event for [0,10) is on time while W <= 9, late at W = 10 */
    capture c2 = { 0 };
    p = one_op(&c2, rill_tumbling(10), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    push1(p, 9, 1);
    push1(p, 9, 1);           /* W = 9: on time */
    assert_int_equal(c2.late, 0);
    push1(p, 10, 1);          /* W = 10: [0,10) fires with n=2 */
    push1(p, 9, 1);           /* exactly at end: late */
    assert_int_equal(c2.late, 1);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    r = find(&c2, 0, 10, 0);
    assert_true(r->v[0] == 2);
    rill_plan_free(p);
}

/* Sliding 10/5: events at 1, 6, 12 belong to [-5,5):{1} [0,10):{1,6} [5,15):{6,12}
 * [10,20):{12}. Max over x = ts goes through the FIFO of slices. */
static void test_sliding_windows(void **st) {
    capture c = { 0 };
    rill_agg_spec aggs[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_MAX, "x", "max", 0 },
                             { RILL_AGG_MIN, "x", "min", 0 } };
    rill_plan *p = one_op(&c, rill_sliding(10, 5), RILL_EMIT_ON_CLOSE, 100, 0, aggs, 3);
    int64_t ts[] = { 12, 1, 6 };
    double x[] = { 12, 1, 6 };
    push(p, "s", ts, x, 3, "k");
    assert_int_equal(c.n, 0); /* bound 100: nothing closed */
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 4);
    struct { int64_t s; double n, max, min; } want[] = {
        { -5, 1, 1, 1 }, { 0, 2, 6, 1 }, { 5, 2, 12, 6 }, { 10, 1, 12, 12 } };
    for (int i = 0; i < 4; i++) {
        const rec *r = find(&c, want[i].s, want[i].s + 10, 0);
        assert_non_null(r);
        assert_true(r->v[0] == want[i].n && r->v[1] == want[i].max && r->v[2] == want[i].min);
    }
    /* emitted in window order */
    for (size_t i = 1; i < c.n; i++) assert_true(c.r[i].end > c.r[i - 1].end);
    rill_plan_free(p);
}

/* A long sliding window (size 60 x slide): max of a descending then ascending
 * sequence, one event per slide, checked against a scan written here. */
static void test_sliding_fifo_long(void **st) {
    capture c = { 0 };
    rill_agg_spec aggs[] = { { RILL_AGG_MAX, "x", "max", 0 }, { RILL_AGG_MIN, "x", "min", 0 } };
    static capture big; /* many records */
    (void)c;
    memset(&big, 0, sizeof big);
    rill_plan *p = one_op(&big, rill_sliding(60, 1), RILL_EMIT_ON_CLOSE, 0, 0, aggs, 2);
    double xs[200];
    for (int i = 0; i < 200; i++) xs[i] = (i < 100) ? 100 - i : i - 100; /* V shape */
    for (int i = 0; i < 200 && big.n + 60 < MAXREC; i++) push1(p, i, xs[i]);
    /* check every emitted window [s, s+60): the events i in [s, s+60) with i pushed */
    size_t checked = 0;
    for (size_t k = 0; k < big.n; k++) {
        const rec *r = &big.r[k];
        double mx = -1e300, mn = 1e300;
        for (int64_t i = r->start < 0 ? 0 : r->start; i < r->end && i < 200; i++) {
            if (xs[i] > mx) mx = xs[i];
            if (xs[i] < mn) mn = xs[i];
        }
        assert_true(r->v[0] == mx && r->v[1] == mn);
        checked++;
    }
    assert_true(checked > 100);
    rill_plan_free(p);
}

/* Session gap 10: 0 and 18 are two sessions; 9 arrives out of order and
 * bridges them (9-0 < 10, 18-9 < 10): one session [0, 28) with 3 events. */
static void test_session_bridge(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_session(10), RILL_EMIT_ON_CLOSE, 100, 0, COUNT_SUM, 2);
    int64_t ts[] = { 0, 18 };
    push(p, "s", ts, NULL, 2, "k");
    push1(p, 9, 1);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].start == 0 && c.r[0].end == 28 && c.r[0].v[0] == 3);
    rill_plan_free(p);

    /* gap exactly 10 apart: separate sessions [0,10) and [10,20) */
    capture c2 = { 0 };
    p = one_op(&c2, rill_session(10), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    push1(p, 0, 1);
    push1(p, 10, 1);
    assert_int_equal(c2.n, 1); /* W = 10 closes [0,10) */
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c2.n, 2);
    assert_true(c2.r[0].start == 0 && c2.r[0].end == 10 && c2.r[1].start == 10 && c2.r[1].end == 20);
    rill_plan_free(p);
}

/* Allowed lateness on sessions: a fired session is extended by a late event
 * and fires again with its new extent, flagged as an update. */
static void test_session_late_update(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_session(10), RILL_EMIT_ON_CLOSE, 0, 50, COUNT_SUM, 2);
    push1(p, 0, 1);
    push1(p, 30, 1); /* W = 30: [0,10) fired */
    assert_int_equal(c.n, 1);
    push1(p, 5, 1);  /* 5 + 10 + 50 > 30: joins [0,10) -> [0,15), fires again */
    assert_int_equal(c.n, 2);
    assert_true(c.r[1].start == 0 && c.r[1].end == 15 && c.r[1].v[0] == 2 &&
                (c.r[1].flags & RILL_RECORD_UPDATE));
    rill_plan_free(p);
}

/* Global every 2 events: records after the 2nd and 4th event of a key; the
 * 5th is emitted at flush. */
static void test_global_every_n(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_global(RILL_TRIGGER_EVERY_N, 2), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 1, 2, 3, 4, 5 };
    double x[] = { 1, 2, 3, 4, 5 };
    push(p, "s", ts, x, 5, "k");
    assert_int_equal(c.n, 2);
    assert_true(c.r[0].v[0] == 2 && c.r[0].v[1] == 3 && c.r[1].v[0] == 4 && c.r[1].v[1] == 10);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.r[2].v[0] == 5 && c.r[2].v[1] == 15);
    rill_plan_free(p);
}

/* Global every 10 ms of event time: at W = 12 the key emits its events with
 * ts < 10 (1 and 5) even though 12 already arrived. */
static void test_global_every_ms(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_global(RILL_TRIGGER_EVERY_MS, 10), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 1, 5, 12, 15 };
    double x[] = { 1, 5, 12, 15 };
    push(p, "s", ts, x, 4, "k");
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].end == 10 && c.r[0].v[0] == 2 && c.r[0].v[1] == 6);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 2);
    assert_true(c.r[1].end == 20 && c.r[1].v[0] == 4 && c.r[1].v[1] == 33);
    rill_plan_free(p);
}

/* Global every event: one record per event, running. */
static void test_global_every_event(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_global(RILL_TRIGGER_EVERY_EVENT, 0), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 7, 3, 9 };
    double x[] = { 1, 2, 4 };
    push(p, "s", ts, x, 3, "k");
    assert_int_equal(c.n, 3);
    assert_true(c.r[0].v[1] == 1 && c.r[1].v[1] == 3 && c.r[2].v[1] == 7);
    assert_true(c.r[2].start == 3 && c.r[2].end == 10);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 3); /* nothing changed since */
    rill_plan_free(p);
}

/* On-event sliding 10: the trailing window (t-10, t] of each event; the second
 * event at 10 sees the first (arrival order at equal times). */
static void test_on_event_trailing(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_sliding(10, 1), RILL_EMIT_ON_EVENT, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 0, 5, 10, 10, 20 };
    push(p, "s", ts, NULL, 5, "k");
    assert_int_equal(c.n, 5);
    double want[] = { 1, 2, 2, 3, 1 };
    for (int i = 0; i < 5; i++) {
        assert_true(c.r[i].v[0] == want[i]);
        assert_int_equal(c.r[i].ts, ts[i]);
        assert_int_equal(c.r[i].end, ts[i] + 1);
        assert_int_equal(c.r[i].start, ts[i] - 9);
    }
    push1(p, 19, 1); /* behind the watermark (20): late in on-event mode */
    assert_int_equal(c.late, 1);
    rill_plan_free(p);
}

/* On-event with an out-of-orderness bound: records wait until W reaches their
 * time and come out in time order, so 3 (arriving after 8) is counted by 8. */
static void test_on_event_waits_for_watermark(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_sliding(100, 1), RILL_EMIT_ON_EVENT, 10, 0, COUNT_SUM, 2);
    int64_t ts[] = { 8, 3 };
    push(p, "s", ts, NULL, 2, "k");
    assert_int_equal(c.n, 0); /* W = -2 */
    push1(p, 20, 1);          /* W = 10: 3 then 8 are emitted */
    assert_int_equal(c.n, 2);
    assert_true(c.r[0].ts == 3 && c.r[0].v[0] == 1 && c.r[1].ts == 8 && c.r[1].v[0] == 2);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.r[2].ts == 20 && c.r[2].v[0] == 3);
    rill_plan_free(p);
}

/* On-event tumbling = window so far; session = session so far. */
static void test_on_event_tumbling_session(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_tumbling(10), RILL_EMIT_ON_EVENT, 0, 0, COUNT_SUM, 2);
    int64_t ts[] = { 1, 4, 9, 10, 12 };
    push(p, "s", ts, NULL, 5, "k");
    double want[] = { 1, 2, 3, 1, 2 };
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++) assert_true(c.r[i].v[0] == want[i]);
    assert_int_equal(c.r[4].start, 10);
    rill_plan_free(p);

    capture c2 = { 0 };
    p = one_op(&c2, rill_session(5), RILL_EMIT_ON_EVENT, 0, 0, COUNT_SUM, 2);
    int64_t ts2[] = { 1, 4, 9, 14, 15 }; /* gaps 3, 5 (new session), 5 (new), 1 */
    push(p, "s", ts2, NULL, 5, "k");
    double want2[] = { 1, 2, 1, 1, 2 };
    assert_int_equal(c2.n, 5);
    for (int i = 0; i < 5; i++) assert_true(c2.r[i].v[0] == want2[i]);
    assert_int_equal(c2.r[4].start, 14);
    rill_plan_free(p);
}

/* Two sources unioned into one operator: its watermark is the minimum, so
 * nothing fires until both have moved; an idle source stops holding it back. */
static void test_two_sources_and_idle(void **st) {
    capture c = { 0 };
    rill_graph *g = rill_graph_new();
    rill_schema *s = schema_x();
    rill_source_opts a = { 0 }, b = { .idle_timeout_ms = 30 };
    assert_int_equal(rill_graph_source(g, "a", s, &a), RILL_OK);
    assert_int_equal(rill_graph_source(g, "b", s, &b), RILL_OK);
    rill_window_opts wo = { .window = rill_tumbling(10), .aggs = COUNT_SUM, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "w", "a", &wo), RILL_OK);
    assert_int_equal(rill_graph_add_input(g, "w", "b"), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, &c), RILL_OK);
    rill_plan *p;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    int64_t t1 = 5, t2 = 100;
    push(p, "a", &t1, NULL, 1, "k");
    push(p, "a", &t2, NULL, 1, "k");
    assert_int_equal(c.n, 0);          /* b has said nothing: W = min = -inf */
    int64_t t3 = 15;
    push(p, "b", &t3, NULL, 1, "k");   /* W = min(100, 15) = 15: [0,10) fires */
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].start == 0 && c.r[0].v[0] == 1);
    rill_op_stats stats;
    assert_int_equal(rill_plan_op_stats(p, "w", &stats), RILL_OK);
    assert_int_equal(stats.watermark, 15);
    /* b goes idle: after 30 ms a tick lets a's watermark (100) through */
    struct timespec ts = { 0, 60 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    int64_t t4 = 101;
    push(p, "a", &t4, NULL, 1, "k");
    assert_int_equal(rill_plan_op_stats(p, "w", &stats), RILL_OK);
    assert_int_equal(stats.watermark, 101);
    assert_non_null(find(&c, 10, 20, 0));  /* 15 */
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
}

/* An operator reading another's output: 10 ms counts summed per 100 ms. */
static void test_chained(void **st) {
    capture c = { 0 };
    rill_graph *g = rill_graph_new();
    rill_schema *s = schema_x();
    assert_int_equal(rill_graph_source(g, "s", s, NULL), RILL_OK);
    rill_agg_spec a1[] = { { RILL_AGG_COUNT, NULL, "n", 0 } };
    rill_agg_spec a2[] = { { RILL_AGG_SUM, "n", "total", 0 }, { RILL_AGG_COUNT, NULL, "windows", 0 } };
    rill_window_opts w1 = { .window = rill_tumbling(10), .aggs = a1, .n_aggs = 1 };
    rill_window_opts w2 = { .window = rill_tumbling(100), .aggs = a2, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "hundred", "ten", &w2), RILL_OK); /* declared first */
    assert_int_equal(rill_graph_window(g, "ten", "s", &w1), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "hundred", on_record, &c), RILL_OK);
    rill_plan *p;
    if (rill_graph_compile(g, NULL, &p)) fail_msg("%s", rill_graph_errmsg(g));
    int64_t ts[] = { 1, 2, 15, 55, 120 };
    push(p, "s", ts, NULL, 5, "k");
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    /* [0,100): windows [0,10):2 [10,20):1 [50,60):1 -> total 4 in 3 windows */
    const rec *r = find(&c, 0, 100, 0);
    assert_non_null(r);
    assert_true(r->v[0] == 4 && r->v[1] == 3);
    r = find(&c, 100, 200, 0);
    assert_non_null(r);
    assert_true(r->v[0] == 1 && r->v[1] == 1);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
}

/* Processing time: event times are replaced by the wall clock at push. */
static void test_processing_time(void **st) {
    capture c = { 0 };
    rill_graph *g = rill_graph_new();
    rill_schema *s = schema_x();
    rill_source_opts so = { .time = RILL_TIME_PROCESSING };
    assert_int_equal(rill_graph_source(g, "s", s, &so), RILL_OK);
    rill_window_opts wo = { .window = rill_tumbling(1000), .aggs = COUNT_SUM, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "w", "s", &wo), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, &c), RILL_OK);
    rill_plan *p;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t before = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t ts[] = { 5, 6 }; /* ignored */
    push(p, "s", ts, NULL, 2, "k");
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].end > before && c.r[0].start <= before + 1000 && c.r[0].v[0] == 2);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
}

/* Many keys in one batch are kept apart. */
static void test_keys_apart(void **st) {
    capture c = { 0 };
    rill_plan *p = one_op(&c, rill_tumbling(10), RILL_EMIT_ON_CLOSE, 0, 0, COUNT_SUM, 2);
    rill_schema *s = schema_x();
    rill_batch *b = rill_batch_new(s, 4);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(rill_batch_append(b, i % 10, i % 3 ? rill_i64(i % 3) : rill_str("zero")), RILL_OK);
        assert_int_equal(rill_batch_set_f64(b, 0, i), RILL_OK);
    }
    assert_int_equal(rill_plan_push(p, "s", b), RILL_OK);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 3);
    double sum = 0;
    for (size_t i = 0; i < c.n; i++) {
        assert_true(c.r[i].v[0] == 10);
        sum += c.r[i].v[1];
    }
    assert_true(sum == 435); /* 0 + 1 + ... + 29 */
    rill_batch_free(b);
    rill_schema_free(s);
    rill_plan_free(p);
}

/* Distinct over a string field reads the strings through the batch: 3 distinct
 * merchants among 6 events of one window (small sets are counted exactly). */
static void test_distinct_strings(void **st) {
    capture c = { 0 };
    rill_field f[] = { { "merchant", RILL_STRING } };
    rill_schema *s = rill_schema_new(f, 1);
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "s", s, NULL), RILL_OK);
    rill_agg_spec aggs[] = { { RILL_AGG_DISTINCT, "merchant", "merchants", 0 } };
    rill_window_opts wo = { .window = rill_tumbling(100), .aggs = aggs, .n_aggs = 1 };
    assert_int_equal(rill_graph_window(g, "w", "s", &wo), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, &c), RILL_OK);
    rill_plan *p;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_OK);
    rill_batch *b = rill_batch_new(s, 2);
    const char *m[] = { "shop", "cafe", "shop", "bakery", "cafe", "shop" };
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rill_batch_append(b, i, rill_str("k")), RILL_OK);
        assert_int_equal(rill_batch_set(b, 0, rill_str(m[i])), RILL_OK);
    }
    assert_int_equal(rill_plan_push(p, "s", b), RILL_OK);
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.r[0].v[0] == 3);
    rill_batch_free(b);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tumbling_basic),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_lateness_boundary),
        cmocka_unit_test(test_sliding_windows),
        cmocka_unit_test(test_sliding_fifo_long),
        cmocka_unit_test(test_session_bridge),
        cmocka_unit_test(test_session_late_update),
        cmocka_unit_test(test_global_every_n),
        cmocka_unit_test(test_global_every_ms),
        cmocka_unit_test(test_global_every_event),
        cmocka_unit_test(test_on_event_trailing),
        cmocka_unit_test(test_on_event_waits_for_watermark),
        cmocka_unit_test(test_on_event_tumbling_session),
        cmocka_unit_test(test_two_sources_and_idle),
        cmocka_unit_test(test_chained),
        cmocka_unit_test(test_processing_time),
        cmocka_unit_test(test_keys_apart),
        cmocka_unit_test(test_distinct_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
