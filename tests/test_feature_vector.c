/* tests/test_feature_vector.c — the feature-vector operator
 * (operators/feature_vector.c) in a graph.
 *
 * - Hand-made: a record later in event time that arrived before the
 *   trigger is not used; an older one that arrived after it is; keys without
 *   values take the default and are counted; a late trigger gives no vector.
 * - Oracle: random out-of-order streams of two sources, an on-event sliding
 *   window, an on-close tumbling window and raw source fields as features.
 *   The records every feature input produced are captured through sinks;
 *   the expected vector of each trigger is computed here plainly from them
 *   (the latest record of the key with ts <= t, ties by arrival; null or
 *   none -> default), and which triggers are late from the watermarks. The
 *   vectors, their order (t, arrival) and every counter must match, for
 *   micro-batches of 1, 7 and 1000 rows (which must also agree with each
 *   other), across a commit + free + recompile on the same state, and with
 *   the hot-key cache evicting keys.
 * - Compile errors: unknown field, wrong type, duplicate and reserved names,
 *   a non-finite default, an unknown input.
 * Seeds are fixed and printed on failure.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rill/rill.h"
#include "test_util.h"

/* ---- capturing records ------------------------------------------------------ */

#define MAXV 8

typedef struct rec {
    int op;          /* index into the capture's op names */
    int64_t key, ts, id; /* id -1: none */
    size_t nv;
    double v[MAXV];  /* NaN: null */
} rec;

typedef struct capture {
    const char *ops[8];
    int n_ops;
    rec *r;
    size_t n, cap;
    uint64_t late_events;
} capture;

static int op_index(capture *c, const char *op) {
    for (int i = 0; i < c->n_ops; i++)
        if (!strcmp(c->ops[i], op)) return i;
    assert_true(c->n_ops < 8);
    c->ops[c->n_ops] = op; /* graph-owned names live as long as the test's graph */
    return c->n_ops++;
}

static void on_record(const rill_record *r, void *user) {
    capture *c = user;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        assert_non_null(c->r);
    }
    rec *x = &c->r[c->n++];
    memset(x, 0, sizeof *x);
    x->op = -1;
    for (int i = 0; i < c->n_ops; i++)
        if (!strcmp(c->ops[i], r->op)) x->op = i;
    assert_true(x->op >= 0);
    assert_int_equal(r->key.type, RILL_I64);
    x->key = r->key.as.i64;
    x->ts = r->ts;
    x->id = r->id.type == RILL_I64 ? r->id.as.i64 : -1;
    x->nv = r->n_values;
    assert_true(x->nv <= MAXV);
    for (size_t i = 0; i < x->nv; i++) {
        rill_value v = r->values[i];
        x->v[i] = v.type == RILL_F64 ? v.as.f64 : v.type == RILL_I64 ? (double)v.as.i64 : NAN;
    }
}

static void on_late(const rill_late_event *e, void *user) {
    (void)e;
    ((capture *)user)->late_events++;
}

static void capture_free(capture *c) { free(c->r); }

/* ---- hand-made ---------------------------------------------------------------- */

static rill_schema *schema1(const char *name) {
    rill_field f[] = { { name, RILL_F64 } };
    return rill_schema_new(f, 1);
}

static void push1(rill_plan *p, const char *src, const rill_schema *s, int64_t key, int64_t ts, double v,
                  bool has_v, int64_t id) {
    rill_batch *b = rill_batch_new(s, 1);
    assert_int_equal(rill_batch_append(b, ts, rill_i64(key)), RILL_OK);
    if (has_v) assert_int_equal(rill_batch_set_f64(b, 0, v), RILL_OK);
    if (id >= 0) assert_int_equal(rill_batch_set_id(b, rill_i64(id)), RILL_OK);
    int rc = rill_plan_push(p, src, b);
    if (rc) fail_msg("push: %s", rill_plan_errmsg(p));
    rill_batch_free(b);
}

