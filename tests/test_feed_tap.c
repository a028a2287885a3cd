/* tests/test_feed_tap.c — the tools and the example engine, as separate
 * processes.
 *
 * The test writes a CSV (quoted keys with commas, a quoted free-text column
 * the engine does not know, event times out of order within the engine's
 * bound), starts rill-engine-example, starts rill-tap on the engine's PUB
 * socket, feeds the CSV with rill-feed, stops the engine with SIGTERM (which
 * flushes every open window) and compares each tapped window record with a
 * brute-force recomputation of the CSV. A second run feeds the same events
 * as JSON lines through a reliable source, a third feeds a reliable source
 * whose engine is stopped (SIGSTOP) for a while so that rill-feed resends
 * and the engine must drop the duplicates, and a last one checks the
 * tools' exit statuses for bad endpoints, missing files and usage errors.
 * Sockets are ipc paths in a fresh temporary directory; every child process
 * is killed and reaped even when an assertion fails (see teardown).
 * RILL_TEST_SEED=<n> replays a stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test_util.h"

#define WINDOW_MS 1000
#define N_KEYS 10
#define MAX_WINS 200

/* ---- processes ---------------------------------------------------------------- */

static tu_procs g_procs; /* children not reaped yet, killed by teardown */
static char g_dir[64];
static char g_bin[512]; /* the build directory */

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", g_dir, name); }

static void tool(char *buf, size_t n, const char *rel) { snprintf(buf, n, "%s/%s", g_bin, rel); }

