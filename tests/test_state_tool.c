/* tests/test_state_tool.c — rill-state, the state inspection tool, and the
 * public inspection functions of rill/state.h it is built on.
 *
 * A plan with one operator of each record layout (tumbling, sliding and
 * session on close, global, sliding on event) runs a random stream with
 * integer and string keys on a RocksDB store and commits without flushing,
 * so open windows, slices and sessions stay in the state. While the store
 * is still open (rill-state opens it read-only, as it would a running
 * engine's), the test runs rill-state and compares what it prints with a
 * brute-force recomputation from the stream: for every operator the keys
 * holding state and the entries (slices, sessions, window events) inside
 * them; for chosen keys the dumped slices, windows, sessions, counts and
 * event times; the watermarks and counters of the plan; the reliable
 * producers' sequence numbers (an engine blob written in its documented
 * layout); and the exit statuses for a missing directory, operator or key.
 * RILL_TEST_SEED=<n> replays a stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rill/rill.h"
#include "test_util.h"

#define N_EVENTS 3000
#define N_INT_KEYS 10
#define N_STR_KEYS 5
#define N_KEYS (N_INT_KEYS + N_STR_KEYS)
#define SESSION_GAP 500
#define GLOBAL_EVERY 5

static char g_dir[64];
static char g_bin[512];
static uint64_t g_rng;

static uint64_t rnd(void) { return tu_xorshift64s(&g_rng); }

static int setup(void **state) {
    tu_build_dir(g_bin, sizeof g_bin);
    snprintf(g_dir, sizeof g_dir, "/tmp/rill-test-statetool-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    tu_rm_rf(g_dir);
    return 0;
}

/* Run rill-state with args; its standard output goes to out (a path), its
 * exit status is returned. */
