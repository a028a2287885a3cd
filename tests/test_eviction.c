/* tests/test_eviction.c — state larger than memory: with max_hot_keys set,
 * operators evict cold keys to the (RocksDB) state after each commit and read
 * them back when an event or the watermark needs them. Eviction must change
 * nothing but memory: every window kind runs the same random stream twice,
 * once with every key in memory and once with a budget of a few keys and a
 * commit every batch, and the two record sets must be equal. A third run
 * starts each commit in the background (rill_plan_commit_start) and pushes
 * the next batch while it is written, so evictions see keys changed since
 * the batch being written: it must give the same records too.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rill/rill.h"

typedef struct lines { char **v; size_t n, cap; } lines;

static void on_record(const rill_record *r, void *user) {
    lines *l = user;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s|", r->op);
    if (r->key.type == RILL_STRING) n += snprintf(buf + n, sizeof buf - n, "s%.*s", (int)r->key.as.str.len, r->key.as.str.ptr);
    else n += snprintf(buf + n, sizeof buf - n, "i%lld", (long long)r->key.as.i64);
    n += snprintf(buf + n, sizeof buf - n, "|%lld|%lld|%lld|%u", (long long)r->start, (long long)r->end,
                  (long long)r->ts, r->flags);
    for (size_t i = 0; i < r->n_values; i++) {
        rill_value v = r->values[i];
        if (v.type == RILL_F64) n += snprintf(buf + n, sizeof buf - n, "|%.17g", v.as.f64);
        else if (v.type == RILL_I64) n += snprintf(buf + n, sizeof buf - n, "|%lld", (long long)v.as.i64);
        else n += snprintf(buf + n, sizeof buf - n, "|null");
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n++] = strdup(buf);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void lines_free(lines *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static uint64_t rng(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Run the stream of `seed` through one operator; budget 0 = all in memory;
 * background: commits started in the background, waited for by the next. */