static int setup(void **state) {
    tu_build_dir(g_bin, sizeof g_bin);
    snprintf(g_dir, sizeof g_dir, "/tmp/rill-test-feedtap-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Kill and reap whatever is still running, remove the directory. */
static int teardown(void **state) {
    tu_kill_all(&g_procs);
    const char *names[] = { "events.csv", "events.jsonl", "tap.jsonl", "engine.out", "in",
                            "out", "rel", "feed.err", "engine.err", "tap.err" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        path_in(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

/* ---- the data and the oracle ------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) { return tu_xorshift64(&rng_state); }

typedef struct row {
    int64_t ts;
    int key;
    char value[32]; /* as written */
} row;

typedef struct oracle {
    int64_t base;
    uint64_t count[N_KEYS][MAX_WINS];
    double sum[N_KEYS][MAX_WINS];
    bool seen[N_KEYS][MAX_WINS];
} oracle;

static row *make_rows(size_t n, oracle *o) {
    row *rows = calloc(n, sizeof *rows);
    assert_non_null(rows);
    int64_t t0 = 1700000000000;
    o->base = t0;
    for (size_t i = 0; i < n; i++) {
        /* up to 2 s out of order; the engine allows 3 s */
        rows[i].ts = t0 + 2000 + (int64_t)i * 7 - (int64_t)(rnd() % 2000);
        rows[i].key = (int)(rnd() % N_KEYS);
        snprintf(rows[i].value, sizeof rows[i].value, "%.2f",
                 (double)(int64_t)(rnd() % 200001 - 100000) / 100.0);
        int64_t w = (rows[i].ts - o->base) / WINDOW_MS;
        assert_true(w >= 0 && w < MAX_WINS);
        o->count[rows[i].key][w]++;
        o->sum[rows[i].key][w] += strtod(rows[i].value, NULL);
    }
    return rows;
}

static void write_csv(const char *path, const row *rows, size_t n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "ts,key,value,note\r\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%lld,\"u,%d\",%s,\"said \"\"hi, there\"\"\nover two lines\"\r\n",
                (long long)rows[i].ts, rows[i].key, rows[i].value);
    fclose(f);
}

static void write_jsonl(const char *path, const row *rows, size_t n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "{\"ts\": %lld, \"key\": \"u,%d\", \"value\": %s}\n", (long long)rows[i].ts,
                rows[i].key, rows[i].value);
    fclose(f);
}

/* ---- reading the tap's output ---------------------------------------------------------- */

/* Lines of the tap file parsed; calls fn on each object. */
typedef void (*line_fn)(json_t *obj, void *user);

static size_t read_tap(const char *path, line_fn fn, void *user) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* a line still being written */
        json_error_t err;
        json_t *obj = json_loads(line, 0, &err);
        if (!obj) fail_msg("tap line is not JSON: %s (%s)", line, err.text);
        fn(obj, user);
        json_decref(obj);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

typedef struct metrics_seen {
    bool any;
    json_int_t decoded, rejected, late, duplicates;
    bool final;
} metrics_seen;

static void on_metrics(json_t *obj, void *user) {
    metrics_seen *m = user;
    if (strcmp(json_string_value(json_object_get(obj, "topic")), "metrics")) return;
    m->any = true;
    m->decoded = json_integer_value(json_object_get(obj, "decoded"));
    m->rejected = json_integer_value(json_object_get(obj, "rejected"));
    m->late = json_integer_value(json_object_get(obj, "late"));
    m->duplicates = json_integer_value(json_object_get(obj, "duplicates"));
    m->final = m->final || json_is_true(json_object_get(obj, "final"));
}

static metrics_seen last_metrics(const char *path) {
    metrics_seen m = { 0 };
    read_tap(path, on_metrics, &m);
    return m;
}

typedef struct check_ctx {
    oracle *o;
    uint64_t seed;
    size_t records;
} check_ctx;

static void on_stats(json_t *obj, void *user) {
    check_ctx *c = user;
    oracle *o = c->o;
    if (strcmp(json_string_value(json_object_get(obj, "topic")), "stats")) return;
    assert_string_equal(json_string_value(json_object_get(obj, "op")), "stats");
    const char *key = json_string_value(json_object_get(obj, "key"));
    assert_non_null(key);
    int k = -1;
    if (sscanf(key, "u,%d", &k) != 1 || k < 0 || k >= N_KEYS)
        fail_msg("unexpected key '%s' (seed %llu)", key, (unsigned long long)c->seed);
    json_int_t start = json_integer_value(json_object_get(obj, "start"));
    json_int_t end = json_integer_value(json_object_get(obj, "end"));
    assert_int_equal(end - start, WINDOW_MS);
    /* windows are aligned to multiples of their size; the oracle's base is
     * one such multiple */
    assert_int_equal(o->base % WINDOW_MS, 0);
    int64_t w = (start - o->base) / WINDOW_MS;
    if (w < 0 || w >= MAX_WINS || (start - o->base) % WINDOW_MS)
        fail_msg("window %lld of key %s is not one of the input (seed %llu)", (long long)start, key,
                 (unsigned long long)c->seed);
    if (o->seen[k][w])
        fail_msg("two records for key %s window %lld (seed %llu)", key, (long long)start,
                 (unsigned long long)c->seed);
    o->seen[k][w] = true;
    json_int_t count = json_integer_value(json_object_get(obj, "count"));
    double sum = json_number_value(json_object_get(obj, "sum"));
    double mean = json_number_value(json_object_get(obj, "mean"));
    if ((uint64_t)count != o->count[k][w])
        fail_msg("key %s window %lld: count %lld, expected %llu (seed %llu)", key, (long long)start,
                 (long long)count, (unsigned long long)o->count[k][w], (unsigned long long)c->seed);
    double want = o->sum[k][w];
    if (fabs(sum - want) > 1e-9 * (1 + fabs(want)) ||
        fabs(mean - want / (double)count) > 1e-9 * (1 + fabs(want)))
        fail_msg("key %s window %lld: sum %.17g mean %.17g, expected %.17g (seed %llu)", key,
                 (long long)start, sum, mean, want, (unsigned long long)c->seed);
    c->records++;
}

/* ---- the pipeline -------------------------------------------------------------------- */

typedef enum mode {
    CSV_PULL,       /* CSV over a PULL source */
    JSONL_RELIABLE, /* JSON lines over a reliable source */
    CSV_STALLED,    /* CSV over a reliable source whose engine stops (SIGSTOP)
                       for a while: rill-feed resends, the engine drops the
                       duplicates, every event still counts once */
} mode;

/* engine -> tap -> feed -> SIGTERM -> compare. */
static void pipeline(mode md) {
    uint64_t seed = getenv("RILL_TEST_SEED") ? strtoull(getenv("RILL_TEST_SEED"), NULL, 10)
                                             : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    rng_state = seed | 1;
    printf("pipeline (%s): seed %llu\n",
           md == CSV_PULL ? "CSV" : md == JSONL_RELIABLE ? "reliable, JSON lines" : "reliable, stalled",
           (unsigned long long)seed);
    static oracle o;
    memset(&o, 0, sizeof o);
    size_t n = 3000;
    row *rows = make_rows(n, &o);
    char csv[128], jsonl[128], tapf[128], in_ep[160], out_ep[160], rel_ep[160];
    path_in(csv, sizeof csv, "events.csv");
    path_in(jsonl, sizeof jsonl, "events.jsonl");
    path_in(tapf, sizeof tapf, "tap.jsonl");
    snprintf(in_ep, sizeof in_ep, "ipc://%s/in", g_dir);
    snprintf(out_ep, sizeof out_ep, "ipc://%s/out", g_dir);
    snprintf(rel_ep, sizeof rel_ep, "ipc://%s/rel", g_dir);
    write_csv(csv, rows, n);
    write_jsonl(jsonl, rows, n);
    unlink(tapf);

    /* the engine; it says "ready" once its sockets are bound */
    char engine[600], feed[600], tap[600];
    tool(engine, sizeof engine, "examples/rill-engine-example");
    tool(feed, sizeof feed, "tools/rill-feed");
    tool(tap, sizeof tap, "tools/rill-tap");
    int p[2];
    assert_int_equal(pipe(p), 0);
    char *eargv[] = { engine, "--in", in_ep, "--out", out_ep, "--reliable", rel_ep,
                      "--window-ms", "1000", "--ooo-ms", "3000", "--metrics-ms", "100",
                      "--memory-state", NULL };
    pid_t epid = tu_spawn(&g_procs, eargv, p[1], -1);
    close(p[1]);
    char buf[4096] = "";
    size_t got = 0;
    int64_t until = tu_now_ms() + 10000;
    while (!strstr(buf, "ready\n")) {
        struct pollfd pfd = { .fd = p[0], .events = POLLIN };
        if (tu_now_ms() > until || poll(&pfd, 1, 100) < 0) fail_msg("the engine did not get ready");
        if (!(pfd.revents & (POLLIN | POLLHUP))) continue;
        ssize_t r = read(p[0], buf + got, sizeof buf - 1 - got);
        if (r <= 0) fail_msg("the engine exited before it was ready");
        got += (size_t)r;
        buf[got] = 0;
    }
    close(p[0]);
    char want_line[200];
    snprintf(want_line, sizeof want_line, "sink %s\n", out_ep);
    assert_non_null(strstr(buf, want_line));

    /* the tap: window records and metrics, exits 3 s after the last one */
    int tfd = open(tapf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(tfd >= 0);
    char *targv[] = { tap, "-e", out_ep, "-t", "3000", "stats", "metrics", NULL };
    pid_t tpid = tu_spawn(&g_procs, targv, tfd, -1);
    close(tfd);
    /* subscribed once a metrics record came through */
    until = tu_now_ms() + 10000;
    while (!last_metrics(tapf).any) {
        if (tu_now_ms() > until) fail_msg("rill-tap printed no metrics record within 10 s");
        usleep(20000);
    }

    /* the feed */
    char *fargv_csv[] = { feed, "-e", in_ep, "-b", "50", "-q", csv, NULL };
    char *fargv_rel[] = { feed, "-e", rel_ep, "--reliable", "--producer", "test-feed", "-b", "40",
                          "-q", jsonl, NULL };
    char *fargv_stall[] = { feed, "-e", rel_ep, "--reliable", "--producer", "test-feed", "-b", "20",
                            "--rate", "4000", "--ack-timeout", "150", "-q", csv, NULL };
    char ferr[128];
    path_in(ferr, sizeof ferr, "feed.err");
    int efd = open(ferr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(efd >= 0);
    pid_t fpid = tu_spawn(&g_procs, md == CSV_PULL ? fargv_csv : md == JSONL_RELIABLE ? fargv_rel : fargv_stall,
                       -1, efd);
    close(efd);
    if (md == CSV_STALLED) {
        usleep(200000);
        assert_int_equal(kill(epid, SIGSTOP), 0);
        usleep(700000);
        assert_int_equal(kill(epid, SIGCONT), 0);
    }
    int frc = tu_wait_exit(&g_procs, fpid, 30000);
    FILE *ef = fopen(ferr, "r");
    assert_non_null(ef);
    char summary[1024] = "";
    while (fgets(summary, sizeof summary, ef) && !strstr(summary, "rill-feed: sent")) {}
    fclose(ef);
    printf("%s", summary);
    assert_int_equal(frc, 0);
    unsigned long long resent = 0;
    const char *rs = strstr(summary, " resent");
    if (rs) {
        while (rs > summary && rs[-1] >= '0' && rs[-1] <= '9') rs--;
        resent = strtoull(rs, NULL, 10);
    }
    if (md == CSV_STALLED) assert_true(resent > 0);

    /* all events in, then SIGTERM: drain, flush, exit 0 */
    until = tu_now_ms() + 10000;
    for (;;) {
        metrics_seen m = last_metrics(tapf);
        if (m.decoded == (json_int_t)n) break;
        if (tu_now_ms() > until) fail_msg("the engine decoded %lld of %zu events", (long long)m.decoded, n);
        usleep(20000);
    }
    assert_int_equal(kill(epid, SIGTERM), 0);
    assert_int_equal(tu_wait_exit(&g_procs, epid, 15000), 0);
    /* the tap times out 3 s after the engine's last record and exits 0 */
    assert_int_equal(tu_wait_exit(&g_procs, tpid, 15000), 0);

    metrics_seen m = last_metrics(tapf);
    assert_true(m.final);
    if (md == CSV_STALLED) assert_true(m.duplicates > 0);
    else assert_int_equal(m.duplicates, 0);
    assert_int_equal(m.decoded, n);
    assert_int_equal(m.rejected, 0);
    assert_int_equal(m.late, 0);
    check_ctx c = { .o = &o, .seed = seed };
    read_tap(tapf, on_stats, &c);
    for (int k = 0; k < N_KEYS; k++)
        for (int w = 0; w < MAX_WINS; w++)
            if (o.count[k][w] && !o.seen[k][w])
                fail_msg("no record for key u,%d window %lld (seed %llu)", k,
                         (long long)(o.base + (int64_t)w * WINDOW_MS), (unsigned long long)seed);
    assert_true(c.records > 0);
    free(rows);
}

static void test_csv_pipeline(void **state) { pipeline(CSV_PULL); }
static void test_reliable_jsonl_pipeline(void **state) { pipeline(JSONL_RELIABLE); }
static void test_reliable_stalled_pipeline(void **state) { pipeline(CSV_STALLED); }

/* Exit statuses of the tools, as their --help documents them. */
static void test_tool_exit_codes(void **state) {
    char feed[600], tap[600], csv[128], missing[128], errf[128];
    tool(feed, sizeof feed, "tools/rill-feed");
    tool(tap, sizeof tap, "tools/rill-tap");
    path_in(csv, sizeof csv, "events.csv");
    path_in(missing, sizeof missing, "no-such-file.csv");
    path_in(errf, sizeof errf, "feed.err");
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "ts,key,value\n1000,a,1.5\nnot-a-time,b,2\n");
    fclose(f);
    int efd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(efd >= 0 && devnull >= 0);

    char *help[] = { feed, "--help", NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, help, devnull, efd), 10000), 0);
    char *thelp[] = { tap, "--help", NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, thelp, devnull, efd), 10000), 0);
    char *usage[] = { feed, "--batch", "zero", csv, NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, usage, devnull, efd), 10000), 1);
    char *nofile[] = { feed, missing, NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, nofile, devnull, efd), 10000), 2);
    char *badep[] = { feed, "-e", "nonsense://here", csv, NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, badep, devnull, efd), 10000), 3);
    /* nobody listens at this path: no peer within the timeout */
    char nobody[160];
    snprintf(nobody, sizeof nobody, "ipc://%s/nobody", g_dir);
    char *unreach[] = { feed, "-e", nobody, "-t", "300", csv, NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, unreach, devnull, efd), 10000), 3);
    char *tunreach[] = { tap, "-e", nobody, "-t", "300", NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, tunreach, devnull, efd), 10000), 3);
    char *tbad[] = { tap, "-e", "nonsense://here", NULL };
    assert_int_equal(tu_wait_exit(&g_procs, tu_spawn(&g_procs, tbad, devnull, efd), 10000), 3);
    close(efd);
    close(devnull);

    /* the errors say what was wrong */
    f = fopen(errf, "r");
    assert_non_null(f);
    char all[8192];
    size_t len = fread(all, 1, sizeof all - 1, f);
    all[len] = 0;
    fclose(f);
    assert_non_null(strstr(all, "no-such-file.csv"));
    assert_non_null(strstr(all, "nonsense://here"));
    assert_non_null(strstr(all, nobody));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reliable_jsonl_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reliable_stalled_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_exit_codes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