static int run_tool(const char *out, char *const args[]) {
    char tool[600];
    snprintf(tool, sizeof tool, "%s/tools/rill-state", g_bin);
    char *argv[16] = { tool };
    size_t n = 1;
    while (args[n - 1] && n < 15) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        execv(tool, argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the stream and the brute-force state it leaves --------------------------------- */

typedef struct ev {
    int64_t ts;
    int key; /* 0..N_INT_KEYS-1: integer key = key; above: string "s<key-N_INT_KEYS>" */
} ev;

static rill_value key_value(int k, char *buf) {
    if (k < N_INT_KEYS) return rill_i64(k);
    sprintf(buf, "s%d", k - N_INT_KEYS);
    return rill_str(buf);
}

/* The JSON form rill-state gives a key. */
static bool key_matches(json_t *j, int k) {
    if (k < N_INT_KEYS) return json_is_integer(j) && json_integer_value(j) == k;
    char buf[16];
    sprintf(buf, "s%d", k - N_INT_KEYS);
    return json_is_string(j) && !strcmp(json_string_value(j), buf);
}

static int key_of_json(json_t *j) {
    for (int k = 0; k < N_KEYS; k++)
        if (key_matches(j, k)) return k;
    fail_msg("rill-state printed a key the stream does not have");
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Per key, what must still be stored at watermark W (lateness 0):
 *   tumbling 1000: windows [s, s+1000) with data and s + 1000 > W;
 *   sliding 3000/1000: slices [s, s+1000) with data whose last window
 *     [s, s+3000) has not closed: s + 3000 > W;
 *   session gap G: sessions (chains of events < G apart) that an on-time
 *     event could still join or that have not fired: last + 2G > W;
 *   global: one record per key that ever had an event;
 *   sliding 2000 on event: the key's events in the window of its newest
 *     event t, (t - 2000, t], while a future event's window can still
 *     reach them: t + 2000 > W. */
typedef struct expect {
    int64_t tumble[64], slide[64];
    size_t n_tumble, n_slide;
    int64_t sess_start[64], sess_last[64];
    size_t n_sess;
    int64_t count, first_ts, last_ts; /* global */
    int64_t oe_ts[N_EVENTS];
    size_t n_oe;
} expect;

static void add_unique(int64_t *a, size_t *n, int64_t v) {
    for (size_t i = 0; i < *n; i++)
        if (a[i] == v) return;
    assert_true(*n < 64);
    a[(*n)++] = v;
}

static void compute(const ev *e, size_t n, int64_t W, expect *x) {
    memset(x, 0, N_KEYS * sizeof *x);
    for (int k = 0; k < N_KEYS; k++) {
        expect *q = &x[k];
        int64_t sess_first = 0, sess_prev = 0;
        bool in_sess = false;
        for (size_t i = 0; i < n; i++) {
            if (e[i].key != k) continue;
            int64_t s = floor_div(e[i].ts, 1000) * 1000;
            if (s + 1000 > W) add_unique(q->tumble, &q->n_tumble, s);
            if (s + 3000 > W) add_unique(q->slide, &q->n_slide, s);
            if (in_sess && e[i].ts - sess_prev >= SESSION_GAP) {
                if (sess_prev + 2 * SESSION_GAP > W) {
                    q->sess_start[q->n_sess] = sess_first;
                    q->sess_last[q->n_sess++] = sess_prev;
                }
                in_sess = false;
            }
            if (!in_sess) {
                sess_first = e[i].ts;
                in_sess = true;
            }
            sess_prev = e[i].ts;
            if (!q->count) q->first_ts = e[i].ts;
            q->count++;
            q->last_ts = e[i].ts;
        }
        if (in_sess && sess_prev + 2 * SESSION_GAP > W) {
            q->sess_start[q->n_sess] = sess_first;
            q->sess_last[q->n_sess++] = sess_prev;
        }
        for (size_t i = 0; q->last_ts + 2000 > W && i < n; i++)
            if (e[i].key == k && e[i].ts > q->last_ts - 2000) q->oe_ts[q->n_oe++] = e[i].ts;
    }
}

/* ---- building the state -------------------------------------------------------------- */

static rill_graph *make_graph(void) {
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_graph *g = rill_graph_new();
    assert_true(s && g);
    assert_int_equal(rill_graph_source(g, "events", s, NULL), RILL_OK);
    rill_schema_free(s);
    rill_agg_spec aggs[] = { { .kind = RILL_AGG_COUNT, .name = "count" },
                             { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" } };
    rill_window_opts w1 = { .window = rill_tumbling(1000), .aggs = aggs, .n_aggs = 2 };
    rill_window_opts w2 = { .window = rill_sliding(3000, 1000), .aggs = aggs, .n_aggs = 1 };
    rill_window_opts w3 = { .window = rill_session(SESSION_GAP), .aggs = aggs, .n_aggs = 2 };
    rill_window_opts w4 = { .window = rill_global(RILL_TRIGGER_EVERY_N, GLOBAL_EVERY), .aggs = aggs,
                            .n_aggs = 1 };
    rill_window_opts w5 = { .window = rill_sliding(2000, 1000), .aggs = aggs, .n_aggs = 1,
                            .emit = RILL_EMIT_ON_EVENT };
    assert_int_equal(rill_graph_window(g, "tumble", "events", &w1), RILL_OK);
    assert_int_equal(rill_graph_window(g, "slide", "events", &w2), RILL_OK);
    assert_int_equal(rill_graph_window(g, "sess", "events", &w3), RILL_OK);
    assert_int_equal(rill_graph_window(g, "glob", "events", &w4), RILL_OK);
    assert_int_equal(rill_graph_window(g, "oe", "events", &w5), RILL_OK);
    return g;
}

static void put_be(unsigned char *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

/* The engine's producers blob, in the layout engine/engine.c documents:
 * producers alpha (last 42) and beta (last 7) on reliable source 0 of
 * graph source "events". */
static size_t producers_blob(unsigned char *b) {
    size_t n = 0;
    b[n++] = 1;
    put_be(b + n, 1, 4), n += 4;
    put_be(b + n, 6, 2), n += 2;
    memcpy(b + n, "events", 6), n += 6;
    put_be(b + n, 0, 4), n += 4;
    size_t tlen_at = n;
    n += 4;
    size_t t0 = n;
    put_be(b + n, 2, 4), n += 4;
    b[n++] = 5;
    memcpy(b + n, "alpha", 5), n += 5;
    put_be(b + n, 42, 8), n += 8;
    b[n++] = 4;
    memcpy(b + n, "beta", 4), n += 4;
    put_be(b + n, 7, 8), n += 8;
    put_be(b + tlen_at, n - t0, 4);
    return n;
}

/* ---- reading the tool's output -------------------------------------------------------- */

static json_t *load_json(const char *path) {
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("%s: not JSON: %s (line %d)", path, err.text, err.line);
    return j;
}

/* The JSON lines of path, as an array. */
static json_t *load_lines(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) fail_msg("%s: a line is not JSON: %s", path, line);
        json_array_append_new(arr, j);
    }
    free(line);
    fclose(f);
    return arr;
}

static json_t *find_ns(json_t *lines, const char *ns) {
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "namespace")), ns)) return o;
    }
    fail_msg("rill-state list has no namespace %s", ns);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The integers under member `field` of each element of arr, sorted. */