static void test_never_the_future(void **st) {
    (void)st;
    rill_schema *se = schema1("x"), *ss = schema1("v");
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "ev", se, &(rill_source_opts){ .max_out_of_orderness_ms = 0 }), RILL_OK);
    assert_int_equal(rill_graph_source(g, "side", ss, &(rill_source_opts){ .max_out_of_orderness_ms = 100 }),
                     RILL_OK);
    rill_feature f[] = { { "side", "v", NULL, -1.0 }, { "ev", "x", "x_now", -2.0 } };
    assert_int_equal(rill_graph_features(g, "fv", &(rill_features_opts){ "ev", f, 2 }), RILL_OK);
    capture c = { 0 };
    op_index(&c, "fv");
    assert_int_equal(rill_graph_sink(g, "out", "fv", on_record, &c), RILL_OK);
    assert_int_equal(rill_graph_on_late(g, on_late, &c), RILL_OK);
    rill_plan *p;
    if (rill_graph_compile(g, NULL, &p)) fail_msg("compile: %s", rill_graph_errmsg(g));

    push1(p, "side", ss, 1, 100, 7.0, true, -1); /* later in event time, arrives first */
    push1(p, "ev", se, 1, 50, 0.5, true, 10);
    assert_int_equal(c.n, 0);                     /* the side stream may still bring ts <= 50 */
    push1(p, "side", ss, 1, 40, 3.0, true, -1);   /* older, arrives after the trigger: used */
    push1(p, "ev", se, 3, 60, 0.25, false, 11);   /* key 3: no side value, x null */
    push1(p, "ev", se, 1, 200, 1.5, true, 12);
    push1(p, "side", ss, 2, 300, 9.0, true, -1);  /* side watermark 200: fires 50 and 60 */
    assert_int_equal(c.n, 2);
    push1(p, "ev", se, 1, 10, 4.0, true, 13);     /* behind the watermark: late, no vector */
    assert_int_equal(rill_plan_flush(p), RILL_OK);

    assert_int_equal(c.n, 3);
    assert_int_equal(c.r[0].ts, 50);
    assert_int_equal(c.r[0].id, 10);
    assert_true(c.r[0].v[0] == 3.0 && c.r[0].v[1] == 0.5);
    assert_int_equal(c.r[1].ts, 60);
    assert_int_equal(c.r[1].key, 3);
    assert_true(c.r[1].v[0] == -1.0 && c.r[1].v[1] == -2.0); /* both defaulted */
    assert_int_equal(c.r[2].ts, 200);
    assert_true(c.r[2].v[0] == 7.0 && c.r[2].v[1] == 1.5);

    rill_features_stats s;
    assert_int_equal(rill_plan_features_stats(p, "fv", &s), RILL_OK);
    assert_int_equal(s.triggers, 4);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.vectors, 3);
    assert_int_equal(s.complete, 2);
    assert_int_equal(s.defaulted, 2);
    assert_int_equal(s.pending, 0);
    uint64_t miss[2];
    assert_int_equal(rill_plan_features_missing(p, "fv", miss, 2), RILL_OK);
    assert_true(miss[0] == 1 && miss[1] == 1);
    assert_int_equal(rill_plan_features_missing(p, "fv", miss, 3), RILL_EINVAL);
    assert_int_equal(rill_plan_features_stats(p, "nope", &s), RILL_EUNKNOWN_NODE);
    assert_true(c.late_events >= 1); /* the late trigger (and its late x value) */
    rill_op_stats os;
    assert_int_equal(rill_plan_op_stats(p, "fv", &os), RILL_OK);
    assert_int_equal(os.emitted, 3);

    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(se);
    rill_schema_free(ss);
    capture_free(&c);
}

/* ---- the oracle ---------------------------------------------------------------- */

#define K 4
#define EV_BOUND 20
#define SIDE_BOUND 15

typedef struct row {
    bool side;   /* source: side, else ev */
    int64_t key, ts, id;
    double x;    /* ev: x; side: v */
    bool has;    /* the value is present */
    int64_t c;   /* ev: an integer field */
} row;

static int64_t below(tu_rng *r, int64_t n) { return (int64_t)(tu_xorshift64s(&r->s) % (uint64_t)n); }

/* Blocks of ev rows and side rows, times rising with jitter beyond the
 * bounds now and then (late rows). */
