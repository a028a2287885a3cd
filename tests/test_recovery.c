/* tests/test_recovery.c — crash recovery of the engine on a RocksDB state:
 * nothing acknowledged is lost, nothing is counted twice.
 *
 * The crash test writes a CSV of a few hundred thousand events, feeds it
 * with a reliable rill-feed to rill-engine-example (RocksDB state in a fresh
 * temporary directory, window records to a JSON-lines file), kills the
 * engine with SIGKILL at several random moments and restarts it on the same
 * directory each time; after a last SIGTERM (which flushes every open
 * window) the window records, deduplicated by (key, window) keeping the
 * last one, must equal a brute-force recomputation of the CSV exactly, and
 * rill-feed must exit 0 (everything acknowledged). Records emitted after
 * the last commit before a kill are emitted again after the restart
 * (at-least-once output over exactly-once state): the dedup is what a
 * consumer of the JSON lines does too.
 *
 * In-process tests (the engine on a thread, a DEALER socket as the reliable
 * producer, the same JSON-lines comparison):
 *   - an injected failure of the Nth commit of a plan on RocksDB is
 *     reported, and a plan compiled again on the store resumes from the
 *     last good commit exactly;
 *   - the same through the engine: no ack for the batch whose commit
 *     failed, rill_engine_run() returns the error, a restart resumes;
 *   - a state directory on a 1 MiB tmpfs fills up: RILL_EIO with RocksDB's
 *     "No space left" text, no ack beyond the last good commit, and a copy
 *     of the directory restarts from it (skipped where mounting is refused);
 *   - a different graph on a state directory fails with
 *     RILL_ESTATE_MISMATCH naming the first difference (or starts afresh
 *     with discard_mismatched_state); the same graph resumes exactly;
 *   - bad state directories fail rill_engine_new() with a clear error;
 *   - after a restart, a producer the checkpoint does not know starts only
 *     at seq 1 or at its resend.
 * RILL_TEST_SEED=<n> replays the random choices; RILL_RECOVERY_EVENTS=<n>
 * changes the crash test's size. Every child process is killed and reaped,
 * the tmpfs unmounted and the directory removed even when a check fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "rill/rill.h"
#include "state/state.h" /* rill__state_fail_commit */
#include "test_util.h"

#define WINDOW_MS 1000

/* ---- common ------------------------------------------------------------------------ */

static char g_dir[64];
static char g_bin[512];
static char g_mnt[128]; /* a tmpfs mounted by a test, "" if none */
static tu_procs g_procs; /* children not reaped yet, killed by teardown */
static void *g_ctx;
static void *g_socks[16]; /* open DEALER sockets, closed by teardown */
static size_t g_n_socks;
/* Engines on threads a failed check left running: stopped and freed. */
static struct running *g_runs[4];
static size_t g_n_runs;
static void stop_engines(void);
static uint64_t g_rng;

static uint64_t rnd(void) { return tu_xorshift64s(&g_rng); }