static size_t ints_of(json_t *arr, const char *field, int64_t *out, size_t cap) {
    size_t i, n = 0;
    json_t *o;
    assert_true(json_is_array(arr));
    json_array_foreach(arr, i, o) {
        assert_true(n < cap);
        out[n++] = json_integer_value(json_object_get(o, field));
    }
    qsort(out, n, sizeof *out, cmp64);
    return n;
}

static void expect_set(const char *what, int k, const int64_t *got, size_t ngot, int64_t *want,
                       size_t nwant, uint64_t seed) {
    qsort(want, nwant, sizeof *want, cmp64);
    if (ngot != nwant) fail_msg("%s of key %d: %zu, expected %zu (seed %llu)", what, k, ngot, nwant,
                                (unsigned long long)seed);
    for (size_t i = 0; i < ngot; i++)
        if (got[i] != want[i])
            fail_msg("%s of key %d: %lld, expected %lld (seed %llu)", what, k, (long long)got[i],
                     (long long)want[i], (unsigned long long)seed);
}

/* ---- the test ------------------------------------------------------------------------- */

static void test_rill_state(void **state) {
    const char *se = getenv("RILL_TEST_SEED");
    uint64_t seed = se ? strtoull(se, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    g_rng = seed * 2 + 1;
    printf("rill_state: seed %llu\n", (unsigned long long)seed);

    static ev evs[N_EVENTS];
    int64_t t = 100000;
    for (size_t i = 0; i < N_EVENTS; i++) {
        t += (int64_t)(rnd() % 20);
        /* a few keys go quiet early, so some have nothing open */
        int k = (int)(rnd() % N_KEYS);
        if (i > N_EVENTS / 2 && (k == 3 || k == N_INT_KEYS + 1)) k = 0;
        evs[i] = (ev){ t, k };
    }
    int64_t W = evs[N_EVENTS - 1].ts;
    static expect x[N_KEYS];
    compute(evs, N_EVENTS, W, x);

    /* run and commit (no flush: windows stay open) */
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/state", g_dir);
    rill_state *st;
    assert_int_equal(rill_state_open_rocksdb(sdir, NULL, &st), RILL_OK);
    rill_graph *g = make_graph();
    rill_plan_opts po = { .state = st };
    rill_plan *p;
    if (rill_graph_compile(g, &po, &p)) fail_msg("%s", rill_graph_errmsg(g));
    rill_graph_free(g);
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_batch *b = rill_batch_new(s, 128);
    for (size_t i = 0; i < N_EVENTS; i++) {
        char kb[16];
        assert_int_equal(rill_batch_append(b, evs[i].ts, key_value(evs[i].key, kb)), RILL_OK);
        assert_int_equal(rill_batch_set_f64(b, 0, 0.5), RILL_OK);
        if (rill_batch_len(b) == 100 || i == N_EVENTS - 1) {
            assert_int_equal(rill_plan_push(p, "events", b), RILL_OK);
            rill_batch_clear(b);
        }
    }
    unsigned char blob[128];
    assert_int_equal(rill_plan_set_blob(p, "rill.engine.producers", blob, producers_blob(blob)), RILL_OK);
    assert_int_equal(rill_plan_commit(p), RILL_OK);
    rill_batch_free(b);
    rill_schema_free(s);

    /* the public inspection functions, in process */
    const char *name;
    bool saw_plan = false;
    for (size_t i = 0; rill_state_ns_name(st, i, &name) == RILL_OK; i++) saw_plan |= !strcmp(name, "rill.plan");
    assert_true(saw_plan);
    char kb[16];
    unsigned char enc[32];
    size_t elen = rill_state_key_encode(key_value(N_INT_KEYS, kb), enc, sizeof enc);
    assert_int_equal(elen, 3);
    rill_value back = rill_state_key_decode(enc, elen);
    assert_int_equal(back.type, RILL_STRING);
    assert_memory_equal(back.as.str.ptr, "s0", 2);
    void *val;
    size_t vlen;
    assert_int_equal(rill_state_get(st, "no-such-namespace", "k", 1, &val, &vlen), RILL_ENOT_FOUND);
    assert_int_equal(rill_state_get(st, "op:glob", enc, elen, &val, &vlen), x[N_INT_KEYS].count ? RILL_OK : RILL_ENOT_FOUND);
    free(val);
    for (size_t i = 0; rill_state_ns_name(st, i, &name) == RILL_OK; i++) /* no namespace was made */
        assert_string_not_equal(name, "no-such-namespace");

    /* rill-state while the store is open here (read-only: no lock) */
    char out[128];
    snprintf(out, sizeof out, "%s/out", g_dir);
    assert_int_equal(run_tool(out, (char *[]){ sdir, "list", "--json", NULL }), 0);
    json_t *lines = load_lines(out);

    struct { const char *ns; int which; } ops[] = {
        { "op:tumble", 0 }, { "op:slide", 1 }, { "op:sess", 2 }, { "op:glob", 3 }, { "op:oe", 4 },
    };
    for (size_t o = 0; o < 5; o++) {
        json_int_t keys = 0, entries = 0;
        for (int k = 0; k < N_KEYS; k++) {
            size_t e = ops[o].which == 0 ? x[k].n_tumble : ops[o].which == 1 ? x[k].n_slide
                     : ops[o].which == 2 ? x[k].n_sess : ops[o].which == 3 ? (x[k].count > 0)
                                                                           : x[k].n_oe;
            keys += e > 0;
            entries += (json_int_t)e;
        }
        json_t *j = find_ns(lines, ops[o].ns);
        printf("  %-10s keys %lld entries %lld bytes %lld\n", ops[o].ns,
               (long long)json_integer_value(json_object_get(j, "keys")),
               (long long)json_integer_value(json_object_get(j, "entries")),
               (long long)json_integer_value(json_object_get(j, "bytes")));
        assert_int_equal(json_integer_value(json_object_get(j, "keys")), keys);
        assert_int_equal(json_integer_value(json_object_get(j, "entries")), entries);
        assert_true(json_integer_value(json_object_get(j, "bytes")) > 0);
        json_t *cp = json_object_get(j, "checkpoint");
        assert_int_equal(json_integer_value(json_object_get(cp, "watermark")), W);
        assert_int_equal(json_integer_value(json_object_get(cp, "events_in")), N_EVENTS);
    }
    json_t *plan = find_ns(lines, "rill.plan");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(plan, "source_watermarks"), "events")), W);
    json_t *prod = json_object_get(plan, "producers");
    assert_int_equal(json_array_size(prod), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *pr = json_array_get(prod, i);
        const char *id = json_string_value(json_object_get(pr, "producer"));
        assert_string_equal(json_string_value(json_object_get(pr, "source")), "events");
        assert_int_equal(json_integer_value(json_object_get(pr, "last_applied_seq")),
                         !strcmp(id, "alpha") ? 42 : !strcmp(id, "beta") ? 7 : -1);
    }
    json_decref(lines);

    /* keys of the tumbling operator, with their entries */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "keys", "tumble", "--json", NULL }), 0);
    lines = load_lines(out);
    size_t want_keys = 0;
    for (int k = 0; k < N_KEYS; k++) want_keys += x[k].n_tumble > 0;
    assert_int_equal(json_array_size(lines), want_keys);
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        int k = key_of_json(json_object_get(o, "key"));
        assert_int_equal(json_integer_value(json_object_get(o, "entries")), x[k].n_tumble);
    }
    json_decref(lines);

    /* dumps of every key of every layout */
    for (int k = 0; k < N_KEYS; k++) {
        char karg[16];
        if (k < N_INT_KEYS) snprintf(karg, sizeof karg, "%d", k);
        else snprintf(karg, sizeof karg, "s%d", k - N_INT_KEYS);
        int64_t got[N_EVENTS];
        size_t n;

        int rc = run_tool(out, (char *[]){ sdir, "dump", "tumble", karg, NULL });
        assert_int_equal(rc, x[k].n_tumble ? 0 : 3);
        if (!rc) {
            json_t *d = load_json(out);
            assert_true(key_matches(json_object_get(d, "key"), k));
            assert_string_equal(json_string_value(json_object_get(d, "window")), "tumbling");
            n = ints_of(json_object_get(d, "slices"), "start", got, N_EVENTS);
            expect_set("tumbling windows", k, got, n, x[k].tumble, x[k].n_tumble, seed);
            json_t *w;
            json_array_foreach(json_object_get(d, "windows"), i, w) {
                int64_t end = json_integer_value(json_object_get(w, "end"));
                assert_int_equal(end - json_integer_value(json_object_get(w, "start")), 1000);
                assert_true(json_is_false(json_object_get(w, "emitted"))); /* open: end > W */
            }
            json_decref(d);
        }

        rc = run_tool(out, (char *[]){ sdir, "dump", "slide", karg, NULL });
        assert_int_equal(rc, x[k].n_slide ? 0 : 3);
        if (!rc) {
            json_t *d = load_json(out);
            n = ints_of(json_object_get(d, "slices"), "start", got, N_EVENTS);
            expect_set("sliding slices", k, got, n, x[k].slide, x[k].n_slide, seed);
            json_t *w;
            json_array_foreach(json_object_get(d, "windows"), i, w) {
                int64_t end = json_integer_value(json_object_get(w, "end"));
                assert_int_equal(end - json_integer_value(json_object_get(w, "start")), 3000);
                if (end > W) assert_true(json_is_false(json_object_get(w, "emitted")));
            }
            json_decref(d);
        }

        rc = run_tool(out, (char *[]){ sdir, "dump", "sess", karg, "--compact", NULL });
        assert_int_equal(rc, x[k].n_sess ? 0 : 3);
        if (!rc) {
            json_t *d = load_json(out);
            json_t *ss = json_object_get(d, "sessions");
            n = ints_of(ss, "start", got, N_EVENTS);
            expect_set("session starts", k, got, n, x[k].sess_start, x[k].n_sess, seed);
            n = ints_of(ss, "last", got, N_EVENTS);
            expect_set("session ends", k, got, n, x[k].sess_last, x[k].n_sess, seed);
            json_t *w;
            json_array_foreach(ss, i, w) {
                bool closed = json_integer_value(json_object_get(w, "end")) <= W;
                assert_int_equal(json_is_true(json_object_get(w, "fired")), closed);
            }
            json_decref(d);
        }

        rc = run_tool(out, (char *[]){ sdir, "dump", "glob", karg, NULL });
        assert_int_equal(rc, x[k].count ? 0 : 3);
        if (!rc) {
            json_t *d = load_json(out);
            assert_int_equal(json_integer_value(json_object_get(d, "count")), x[k].count);
            assert_int_equal(json_integer_value(json_object_get(d, "unemitted")), x[k].count % GLOBAL_EVERY);
            assert_int_equal(json_integer_value(json_object_get(d, "first_ts")), x[k].first_ts);
            assert_int_equal(json_integer_value(json_object_get(d, "last_ts")), x[k].last_ts);
            json_decref(d);
        }

        rc = run_tool(out, (char *[]){ sdir, "dump", "oe", karg, NULL });
        assert_int_equal(rc, x[k].n_oe ? 0 : 3);
        if (!rc) {
            json_t *d = load_json(out);
            n = ints_of(json_object_get(d, "window_events"), "ts", got, N_EVENTS);
            expect_set("on-event window events", k, got, n, x[k].oe_ts, x[k].n_oe, seed);
            assert_int_equal(json_array_size(json_object_get(d, "pending_events")), 0);
            json_decref(d);
        }
    }

    /* an integer key asked for as a string is another key */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "dump", "glob", "--string", "0", NULL }), 3);
    assert_int_equal(run_tool(out, (char *[]){ sdir, "dump", "glob", "--int", "0", NULL }), x[0].count ? 0 : 3);
    /* the graph */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "graph", NULL }), 0);
    FILE *f = fopen(out, "r");
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    assert_non_null(strstr(text, "operator sess window=3"));
    /* the table form prints too */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "list", NULL }), 0);
    /* errors */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "dump", "nope", "1", NULL }), 3);
    assert_int_equal(run_tool(out, (char *[]){ sdir, "keys", "nope", NULL }), 3);
    assert_int_equal(run_tool(out, (char *[]){ sdir, "dump", "glob", "no-such-key", NULL }), 3);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing", g_dir);
    assert_int_equal(run_tool(out, (char *[]){ missing, "list", NULL }), 2);
    struct stat sb;
    assert_int_equal(stat(missing, &sb), -1); /* read-only: nothing made */
    assert_int_equal(run_tool(out, (char *[]){ sdir, "frobnicate", NULL }), 1);
    assert_int_equal(run_tool(out, (char *[]){ "--help", NULL }), 0);

    rill_plan_free(p);
    rill_state_close(st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rill_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