static row *make_stream(uint64_t seed, size_t *n_out) {
    tu_rng r = { seed * 2654435761u + 1 };
    size_t cap = 6000, n = 0;
    row *rows = calloc(cap, sizeof *rows);
    assert_non_null(rows);
    int64_t base = 1000, id = 0;
    while (n < 4500) {
        bool side = below(&r, 3) == 0;
        int64_t len = side ? 1 + below(&r, 20) : 1 + below(&r, 50);
        for (int64_t i = 0; i < len && n < cap; i++) {
            row *w = &rows[n++];
            base += below(&r, 4);
            w->side = side;
            w->key = below(&r, K);
            w->ts = base - below(&r, side ? SIDE_BOUND + 8 : EV_BOUND + 15);
            w->id = side ? -1 : id++;
            w->has = below(&r, 10) != 0;
            w->x = (double)below(&r, 1000) / 8.0;
            w->c = below(&r, 100) - 50;
        }
    }
    *n_out = n;
    return rows;
}

static rill_schema *ev_schema(void) {
    rill_field f[] = { { "x", RILL_F64 }, { "c", RILL_I64 } };
    return rill_schema_new(f, 2);
}

/* The graph of the oracle test; c gets the records of w5, tum and fv. */
static rill_graph *oracle_graph(capture *c, rill_schema *se, rill_schema *ss) {
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "ev", se, &(rill_source_opts){ .max_out_of_orderness_ms = EV_BOUND }),
                     RILL_OK);
    assert_int_equal(rill_graph_source(g, "side", ss, &(rill_source_opts){ .max_out_of_orderness_ms = SIDE_BOUND }),
                     RILL_OK);
    rill_agg_spec a5[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "x", "s", 0 } };
    rill_window_opts w5 = { .window = rill_sliding(30, 10), .aggs = a5, .n_aggs = 2, .emit = RILL_EMIT_ON_EVENT };
    assert_int_equal(rill_graph_window(g, "w5", "ev", &w5), RILL_OK);
    rill_agg_spec at[] = { { RILL_AGG_SUM, "x", "tsum", 0 }, { RILL_AGG_MAX, "c", "mx", 0 } };
    rill_window_opts tw = { .window = rill_tumbling(25), .aggs = at, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "tum", "ev", &tw), RILL_OK);
    rill_feature f[] = {
        { "w5", "n", NULL, -1 }, { "w5", "s", "s5", -2 }, { "tum", "tsum", NULL, -3 },
        { "tum", "mx", NULL, -4 }, { "ev", "x", "x_now", -5 }, { "side", "v", NULL, -6 },
        { "ev", "c", "c_now", -7 },
    };
    assert_int_equal(rill_graph_features(g, "fv", &(rill_features_opts){ "ev", f, 7 }), RILL_OK);
    op_index(c, "w5");
    op_index(c, "tum");
    op_index(c, "fv");
    assert_int_equal(rill_graph_sink(g, "s_w5", "w5", on_record, c), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "s_tum", "tum", on_record, c), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "s_fv", "fv", on_record, c), RILL_OK);
    return g;
}

/* Push rows [from, to) in batches of at most bs rows of one source. */
static void push_rows(rill_plan *p, const row *rows, size_t from, size_t to, size_t bs, rill_schema *se,
                      rill_schema *ss) {
    size_t i = from;
    while (i < to) {
        bool side = rows[i].side;
        rill_batch *b = rill_batch_new(side ? ss : se, bs);
        size_t j = i;
        for (; j < to && j - i < bs && rows[j].side == side; j++) {
            assert_int_equal(rill_batch_append(b, rows[j].ts, rill_i64(rows[j].key)), RILL_OK);
            if (rows[j].has) assert_int_equal(rill_batch_set_f64(b, 0, rows[j].x), RILL_OK);
            if (!side) {
                assert_int_equal(rill_batch_set_i64(b, 1, rows[j].c), RILL_OK);
                assert_int_equal(rill_batch_set_id(b, rill_i64(rows[j].id)), RILL_OK);
            }
        }
        int rc = rill_plan_push(p, side ? "side" : "ev", b);
        if (rc) fail_msg("push: %s", rill_plan_errmsg(p));
        rill_batch_free(b);
        i = j;
    }
}

/* Run the stream; commit_at: commit, free and recompile before that row
 * (0: never). */