static uint64_t seed_for(const char *test) {
    const char *e = getenv("RILL_TEST_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    g_rng = seed * 2 + 1;
    printf("%s: seed %llu (RILL_TEST_SEED=%llu replays it)\n", test, (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", g_dir, name); }

static int setup(void **state) {
    tu_build_dir(g_bin, sizeof g_bin);
    snprintf(g_dir, sizeof g_dir, "/tmp/rill-test-recovery-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    g_mnt[0] = 0;
    signal(SIGPIPE, SIG_IGN);
    g_ctx = zmq_ctx_new();
    return g_ctx ? 0 : -1;
}

static int teardown(void **state) {
    tu_kill_all(&g_procs);
    stop_engines();
    for (size_t i = 0; i < g_n_socks; i++) zmq_close(g_socks[i]);
    g_n_socks = 0;
    if (g_mnt[0]) {
        umount(g_mnt);
        g_mnt[0] = 0;
    }
    if (g_ctx) zmq_ctx_term(g_ctx);
    g_ctx = NULL;
    tu_rm_rf(g_dir);
    return 0;
}

/* ---- the stream and its oracle -------------------------------------------------------- */

typedef struct ev {
    int64_t ts, key;
    double value; /* a multiple of 0.25: every sum is exact in any order */
} ev;

/* Events in time order (several per ms at times), keys 0..n_keys-1. */
static ev *make_stream(size_t n, int n_keys, int64_t t0) {
    ev *e = malloc(n * sizeof *e);
    assert_non_null(e);
    int64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        t += (int64_t)(rnd() % 3);
        e[i].ts = t;
        e[i].key = (int64_t)(rnd() % (uint64_t)n_keys);
        e[i].value = (double)((int64_t)(rnd() % 4001) - 2000) / 4.0;
    }
    return e;
}

/* (key, window start) -> aggregates; open addressing, grows. */
typedef struct wrec {
    int64_t key, start;
    int64_t count;
    double sum, mean;
    unsigned seen; /* records received for it (outputs) */
    bool used;
} wrec;

typedef struct wmap {
    wrec *a;
    size_t cap, n;
} wmap;

static uint64_t wh(int64_t key, int64_t start) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL ^ (uint64_t)start * 0xC2B2AE3D27D4EB4FULL;
    return h ^ (h >> 29);
}

static wrec *wmap_get(wmap *m, int64_t key, int64_t start) {
    if (2 * (m->n + 1) > m->cap) {
        wmap g = { calloc(m->cap ? 2 * m->cap : 1024, sizeof(wrec)), m->cap ? 2 * m->cap : 1024, 0 };
        assert_non_null(g.a);
        for (size_t i = 0; i < m->cap; i++)
            if (m->a[i].used) *wmap_get(&g, m->a[i].key, m->a[i].start) = m->a[i];
        free(m->a);
        *m = g;
    }
    size_t i = (size_t)wh(key, start) & (m->cap - 1);
    while (m->a[i].used && (m->a[i].key != key || m->a[i].start != start)) i = (i + 1) & (m->cap - 1);
    if (!m->a[i].used) {
        m->a[i] = (wrec){ .key = key, .start = start, .used = true };
        m->n++;
    }
    return &m->a[i];
}

static wrec *wmap_find(const wmap *m, int64_t key, int64_t start) {
    if (!m->cap) return NULL;
    size_t i = (size_t)wh(key, start) & (m->cap - 1);
    while (m->a[i].used) {
        if (m->a[i].key == key && m->a[i].start == start) return &m->a[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static void wmap_free(wmap *m) {
    free(m->a);
    *m = (wmap){ 0 };
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The tumbling-window count/sum/mean of events [from, to), brute force. */
static void oracle_add(wmap *o, const ev *e, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        wrec *w = wmap_get(o, e[i].key, floor_div(e[i].ts, WINDOW_MS) * WINDOW_MS);
        w->count++;
        w->sum += e[i].value;
    }
}

/* Read the "stats" records of a JSON-lines file into out, the last record
 * of each (key, window) winning. Lines that do not parse (a line torn by a
 * SIGKILL) are counted in *torn. Returns the number of records. */
static size_t read_outputs(const char *path, wmap *out, size_t *torn) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, records = 0;
    ssize_t n;
    if (torn) *torn = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!o) {
            if (torn) (*torn)++;
            continue;
        }
        const char *topic = json_string_value(json_object_get(o, "topic"));
        if (topic && !strcmp(topic, "stats")) {
            json_t *k = json_object_get(o, "key");
            assert_true(json_is_integer(k));
            int64_t start = json_integer_value(json_object_get(o, "start"));
            assert_int_equal(json_integer_value(json_object_get(o, "end")), start + WINDOW_MS);
            wrec *w = wmap_get(out, json_integer_value(k), start);
            w->count = json_integer_value(json_object_get(o, "count"));
            w->sum = json_number_value(json_object_get(o, "sum"));
            w->mean = json_number_value(json_object_get(o, "mean"));
            w->seen++;
            records++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return records;
}

/* Every oracle window has exactly its count and sum in out, and out has no
 * window the oracle lacks. */
static void expect_equal(const wmap *oracle, const wmap *out, uint64_t seed) {
    size_t repeated = 0;
    for (size_t i = 0; i < oracle->cap; i++) {
        const wrec *w = &oracle->a[i];
        if (!w->used) continue;
        const wrec *g = wmap_find(out, w->key, w->start);
        if (!g)
            fail_msg("key %lld window %lld: no record (lost events; seed %llu)", (long long)w->key,
                     (long long)w->start, (unsigned long long)seed);
        if (g->count != w->count || g->sum != w->sum)
            fail_msg("key %lld window %lld: count %lld sum %.2f, expected count %lld sum %.2f "
                     "(seed %llu)",
                     (long long)w->key, (long long)w->start, (long long)g->count, g->sum,
                     (long long)w->count, w->sum, (unsigned long long)seed);
        double mean = w->sum / (double)w->count;
        if (fabs(g->mean - mean) > 1e-9 * (1 + fabs(mean)))
            fail_msg("key %lld window %lld: mean %.17g, expected %.17g (seed %llu)", (long long)w->key,
                     (long long)w->start, g->mean, mean, (unsigned long long)seed);
        repeated += g->seen > 1;
    }
    if (out->n != oracle->n)
        fail_msg("%zu windows in the output, %zu in the oracle (seed %llu)", out->n, oracle->n,
                 (unsigned long long)seed);
    printf("  %zu windows equal the oracle (%zu of them emitted more than once)\n", oracle->n, repeated);
}

/* ---- the crash test (processes) ----------------------------------------------------- */

static bool running_still(pid_t pid) { return waitpid(pid, NULL, WNOHANG) == 0; }

/* Start the example engine and wait for its "ready" line. */
static pid_t start_engine(char *const argv[], int err_fd) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = tu_spawn(&g_procs, argv, p[1], err_fd);
    close(p[1]);
    char buf[4096] = "";
    size_t got = 0;
    int64_t until = tu_now_ms() + 20000;
    while (!strstr(buf, "ready\n")) {
        struct pollfd pfd = { .fd = p[0], .events = POLLIN };
        if (tu_now_ms() > until || poll(&pfd, 1, 100) < 0) fail_msg("the engine did not get ready");
        if (!(pfd.revents & (POLLIN | POLLHUP))) continue;
        ssize_t r = read(p[0], buf + got, sizeof buf - 1 - got);
        if (r <= 0) fail_msg("the engine exited before it was ready (see %s/engine.err)", g_dir);
        got += (size_t)r;
        buf[got] = 0;
    }
    close(p[0]);
    return pid;
}

static void test_crash_recovery(void **state) {
    uint64_t seed = seed_for("crash_recovery");
    const char *ne = getenv("RILL_RECOVERY_EVENTS");
    size_t n = ne ? (size_t)strtoull(ne, NULL, 10) : 300000;
    const int n_keys = 200;
    ev *evs = make_stream(n, n_keys, 1700000000000LL);
    char csv[128], jsonl[128], sdir[128], errf[128], ferr[128];
    path_in(csv, sizeof csv, "events.csv");
    path_in(jsonl, sizeof jsonl, "out.jsonl");
    path_in(sdir, sizeof sdir, "state");
    path_in(errf, sizeof errf, "engine.err");
    path_in(ferr, sizeof ferr, "feed.err");
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fprintf(f, "ts,key,value\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%lld,%lld,%.2f\n", (long long)evs[i].ts, (long long)evs[i].key, evs[i].value);
    assert_int_equal(fclose(f), 0);

    char engine[600], feed[600], in_ep[160], out_ep[160], rel_ep[160];
    snprintf(engine, sizeof engine, "%s/examples/rill-engine-example", g_bin);
    snprintf(feed, sizeof feed, "%s/tools/rill-feed", g_bin);
    snprintf(in_ep, sizeof in_ep, "ipc://%s/in", g_dir);
    snprintf(out_ep, sizeof out_ep, "ipc://%s/out", g_dir);
    snprintf(rel_ep, sizeof rel_ep, "ipc://%s/rel", g_dir);
    /* commits every 50 batches or 150 ms: a kill loses up to that much
     * applied but uncommitted work, which the restart must replay */
    char *eargv[] = { engine, "--in", in_ep, "--out", out_ep, "--reliable", rel_ep, "--jsonl", jsonl,
                      "--state-dir", sdir, "--window-ms", "1000", "--metrics-ms", "600000",
                      "--commit-batches", "50", "--commit-ms", "150", NULL };
    int efd = open(errf, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int ffd = open(ferr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(efd >= 0 && ffd >= 0);
    pid_t epid = start_engine(eargv, efd);

    /* paced to last about 8 s, so that the kills land while it feeds */
    char rate[32];
    snprintf(rate, sizeof rate, "%zu", n / 8 > 1000 ? n / 8 : 1000);
    char *fargv[] = { feed, "-e", rel_ep, "--reliable", "--producer", "crash-feed", "-b", "100",
                      "--rate", rate, "--ack-timeout", "300", "--retries", "100000", "-t", "60000",
                      "-q", csv, NULL };
    int64_t t0 = tu_now_ms();
    pid_t fpid = tu_spawn(&g_procs, fargv, -1, ffd);

    int kills = 3 + (int)(rnd() % 3), during = 0;
    for (int k = 0; k < kills; k++) {
        int wait = 200 + (int)(rnd() % 900);
        tu_sleep_ms(wait);
        bool feeding = running_still(fpid);
        during += feeding;
        assert_int_equal(kill(epid, SIGKILL), 0);
        int st;
        assert_int_equal(waitpid(epid, &st, 0), epid);
        tu_forget(&g_procs, epid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        printf("  SIGKILL %d at %.2f s (%s); restarting on the same state\n", k + 1,
               (double)(tu_now_ms() - t0) / 1000.0, feeding ? "while feeding" : "feed done");
        fflush(stdout);
        epid = start_engine(eargv, efd);
    }
    int frc = tu_wait_exit(&g_procs, fpid, 100000);
    if (frc != 0) fail_msg("rill-feed exited %d (see %s; seed %llu)", frc, ferr, (unsigned long long)seed);
    assert_true(during >= 1);
    assert_int_equal(kill(epid, SIGTERM), 0);
    assert_int_equal(tu_wait_exit(&g_procs, epid, 60000), 0);
    close(efd);
    close(ffd);
    printf("  fed, killed %d times (%d while feeding) and flushed in %.1f s\n", kills, during,
           (double)(tu_now_ms() - t0) / 1000.0);
    char line[512];
    f = fopen(errf, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strstr(line, "decoded")) printf("  last run: %s", strstr(line, ": ") + 2);
    fclose(f);
    f = fopen(ferr, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strstr(line, "acknowledged")) printf("  feed: %s", line + strlen("rill-feed: "));
    fclose(f);

    wmap oracle = { 0 }, out = { 0 };
    oracle_add(&oracle, evs, 0, n);
    size_t torn;
    size_t records = read_outputs(jsonl, &out, &torn);
    printf("  %zu records read, %zu torn lines skipped\n", records, torn);
    expect_equal(&oracle, &out, seed);
    wmap_free(&oracle);
    wmap_free(&out);
    free(evs);
}

/* ---- in-process engines ------------------------------------------------------------- */

static rill_graph *make_graph(int64_t window_ms) {
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_graph *g = rill_graph_new();
    assert_true(s && g);
    assert_int_equal(rill_graph_source(g, "events", s, NULL), RILL_OK);
    rill_schema_free(s);
    rill_agg_spec aggs[] = {
        { .kind = RILL_AGG_COUNT, .name = "count" },
        { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" },
        { .kind = RILL_AGG_MEAN, .field = "value", .name = "mean" },
    };
    rill_window_opts wo = { .window = rill_tumbling(window_ms), .aggs = aggs, .n_aggs = 3 };
    assert_int_equal(rill_graph_window(g, "stats", "events", &wo), RILL_OK);
    return g;
}

typedef struct running {
    rill_engine *e;
    pthread_t th;
    int rc;
    bool joined;
} running;

static void *run_thread(void *arg) {
    running *r = arg;
    r->rc = rill_engine_run(r->e);
    return NULL;
}

static void track(running *r) {
    assert_true(g_n_runs < sizeof g_runs / sizeof g_runs[0]);
    r->joined = false;
    g_runs[g_n_runs++] = r;
}

static void stop_engines(void) {
    for (size_t i = 0; i < g_n_runs; i++) {
        running *r = g_runs[i];
        if (!r->joined) {
            rill_engine_stop(r->e);
            pthread_join(r->th, NULL);
        }
        rill_engine_free(r->e);
    }
    g_n_runs = 0;
}

/* Forget r (after its engine was freed). */
static void untrack(running *r) {
    for (size_t i = 0; i < g_n_runs; i++)
        if (g_runs[i] == r) g_runs[i] = g_runs[--g_n_runs];
}

static void free_engine(running *r) {
    untrack(r);
    rill_engine_free(r->e);
    r->e = NULL;
}

/* An engine for make_graph(WINDOW_MS) with a reliable source at rel and a
 * JSON-lines sink to jsonl, with the state options of *so, running on a
 * thread. */
static void start(running *r, const char *rel, const char *jsonl, const rill_engine_opts *so) {
    rill_engine_source src = { .source = "events", .kind = RILL_SOURCE_ROUTER, .endpoint = rel };
    const char *outs[] = { "stats" };
    rill_engine_sink snk = { .kind = RILL_SINK_JSONL, .endpoint = jsonl, .outputs = outs, .n_outputs = 1 };
    rill_engine_opts o = *so;
    o.sources = &src;
    o.n_sources = 1;
    o.sinks = &snk;
    o.n_sinks = 1;
    o.no_signal_handlers = true;
    o.metrics_interval_ms = -1;
    char err[1024];
    rill_graph *g = make_graph(WINDOW_MS);
    int rc = rill_engine_new(g, &o, &r->e, err, sizeof err);
    rill_graph_free(g);
    if (rc != RILL_OK) fail_msg("rill_engine_new: %s: %s", rill_errname(rc), err);
    r->rc = 1;
    assert_int_equal(pthread_create(&r->th, NULL, run_thread, r), 0);
    track(r);
}

/* Stop (or wait for the end of) r; its status. */
static int finish(running *r, bool stop) {
    if (stop) rill_engine_stop(r->e);
    pthread_join(r->th, NULL);
    r->joined = true;
    return r->rc;
}

static void *dealer(const char *id, const char *ep) {
    void *d = zmq_socket(g_ctx, ZMQ_DEALER);
    assert_non_null(d);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    assert_int_equal(zmq_connect(d, ep), 0);
    assert_true(g_n_socks < sizeof g_socks / sizeof g_socks[0]);
    g_socks[g_n_socks++] = d;
    return d;
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

static void pack_string(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Events [from, to) as one message [seq, array of maps]. */
static void send_msg(void *d, uint64_t seq, const ev *e, size_t from, size_t to) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, to - from);
    for (size_t i = from; i < to; i++) {
        msgpack_pack_map(&pk, 3);
        pack_string(&pk, "ts");
        msgpack_pack_int64(&pk, e[i].ts);
        pack_string(&pk, "key");
        msgpack_pack_int64(&pk, e[i].key);
        pack_string(&pk, "value");
        msgpack_pack_double(&pk, e[i].value);
    }
    unsigned char s[8];
    put_be64(s, seq);
    assert_int_equal(zmq_send(d, s, 8, ZMQ_SNDMORE), 8);
    assert_int_equal(zmq_send(d, sb.data, sb.size, 0), (int)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Wait up to ms for an ack covering seq; acks seen go to acked[] (indexed
 * by seq, up to max). */
static bool wait_ack(void *d, uint64_t seq, int ms, unsigned *acked, uint64_t max) {
    int64_t until = tu_now_ms() + ms;
    while (!acked[seq]) {
        int left = (int)(until - tu_now_ms());
        if (left <= 0) return false;
        zmq_pollitem_t it = { .socket = d, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, left) <= 0) continue;
        unsigned char a[32];
        int n = zmq_recv(d, a, sizeof a, 0);
        assert_int_equal(n, 16);
        uint64_t first = get_be64(a), last = get_be64(a + 8);
        assert_true(first >= 1 && first <= last && last <= max);
        for (uint64_t q = first; q <= last; q++) acked[q]++;
    }
    return true;
}

/* message q (1..m) holds events [bounds[q - 1], bounds[q]) */
static size_t *cut_messages(size_t m, size_t max_per) {
    size_t *b = malloc((m + 1) * sizeof *b);
    assert_non_null(b);
    b[0] = 0;
    for (size_t q = 1; q <= m; q++) b[q] = b[q - 1] + 1 + (size_t)(rnd() % max_per);
    return b;
}

/* The Nth commit of a plan on RocksDB fails: the plan reports it and stops;
 * a plan compiled again on the reopened store resumes from commit N - 1 and,
 * fed what came after it, ends exactly where a run without failure would. */
typedef struct collect_ctx { wmap *out; } collect_ctx;

static void on_record(const rill_record *r, void *user) {
    wmap *out = user;
    wrec *w = wmap_get(out, r->key.as.i64, r->start);
    w->count = r->values[0].as.i64;
    w->sum = r->values[1].as.f64;
    w->mean = r->values[2].as.f64;
    w->seen++;
}

static void push_events(rill_plan *p, const ev *e, size_t from, size_t to) {
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_batch *b = rill_batch_new(s, to - from + 1);
    assert_true(s && b);
    for (size_t i = from; i < to; i++) {
        assert_int_equal(rill_batch_append(b, e[i].ts, rill_i64(e[i].key)), RILL_OK);
        assert_int_equal(rill_batch_set_f64(b, 0, e[i].value), RILL_OK);
    }
    int rc = rill_plan_push(p, "events", b);
    if (rc) fail_msg("push: %s", rill_plan_errmsg(p));
    rill_batch_free(b);
    rill_schema_free(s);
}

static rill_plan *compile_on(rill_state *st, wmap *out) {
    rill_graph *g = make_graph(WINDOW_MS);
    assert_int_equal(rill_graph_sink(g, "collect", "stats", on_record, out), RILL_OK);
    rill_plan_opts po = { .state = st };
    rill_plan *p;
    int rc = rill_graph_compile(g, &po, &p);
    if (rc) fail_msg("compile: %s", rill_graph_errmsg(g));
    rill_graph_free(g);
    return p;
}

static void test_plan_commit_failure(void **state) {
    uint64_t seed = seed_for("plan_commit_failure");
    const size_t chunks = 12;
    size_t *b = cut_messages(chunks, 400);
    ev *evs = make_stream(b[chunks], 30, 1000000);
    char sdir[128];
    path_in(sdir, sizeof sdir, "state");
    rill_state *st;
    assert_int_equal(rill_state_open_rocksdb(sdir, NULL, &st), RILL_OK);
    wmap out = { 0 };
    rill_plan *p = compile_on(st, &out);

    long nth = 2 + (long)(rnd() % 6); /* the commit after chunk nth fails */
    printf("  commit %ld fails\n", nth);
    rill__state_fail_commit(st, nth);
    size_t c = 0;
    int rc = RILL_OK;
    for (c = 1; c <= chunks; c++) {
        push_events(p, evs, b[c - 1], b[c]);
        rc = rill_plan_commit(p);
        if (rc) break;
    }
    assert_int_equal(c, (size_t)nth);
    assert_int_equal(rc, RILL_ESTATE);
    assert_non_null(strstr(rill_plan_errmsg(p), "injected"));
    printf("  reported: %s\n", rill_plan_errmsg(p));
    /* the plan stopped: nothing more runs on it */
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 1);
    rill_batch *one = rill_batch_new(s, 1);
    assert_int_equal(rill_batch_append(one, evs[b[c]].ts, rill_i64(1)), RILL_OK);
    assert_int_equal(rill_plan_push(p, "events", one), RILL_ESTATE);
    assert_int_equal(rill_plan_commit(p), RILL_ESTATE);
    rill_batch_free(one);
    rill_schema_free(s);
    rill_plan_free(p);
    rill_state_close(st);

    /* restart: the store holds the commits of chunks 1..nth-1 */
    assert_int_equal(rill_state_open_rocksdb(sdir, NULL, &st), RILL_OK);
    p = compile_on(st, &out);
    for (c = (size_t)nth; c <= chunks; c++) {
        push_events(p, evs, b[c - 1], b[c]);
        assert_int_equal(rill_plan_commit(p), RILL_OK);
    }
    assert_int_equal(rill_plan_flush(p), RILL_OK);
    rill_plan_free(p);
    rill_state_close(st);

    wmap oracle = { 0 };
    oracle_add(&oracle, evs, 0, b[chunks]);
    expect_equal(&oracle, &out, seed);
    wmap_free(&oracle);
    wmap_free(&out);
    free(evs);
    free(b);
}

/* The same through the engine: acks only for what was committed, the
 * failure ends rill_engine_run() with its message, a restart on the store
 * takes the producer's resends from its first unacknowledged message. */
static void test_engine_commit_failure(void **state) {
    uint64_t seed = seed_for("engine_commit_failure");
    const size_t m = 30;
    size_t *b = cut_messages(m, 50);
    ev *evs = make_stream(b[m], 20, 5000000);
    char sdir[128], jsonl[128], rel[160];
    path_in(sdir, sizeof sdir, "state");
    path_in(jsonl, sizeof jsonl, "out.jsonl");
    snprintf(rel, sizeof rel, "ipc://%s/rel", g_dir);
    rill_state *st;
    assert_int_equal(rill_state_open_rocksdb(sdir, NULL, &st), RILL_OK);
    static running r;
    rill_engine_opts so = { .state = st };
    long nth = 2 + (long)(rnd() % 10); /* message nth's commit fails */
    printf("  commit of message %ld fails\n", nth);
    rill__state_fail_commit(st, nth + 1); /* rill_engine_new commits once */
    start(&r, rel, jsonl, &so);
    void *d = dealer("p1", rel);
    unsigned acked[64] = { 0 };
    uint64_t q;
    for (q = 1; q <= m; q++) {
        send_msg(d, q, evs, b[q - 1], b[q]);
        if (!wait_ack(d, q, (long)q < nth ? 10000 : 500, acked, m)) break;
    }
    assert_int_equal(q, (uint64_t)nth);
    assert_int_equal(finish(&r, false), RILL_ESTATE); /* it stopped by itself */
    const char *msg = rill_engine_errmsg(r.e);
    printf("  rill_engine_run: %s\n", msg);
    assert_non_null(strstr(msg, "injected"));
    assert_non_null(strstr(msg, "stopped"));
    rill_engine_stats stats;
    rill_engine_get_stats(r.e, &stats);
    assert_int_equal(stats.acks, (uint64_t)nth - 1);
    for (uint64_t k = 1; k <= m; k++) assert_int_equal(acked[k], k < (uint64_t)nth ? 1 : 0);
    free_engine(&r);
    rill_state_close(st);

    /* a new engine on the store; the producer resends from nth */
    assert_int_equal(rill_state_open_rocksdb(sdir, NULL, &st), RILL_OK);
    so.state = st;
    start(&r, rel, jsonl, &so);
    for (q = (uint64_t)nth; q <= m; q++) {
        send_msg(d, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(d, q, 10000, acked, m));
    }
    assert_int_equal(finish(&r, true), RILL_OK);
    rill_engine_get_stats(r.e, &stats);
    assert_int_equal(stats.duplicates, 0);
    free_engine(&r);
    rill_state_close(st);

    wmap oracle = { 0 }, out = { 0 };
    oracle_add(&oracle, evs, 0, b[m]);
    read_outputs(jsonl, &out, NULL);
    expect_equal(&oracle, &out, seed);
    wmap_free(&oracle);
    wmap_free(&out);
    free(evs);
    free(b);
}

/* The state directory is on a 1 MiB tmpfs that fills up. */
static void test_full_disk(void **state) {
    uint64_t seed = seed_for("full_disk");
    char mnt[128], sdir[160], jsonl[128], rel[160], copy[128];
    path_in(mnt, sizeof mnt, "small");
    snprintf(sdir, sizeof sdir, "%s/state", mnt);
    path_in(jsonl, sizeof jsonl, "out.jsonl");
    path_in(copy, sizeof copy, "copy");
    snprintf(rel, sizeof rel, "ipc://%s/rel", g_dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        printf("  skipped: cannot mount a 1 MiB tmpfs (%s); the injected failures cover it\n",
               strerror(errno));
        skip();
    }
    snprintf(g_mnt, sizeof g_mnt, "%s", mnt);

    /* ~300 new keys per message: each commit adds ~20 KB to the log */
    const size_t m = 200, per = 300;
    ev *evs = make_stream(m * per, 1 << 30, 9000000);
    static running r;
    rill_engine_opts so = { .state_dir = sdir };
    start(&r, rel, jsonl, &so);
    void *d = dealer("full-feed", rel);
    static unsigned acked[256];
    memset(acked, 0, sizeof acked);
    uint64_t q;
    for (q = 1; q <= m; q++) {
        send_msg(d, q, evs, (q - 1) * per, q * per);
        if (!wait_ack(d, q, 5000, acked, m)) break;
    }
    uint64_t last_acked = q - 1;
    assert_true(q <= m);
    assert_true(last_acked >= 1);
    int rc = finish(&r, false);
    const char *msg = rill_engine_errmsg(r.e);
    printf("  after %llu acked messages: %s: %s\n", (unsigned long long)last_acked, rill_errname(rc), msg);
    assert_int_equal(rc, RILL_EIO);
    assert_non_null(strstr(msg, "No space left on device"));
    assert_non_null(strstr(msg, sdir));
    for (uint64_t k = 1; k <= m; k++) assert_int_equal(acked[k], k <= last_acked ? 1 : 0);
    free_engine(&r);

    /* what is on the full disk restarts (from a copy: the tmpfs has no room
     * to recover in place) at the last good commit: the producer resends
     * what was not acknowledged, and the windows end exact */
    tu_copy_dir(sdir, copy);
    so.state_dir = copy;
    start(&r, rel, jsonl, &so);
    for (q = last_acked + 1; q <= last_acked + 5 && q <= m; q++) {
        send_msg(d, q, evs, (q - 1) * per, q * per);
        assert_true(wait_ack(d, q, 10000, acked, m));
    }
    uint64_t sent = q - 1;
    assert_int_equal(finish(&r, true), RILL_OK);
    free_engine(&r);

    wmap oracle = { 0 }, out = { 0 };
    oracle_add(&oracle, evs, 0, sent * per);
    read_outputs(jsonl, &out, NULL);
    expect_equal(&oracle, &out, seed);
    wmap_free(&oracle);
    wmap_free(&out);
    free(evs);
}

/* A different graph on a state directory is refused, naming the first
 * difference; the same graph resumes exactly; discard starts afresh. */
static void test_mismatch_and_restart(void **state) {
    uint64_t seed = seed_for("mismatch_and_restart");
    const size_t m = 40;
    size_t *b = cut_messages(m, 80);
    ev *evs = make_stream(b[m], 25, 7000000);
    char sdir[128], jsonl[128], rel[160];
    path_in(sdir, sizeof sdir, "state");
    path_in(jsonl, sizeof jsonl, "out.jsonl");
    snprintf(rel, sizeof rel, "ipc://%s/rel", g_dir);
    unsigned acked[64] = { 0 };

    /* run 1: the first half; stop without firing the open windows */
    static running r;
    rill_engine_opts so = { .state_dir = sdir, .no_flush_on_stop = true };
    start(&r, rel, jsonl, &so);
    void *d = dealer("p1", rel);
    for (uint64_t q = 1; q <= m / 2; q++) {
        send_msg(d, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(d, q, 10000, acked, m));
    }
    assert_int_equal(finish(&r, true), RILL_OK);
    free_engine(&r);

    /* another graph (a 2 s window) on that directory */
    rill_graph *g = make_graph(2000);
    rill_engine_source src = { .source = "events", .kind = RILL_SOURCE_ROUTER, .endpoint = rel };
    rill_engine_opts o2 = { .sources = &src, .n_sources = 1, .state_dir = sdir };
    rill_engine *e;
    char err[1024];
    assert_int_equal(rill_engine_new(g, &o2, &e, err, sizeof err), RILL_ESTATE_MISMATCH);
    rill_graph_free(g);
    assert_null(e);
    printf("  %s\n", err);
    assert_non_null(strstr(err, "size=1000"));
    assert_non_null(strstr(err, "size=2000"));
    assert_non_null(strstr(err, sdir));
    assert_non_null(strstr(err, "discard_mismatched_state"));

    /* run 2: the same graph resumes; a resend of an acked message is a
     * duplicate; the second half; stop with a flush */
    so.no_flush_on_stop = false;
    start(&r, rel, jsonl, &so);
    acked[m / 2] = 0;
    send_msg(d, m / 2, evs, b[m / 2 - 1], b[m / 2]);
    assert_true(wait_ack(d, m / 2, 10000, acked, m));
    for (uint64_t q = m / 2 + 1; q <= m; q++) {
        send_msg(d, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(d, q, 10000, acked, m));
    }
    assert_int_equal(finish(&r, true), RILL_OK);
    rill_engine_stats stats;
    rill_engine_get_stats(r.e, &stats);
    assert_int_equal(stats.duplicates, 1);
    free_engine(&r);

    wmap oracle = { 0 }, out = { 0 };
    oracle_add(&oracle, evs, 0, b[m]);
    size_t torn;
    read_outputs(jsonl, &out, &torn);
    assert_int_equal(torn, 0);
    expect_equal(&oracle, &out, seed);
    for (size_t i = 0; i < out.cap; i++) /* a clean stop and restart repeats nothing */
        if (out.a[i].used) assert_int_equal(out.a[i].seen, 1);
    wmap_free(&oracle);
    wmap_free(&out);

    /* discard_mismatched_state: the other graph starts afresh */
    g = make_graph(2000);
    const char *outs[] = { "stats" };
    char jsonl2[128];
    path_in(jsonl2, sizeof jsonl2, "out2.jsonl");
    rill_engine_sink snk = { .kind = RILL_SINK_JSONL, .endpoint = jsonl2, .outputs = outs, .n_outputs = 1 };
    o2.sinks = &snk;
    o2.n_sinks = 1;
    o2.discard_mismatched_state = true;
    o2.no_signal_handlers = true;
    o2.metrics_interval_ms = -1;
    assert_int_equal(rill_engine_new(g, &o2, &r.e, err, sizeof err), RILL_OK);
    rill_graph_free(g);
    assert_int_equal(pthread_create(&r.th, NULL, run_thread, &r), 0);
    track(&r);
    void *d2 = dealer("p2", rel);
    send_msg(d2, 1, evs, 0, 3);
    memset(acked, 0, sizeof acked);
    assert_true(wait_ack(d2, 1, 10000, acked, m));
    assert_int_equal(finish(&r, true), RILL_OK);
    free_engine(&r);
    FILE *f = fopen(jsonl2, "r");
    assert_non_null(f);
    int64_t total = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        total += json_integer_value(json_object_get(j, "count"));
        json_decref(j);
    }
    fclose(f);
    assert_int_equal(total, 3); /* nothing of the old state */
    free(evs);
    free(b);
}

/* Bad state directories: rill_engine_new() fails with a clear error. */
static int try_engine(const rill_engine_opts *so, char *err, size_t errlen) {
    char rel[160];
    snprintf(rel, sizeof rel, "ipc://%s/rel", g_dir);
    rill_engine_source src = { .source = "events", .kind = RILL_SOURCE_ROUTER, .endpoint = rel };
    rill_engine_opts o = *so;
    o.sources = &src;
    o.n_sources = 1;
    rill_graph *g = make_graph(WINDOW_MS);
    rill_engine *e = (rill_engine *)1;
    int rc = rill_engine_new(g, &o, &e, err, errlen);
    rill_graph_free(g);
    if (rc == RILL_OK) rill_engine_free(e);
    else assert_null(e);
    printf("  %s: %s\n", rill_errname(rc), rc ? err : "");
    return rc;
}

static void test_bad_state_dirs(void **state) {
    char err[1024], p[160], q[300];
    /* the parent is missing */
    path_in(p, sizeof p, "no/such/dir");
    assert_int_equal(try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err), RILL_EIO);
    assert_non_null(strstr(err, p));
    /* not a directory */
    path_in(p, sizeof p, "a-file");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err), RILL_EIO);
    assert_non_null(strstr(err, "not a directory"));
    /* must exist, and does not */
    path_in(p, sizeof p, "fresh");
    rill_engine_opts must = { .state_dir = p, .rocksdb = { .must_exist = true } };
    assert_int_equal(try_engine(&must, err, sizeof err), RILL_ESTATE);
    assert_non_null(strstr(err, p));
    /* the default (no must_exist) makes it, and then it exists */
    assert_int_equal(try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err), RILL_OK);
    assert_int_equal(try_engine(&must, err, sizeof err), RILL_OK);
    /* in use by another open store */
    rill_state *st;
    assert_int_equal(rill_state_open_rocksdb(p, NULL, &st), RILL_OK);
    assert_int_equal(try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err), RILL_EIO);
    assert_non_null(strstr(err, "another engine"));
    rill_state_close(st);
    /* damaged: the manifest RocksDB's CURRENT names is garbage */
    snprintf(q, sizeof q, "%s/CURRENT", p);
    f = fopen(q, "r");
    assert_non_null(f);
    char manifest[100] = "";
    assert_non_null(fgets(manifest, sizeof manifest, f));
    fclose(f);
    manifest[strcspn(manifest, "\n")] = 0;
    snprintf(q, sizeof q, "%s/%s", p, manifest);
    f = fopen(q, "w");
    assert_non_null(f);
    fputs("this is not a RocksDB manifest, it is a damaged one\n", f);
    fclose(f);
    assert_int_equal(try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err), RILL_ECORRUPT);
    assert_non_null(strstr(err, p));
    /* a directory nobody may read (only meaningful when not root) */
    if (geteuid() != 0) {
        path_in(p, sizeof p, "locked-out");
        assert_int_equal(mkdir(p, 0), 0);
        int rc = try_engine(&(rill_engine_opts){ .state_dir = p }, err, sizeof err);
        chmod(p, 0700);
        assert_int_equal(rc, RILL_EIO);
    } else {
        printf("  (running as root: an unreadable directory cannot be made)\n");
    }
}

/* After a restart, a producer the checkpoint does not know starts at seq 1
 * at once, or at another number once its resend confirms it; a known one
 * has its resends of applied messages dropped. */
static void test_cautious_producers(void **state) {
    uint64_t seed = seed_for("cautious_producers");
    const size_t m = 30;
    size_t *b = cut_messages(m, 20);
    ev *evs = make_stream(b[m], 10, 3000000);
    char sdir[128], jsonl[128], rel[160];
    path_in(sdir, sizeof sdir, "state");
    path_in(jsonl, sizeof jsonl, "out.jsonl");
    snprintf(rel, sizeof rel, "ipc://%s/rel", g_dir);
    unsigned acked_a[64] = { 0 }, acked_b[64] = { 0 }, acked_c[64] = { 0 };

    static running r;
    rill_engine_opts so = { .state_dir = sdir, .no_flush_on_stop = true };
    start(&r, rel, jsonl, &so);
    void *a = dealer("A", rel);
    for (uint64_t q = 1; q <= 5; q++) { /* A: messages 1..5 */
        send_msg(a, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(a, q, 10000, acked_a, m));
    }
    assert_int_equal(finish(&r, true), RILL_OK);
    free_engine(&r);

    so.no_flush_on_stop = false;
    start(&r, rel, jsonl, &so);
    /* A resends 4..6: 4 and 5 are duplicates, 6 is new */
    acked_a[4] = acked_a[5] = 0;
    for (uint64_t q = 4; q <= 6; q++) {
        send_msg(a, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(a, q, 10000, acked_a, m));
    }
    /* B is new to this engine and its first message here is seq 9: it may
     * have sent 7 and 8 to the previous process, so 9 waits */
    void *pb = dealer("B", rel);
    send_msg(pb, 9, evs, b[8], b[9]);
    assert_false(wait_ack(pb, 9, 300, acked_b, m));
    /* its resend from 7: 7 is lower than anything seen, still waiting */
    for (uint64_t q = 7; q <= 9; q++) send_msg(pb, q, evs, b[q - 1], b[q]);
    assert_false(wait_ack(pb, 7, 300, acked_b, m));
    /* the next resend from 7: 7 seen again is where B's stream starts */
    for (uint64_t q = 7; q <= 9; q++) {
        send_msg(pb, q, evs, b[q - 1], b[q]);
        assert_true(wait_ack(pb, q, 10000, acked_b, m));
    }
    /* C is new and starts at 1: taken at once */
    void *pc = dealer("C", rel);
    for (uint64_t q = 1; q <= 2; q++) {
        send_msg(pc, q, evs, b[10 + q - 1], b[10 + q]);
        assert_true(wait_ack(pc, q, 10000, acked_c, m));
    }
    assert_int_equal(finish(&r, true), RILL_OK);
    rill_engine_stats stats;
    rill_engine_get_stats(r.e, &stats);
    assert_int_equal(stats.duplicates, 2);
    assert_int_equal(stats.gaps, 4); /* 9, then 7, 8, 9 */
    for (uint64_t q = 7; q <= 9; q++) assert_int_equal(acked_b[q], 1);
    free_engine(&r);

    /* each event once: A's 1..6 (messages 1..6), B's 7..9, C's (11, 12) */
    wmap oracle = { 0 }, out = { 0 };
    oracle_add(&oracle, evs, b[0], b[6]);
    oracle_add(&oracle, evs, b[6], b[9]);
    oracle_add(&oracle, evs, b[10], b[12]);
    read_outputs(jsonl, &out, NULL);
    expect_equal(&oracle, &out, seed);
    wmap_free(&oracle);
    wmap_free(&out);
    free(evs);
    free(b);
}

int main(void) {
    /* RILL_TEST_ONLY=<glob> runs the matching tests only */
    if (getenv("RILL_TEST_ONLY")) cmocka_set_test_filter(getenv("RILL_TEST_ONLY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_commit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_commit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatch_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_state_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cautious_producers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