static void run(rill_window_opts wo, uint64_t seed, size_t budget, bool background, lines *out,
                rill_op_stats *stats) {
    char dir[] = "/tmp/rill-evict-XXXXXX";
    assert_non_null(mkdtemp(dir));
    rill_state *st = NULL;
    rill_rocksdb_opts ro = { 0 };
    assert_int_equal(rill_state_open_rocksdb(dir, &ro, &st), RILL_OK);
    rill_field f[] = { { "x", RILL_F64 } };
    rill_schema *s = rill_schema_new(f, 1);
    rill_graph *g = rill_graph_new();
    rill_source_opts so = { .max_out_of_orderness_ms = 50 };
    assert_int_equal(rill_graph_source(g, "s", s, &so), RILL_OK);
    assert_int_equal(rill_graph_window(g, "w", "s", &wo), RILL_OK);
    assert_int_equal(rill_graph_sink(g, "out", "w", on_record, out), RILL_OK);
    rill_plan_opts po = { .state = st, .max_hot_keys = budget };
    rill_plan *p;
    if (rill_graph_compile(g, &po, &p)) fail_msg("%s", rill_graph_errmsg(g));
    rill_batch *b = rill_batch_new(s, 64);
    int64_t t = 1000000;
    for (int batch = 0; batch < 60; batch++) {
        rill_batch_clear(b);
        for (int i = 0; i < 50; i++) {
            uint64_t u = rng(&seed);
            t += (int64_t)(u % 7);
            int64_t ts = t - (int64_t)((u >> 8) % 60); /* some late */
            assert_int_equal(rill_batch_append(b, ts, rill_i64((int64_t)((u >> 20) % 200))), RILL_OK);
            assert_int_equal(rill_batch_set_f64(b, 0, (double)((u >> 32) % 1000)), RILL_OK);
        }
        if (rill_plan_push(p, "s", b)) fail_msg("push: %s", rill_plan_errmsg(p));
        if (budget && (background ? rill_plan_commit_start(p) : rill_plan_commit(p)))
            fail_msg("commit: %s", rill_plan_errmsg(p));
    }
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    assert_int_equal(rill_plan_commit_wait(p), RILL_OK);
    assert_int_equal(rill_plan_op_stats(p, "w", stats), RILL_OK);
    rill_batch_free(b);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(s);
    rill_state_close(st);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void check_kind(rill_window_spec w, rill_emit_mode emit, int64_t lateness) {
    rill_agg_spec aggs[] = {
        { RILL_AGG_COUNT, NULL, "n", 0 },      { RILL_AGG_SUM, "x", "sum", 0 },
        { RILL_AGG_MAX, "x", "max", 0 },       { RILL_AGG_LAST, "x", "last", 0 },
    };
    rill_window_opts wo = { .window = w, .aggs = aggs, .n_aggs = 4, .emit = emit, .allowed_lateness_ms = lateness };
    uint64_t seed = 0xe71c7 + (uint64_t)w.kind * 31 + (uint64_t)emit;
    lines all = { 0 }, cached = { 0 }, bg = { 0 };
    rill_op_stats s_all, s_cached, s_bg;
    run(wo, seed, 0, false, &all, &s_all);
    run(wo, seed, 8, false, &cached, &s_cached);
    run(wo, seed, 8, true, &bg, &s_bg);
    print_message("kind %d emit %d: %zu records, %llu evictions, %llu reads back (seed %llu)\n", (int)w.kind,
                  (int)emit, all.n, (unsigned long long)s_cached.evictions,
                  (unsigned long long)s_cached.reads_back, (unsigned long long)seed);
    assert_true(all.n > 100);
    assert_true(s_cached.evictions > 100);  /* the budget was really used */
    assert_true(s_cached.reads_back > 100);
    assert_true(s_bg.evictions > 100);
    assert_true(s_bg.reads_back > 100);
    assert_int_equal(s_all.evictions, 0);
    assert_int_equal(s_all.late, s_cached.late);
    assert_int_equal(s_all.emitted, s_cached.emitted);
    assert_int_equal(s_all.late, s_bg.late);
    assert_int_equal(s_all.emitted, s_bg.emitted);
    qsort(all.v, all.n, sizeof *all.v, cmp_str);
    qsort(cached.v, cached.n, sizeof *cached.v, cmp_str);
    qsort(bg.v, bg.n, sizeof *bg.v, cmp_str);
    assert_int_equal(all.n, cached.n);
    assert_int_equal(all.n, bg.n);
    for (size_t i = 0; i < all.n; i++) {
        if (strcmp(all.v[i], cached.v[i])) fail_msg("record %zu differs:\n  all in memory: %s\n  evicting:      %s",
                                                    i, all.v[i], cached.v[i]);
        if (strcmp(all.v[i], bg.v[i])) fail_msg("record %zu differs:\n  all in memory: %s\n  background:    %s",
                                                i, all.v[i], bg.v[i]);
    }
    lines_free(&all);
    lines_free(&cached);
    lines_free(&bg);
}

static void test_tumbling(void **st) { check_kind(rill_tumbling(100), RILL_EMIT_ON_CLOSE, 20); }
static void test_sliding(void **st) { check_kind(rill_sliding(100, 20), RILL_EMIT_ON_CLOSE, 20); }
static void test_session(void **st) { check_kind(rill_session(30), RILL_EMIT_ON_CLOSE, 10); }
static void test_global(void **st) { check_kind(rill_global(RILL_TRIGGER_EVERY_MS, 100), RILL_EMIT_ON_CLOSE, 0); }
static void test_global_n(void **st) { check_kind(rill_global(RILL_TRIGGER_EVERY_N, 3), RILL_EMIT_ON_CLOSE, 0); }
static void test_on_event(void **st) { check_kind(rill_sliding(100, 1), RILL_EMIT_ON_EVENT, 0); }

/* The background commit calls on no plan. */
static void test_commit_calls_without_plan(void **st) {
    assert_int_equal(rill_plan_commit_start(NULL), RILL_EINVAL);
    assert_int_equal(rill_plan_commit_wait(NULL), RILL_EINVAL);
    assert_true(rill_plan_commit_written(NULL)); /* nothing to wait for */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_calls_without_plan),
        cmocka_unit_test(test_tumbling), cmocka_unit_test(test_sliding),
        cmocka_unit_test(test_session),  cmocka_unit_test(test_global),
        cmocka_unit_test(test_global_n), cmocka_unit_test(test_on_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