static void run(const row *rows, size_t n, size_t bs, size_t commit_at, size_t max_hot, capture *c,
                rill_features_stats *stats, uint64_t *missing) {
    rill_schema *se = ev_schema(), *ss = schema1("v");
    rill_graph *g = oracle_graph(c, se, ss);
    rill_state *state;
    assert_int_equal(rill_state_open_memory(&state), RILL_OK);
    rill_plan_opts po = { .state = state, .max_hot_keys = max_hot };
    rill_plan *p;
    if (rill_graph_compile(g, &po, &p)) fail_msg("compile: %s", rill_graph_errmsg(g));
    size_t cut = commit_at ? commit_at : n;
    for (size_t i = 0; i < cut; i += 500) {
        push_rows(p, rows, i, i + 500 < cut ? i + 500 : cut, bs, se, ss);
        if (max_hot) assert_int_equal(rill_plan_commit(p), RILL_OK); /* evictions happen after commits */
    }
    if (commit_at) {
        assert_int_equal(rill_plan_commit(p), RILL_OK);
        rill_plan_free(p);
        if (rill_graph_compile(g, &po, &p)) fail_msg("recompile: %s", rill_graph_errmsg(g));
        push_rows(p, rows, commit_at, n, bs, se, ss);
    }
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(rill_plan_features_stats(p, "fv", stats), RILL_OK);
    assert_int_equal(rill_plan_features_missing(p, "fv", missing, 7), RILL_OK);
    rill_plan_free(p);
    rill_state_close(state);
    rill_graph_free(g);
    rill_schema_free(se);
    rill_schema_free(ss);
}

typedef struct trig { int64_t key, ts, id; size_t seq; } trig;

static int trig_cmp(const void *a, const void *b) {
    const trig *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Positions of the records of each (op, key) in a capture, in arrival order. */
typedef struct rec_index { size_t *pos[3][K]; size_t n[3][K]; } rec_index;

static void index_build(rec_index *ix, const capture *c) {
    memset(ix, 0, sizeof *ix);
    for (int o = 0; o < 3; o++)
        for (int k = 0; k < K; k++) {
            ix->pos[o][k] = calloc(c->n + 1, sizeof(size_t));
            assert_non_null(ix->pos[o][k]);
        }
    for (size_t i = 0; i < c->n; i++) {
        const rec *r = &c->r[i];
        assert_true(r->op >= 0 && r->op < 3 && r->key >= 0 && r->key < K);
        ix->pos[r->op][r->key][ix->n[r->op][r->key]++] = i;
    }
}

static void index_free(rec_index *ix) {
    for (int o = 0; o < 3; o++)
        for (int k = 0; k < K; k++) free(ix->pos[o][k]);
}

/* The latest value (index vi) of op's records for key at or before t
 * (ties: the later arrival); NaN if none or null. */
static double latest_rec(const capture *c, const rec_index *ix, int op, size_t vi, int64_t key, int64_t t) {
    int64_t best_ts = INT64_MIN;
    double v = NAN;
    bool found = false;
    for (size_t j = 0; j < ix->n[op][key]; j++) {
        const rec *r = &c->r[ix->pos[op][key][j]];
        if (r->ts > t) continue;
        if (!found || r->ts >= best_ts) {
            found = true;
            best_ts = r->ts;
            v = r->v[vi];
        }
    }
    return v;
}

static double latest_row(const row *rows, const bool *late, size_t n, bool side, int field, int64_t key, int64_t t) {
    int64_t best_ts = INT64_MIN;
    double v = NAN;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (r->side != side || late[i] || r->key != key || r->ts > t) continue;
        if (!found || r->ts >= best_ts) {
            found = true;
            best_ts = r->ts;
            v = field == 0 ? (r->has ? r->x : NAN) : (double)r->c;
        }
    }
    return v;
}

static void check_oracle(uint64_t seed, const row *rows, size_t n, const capture *c,
                         const rill_features_stats *s, const uint64_t *missing) {
    /* which rows the feature vector saw as late: the watermark before each
     * row is the minimum of its own source's (rising row by row) and the
     * other source's as its last push left it */
    bool *late = calloc(n, sizeof *late);
    trig *tr = calloc(n, sizeof *tr);
    assert_true(late && tr);
    int64_t ev_wm = INT64_MIN, side_wm = INT64_MIN;
    size_t nt = 0, n_late_trig = 0;
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        int64_t *own = r->side ? &side_wm : &ev_wm, other = r->side ? ev_wm : side_wm;
        int64_t w = *own < other ? *own : other;
        late[i] = r->ts < w;
        int64_t cand = r->ts - (r->side ? SIDE_BOUND : EV_BOUND);
        if (cand > *own) *own = cand;
        if (r->side) continue;
        if (late[i]) n_late_trig++;
        else tr[nt++] = (trig){ r->key, r->ts, r->id, i };
    }
    qsort(tr, nt, sizeof *tr, trig_cmp);
    static const double defs[7] = { -1, -2, -3, -4, -5, -6, -7 };
    rec_index ix;
    index_build(&ix, c);
    uint64_t miss[7] = { 0 }, complete = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        const rec *got = &c->r[i];
        if (got->op != 2) continue;
        if (k >= nt) fail_msg("seed %llu: more vectors than triggers", (unsigned long long)seed);
        const trig *t = &tr[k++];
        double want[7] = {
            latest_rec(c, &ix, 0, 0, t->key, t->ts), latest_rec(c, &ix, 0, 1, t->key, t->ts),
            latest_rec(c, &ix, 1, 0, t->key, t->ts), latest_rec(c, &ix, 1, 1, t->key, t->ts),
            latest_row(rows, late, n, false, 0, t->key, t->ts), latest_row(rows, late, n, true, 0, t->key, t->ts),
            latest_row(rows, late, n, false, 1, t->key, t->ts),
        };
        bool all = true;
        for (int f = 0; f < 7; f++)
            if (isnan(want[f])) {
                want[f] = defs[f];
                miss[f]++;
                all = false;
            }
        complete += all;
        if (got->key != t->key || got->ts != t->ts || got->id != t->id || got->nv != 7)
            fail_msg("seed %llu: vector %zu is key %lld ts %lld id %lld, expected key %lld ts %lld id %lld",
                     (unsigned long long)seed, k - 1, (long long)got->key, (long long)got->ts, (long long)got->id,
                     (long long)t->key, (long long)t->ts, (long long)t->id);
        for (int f = 0; f < 7; f++)
            if (got->v[f] != want[f])
                fail_msg("seed %llu: vector %zu (key %lld ts %lld) feature %d is %.17g, expected %.17g",
                         (unsigned long long)seed, k - 1, (long long)t->key, (long long)t->ts, f, got->v[f],
                         want[f]);
    }
    if (k != nt) fail_msg("seed %llu: %zu vectors, expected %zu", (unsigned long long)seed, k, nt);
    assert_int_equal(s->vectors, nt);
    assert_int_equal(s->late, n_late_trig);
    assert_int_equal(s->triggers, nt + n_late_trig);
    assert_int_equal(s->complete, complete);
    assert_int_equal(s->pending, 0);
    uint64_t total = 0;
    for (int f = 0; f < 7; f++) {
        assert_int_equal(missing[f], miss[f]);
        total += miss[f];
    }
    assert_int_equal(s->defaulted, total);
    if (!(n_late_trig > 0 && total > 0 && complete > 0)) /* the stream exercises all three */
        fail_msg("seed %llu: late %zu, defaulted %llu, complete %llu", (unsigned long long)seed, n_late_trig,
                 (unsigned long long)total, (unsigned long long)complete);
    index_free(&ix);
    free(late);
    free(tr);
}

/* The vectors of c, in order, as a plain list for comparing runs. */
static void vectors_equal(const capture *a, const capture *b, uint64_t seed, const char *what) {
    size_t i = 0, j = 0;
    for (;;) {
        while (i < a->n && a->r[i].op != 2) i++;
        while (j < b->n && b->r[j].op != 2) j++;
        if (i == a->n || j == b->n) break;
        if (memcmp(&a->r[i], &b->r[j], sizeof a->r[i]))
            fail_msg("seed %llu: %s: vector differs (ts %lld / %lld)", (unsigned long long)seed, what,
                     (long long)a->r[i].ts, (long long)b->r[j].ts);
        i++;
        j++;
    }
    if (i != a->n || j != b->n) fail_msg("seed %llu: %s: different numbers of vectors", (unsigned long long)seed, what);
}

static void test_oracle(void **st) {
    (void)st;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t n;
        row *rows = make_stream(seed, &n);
        static const size_t sizes[] = { 1, 7, 1000 };
        capture ref = { 0 };
        rill_features_stats s;
        uint64_t miss[7];
        for (size_t b = 0; b < 3; b++) {
            capture c = { 0 };
            run(rows, n, sizes[b], 0, 0, &c, &s, miss);
            check_oracle(seed, rows, n, &c, &s, miss);
            if (b == 0) ref = c;
            else {
                vectors_equal(&ref, &c, seed, "batch sizes");
                capture_free(&c);
            }
        }
        /* a commit, the plan freed, a new plan from the same state */
        capture c = { 0 };
        run(rows, n, 7, n / 2, 0, &c, &s, miss);
        check_oracle(seed, rows, n, &c, &s, miss);
        vectors_equal(&ref, &c, seed, "restart");
        capture_free(&c);
        /* the hot-key cache evicting all but one key after every commit */
        memset(&c, 0, sizeof c);
        run(rows, n, 7, 0, 1, &c, &s, miss);
        check_oracle(seed, rows, n, &c, &s, miss);
        vectors_equal(&ref, &c, seed, "eviction");
        capture_free(&c);
        capture_free(&ref);
        free(rows);
    }
}

/* ---- compile errors ------------------------------------------------------------ */

static int compile_with(const rill_feature *f, size_t nf, const char *trigger, char *msg, size_t len) {
    rill_field fs[] = { { "x", RILL_F64 }, { "name", RILL_STRING } };
    rill_schema *s = rill_schema_new(fs, 2);
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "ev", s, NULL), RILL_OK);
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_LAST_N, "x", "lastx", 3 } };
    rill_window_opts w = { .window = rill_tumbling(10), .aggs = a, .n_aggs = 2 };
    assert_int_equal(rill_graph_window(g, "w", "ev", &w), RILL_OK);
    int rc = rill_graph_features(g, "fv", &(rill_features_opts){ trigger, f, nf });
    rill_plan *p = NULL;
    if (!rc) rc = rill_graph_compile(g, NULL, &p);
    snprintf(msg, len, "%s", rill_graph_errmsg(g));
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
    return rc;
}

static void test_compile_errors(void **st) {
    (void)st;
    char m[512];
    rill_feature ok[] = { { "w", "n", NULL, 0 }, { "ev", "x", NULL, 0 } };
    assert_int_equal(compile_with(ok, 2, "ev", m, sizeof m), RILL_OK);
    assert_int_equal(compile_with(ok, 2, "w", m, sizeof m), RILL_OK); /* a vector per window record */
    rill_feature unknown[] = { { "w", "nope", NULL, 0 } };
    assert_int_equal(compile_with(unknown, 1, "ev", m, sizeof m), RILL_EUNKNOWN_FIELD);
    assert_non_null(strstr(m, "nope"));
    assert_non_null(strstr(m, "fv"));
    rill_feature str[] = { { "ev", "name", NULL, 0 } };
    assert_int_equal(compile_with(str, 1, "ev", m, sizeof m), RILL_EFIELD_TYPE);
    assert_non_null(strstr(m, "string"));
    rill_feature list[] = { { "w", "lastx", NULL, 0 } };
    assert_int_equal(compile_with(list, 1, "ev", m, sizeof m), RILL_EFIELD_TYPE);
    rill_feature dup[] = { { "w", "n", "a", 0 }, { "ev", "x", "a", 0 } };
    assert_int_equal(compile_with(dup, 2, "ev", m, sizeof m), RILL_EDUP_NAME);
    rill_feature reserved[] = { { "ev", "x", "ts", 0 } };
    assert_int_equal(compile_with(reserved, 1, "ev", m, sizeof m), RILL_EINVAL);
    rill_feature inf[] = { { "ev", "x", NULL, INFINITY } };
    assert_int_equal(compile_with(inf, 1, "ev", m, sizeof m), RILL_EINVAL);
    rill_feature node[] = { { "ghost", "x", NULL, 0 } };
    assert_int_equal(compile_with(node, 1, "ev", m, sizeof m), RILL_EUNKNOWN_NODE);
    assert_non_null(strstr(m, "ghost"));
    assert_int_equal(compile_with(ok, 2, "ghost", m, sizeof m), RILL_EUNKNOWN_NODE);
    assert_int_equal(compile_with(ok, 0, "ev", m, sizeof m), RILL_EINVAL);
    assert_int_equal(compile_with(ok, 2, NULL, m, sizeof m), RILL_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_the_future),
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_compile_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
