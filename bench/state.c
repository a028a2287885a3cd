/* bench/state.c — what RocksDB state costs: events per second of keyed
 * window graphs with RocksDB state against in-memory state, and the time a
 * restart takes to restore the state.
 *
 * What it measures: rill_plan_push + rill_plan_commit on prebuilt batches of
 * 4096 events, for a tumbling window (10 s) and a sliding window (60 s by
 * 10 s), both with count + sum + mean, at 100 000 keys (and, with --big,
 * 10 000 000 keys), keys drawn uniformly or by Zipf(1.0) popularity, with
 * the state in memory or in RocksDB (default options: no sync, LZ4, 32 MiB
 * block cache, 64 MiB write buffer, in a fresh temporary directory), and
 * for RocksDB a commit interval sweep: after every batch, every 100 ms and
 * every 1 s of processing time. In-memory state runs without commits (the
 * operators alone) and with a commit every 1 s (the baseline of "vs mem":
 * the memory backend's commit copies every changed record too). After each
 * graph's 1 s RocksDB case the store is opened again and the graph
 * compiled on it: the restart time (open + restore of every key), after a
 * crash and after a clean close; with --big, also with 10 M keys stored.
 *
 * The idea: event time runs so that each 10 s holds about 20 events per key
 * (at most 2 M events), so every key holds state and each window closes
 * with about one record per key; a commit writes every key changed since
 * the last one, so how many distinct keys a commit interval touches (all of
 * them at uniform popularity, far fewer under Zipf) and RocksDB's put rate
 * decide the cost. With --big, 10 M keys run with max_hot_keys = 1 M on
 * RocksDB (state ten times the in-memory cache: cold keys are read back
 * from RocksDB) and with everything in memory for comparison.
 *
 * RocksDB cases run in child processes (fork, after the stream is built):
 * a restart case ends its child right after the last commit, without
 * closing anything, as a crash would, and another child then times the
 * restart after that crash (RocksDB replays its log) and, after a clean
 * close, the restart from flushed tables.
 *
 * Commits are started in the background (rill_plan_commit_start, as the
 * engine does) and the last one is waited for; "commit %" is the share of
 * the time spent starting commits, which includes waiting for the previous
 * write when it is not done yet.
 *
 * The clock runs around pushes and commits only (not around building the
 * batches or the stream). It prints a table as cases finish and one JSON
 * line per case: {"bench":"state","case":...,"events_per_s":...}; an extra
 * argument keeps only the cases whose name contains it. It asserts nothing.
 * Not measured here: decoding and ZeroMQ (bench/ingest), sync = true (an
 * fsync per commit: the disk's figure, not rill's).
 */
#include <dirent.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
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

#define BATCH 4096
#define NEVER 1e300 /* commit_ms: no commits at all */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}
static double rnd01(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench-state: %s: %s\n", what, msg);
    exit(2);
}

/* ---- the stream ---------------------------------------------------------------------- */

/* A stream of n events over `keys` keys, as prebuilt batches. Zipf(1.0):
 * rank r has weight 1/r, drawn by inverting the cumulative weights; ranks
 * are spread over the key space by a multiplicative bijection so hot keys
 * are not neighbours. */
typedef struct stream {
    rill_batch **b;
    size_t n_batches;
    uint64_t events;
} stream;

static void stream_free(stream *s) {
    for (size_t i = 0; i < s->n_batches; i++) rill_batch_free(s->b[i]);
    free(s->b);
    memset(s, 0, sizeof *s);
}

static stream make_stream(const rill_schema *schema, uint64_t n, int64_t keys, bool zipf,
                          bool sequential, double per_10s) {
    double *cdf = NULL;
    if (zipf) {
        cdf = malloc((size_t)keys * sizeof *cdf);
        if (!cdf) die("stream", "out of memory");
        double acc = 0;
        for (int64_t r = 0; r < keys; r++) cdf[r] = acc += 1.0 / (double)(r + 1);
        for (int64_t r = 0; r < keys; r++) cdf[r] /= acc;
    }
    double per_ms = per_10s / 10000.0;
    stream s = { 0 };
    s.n_batches = (size_t)((n + BATCH - 1) / BATCH);
    s.b = calloc(s.n_batches, sizeof *s.b);
    if (!s.b) die("stream", "out of memory");
    uint64_t i = 0;
    for (size_t bi = 0; bi < s.n_batches; bi++) {
        rill_batch *b = rill_batch_new(schema, BATCH);
        if (!b) die("stream", "out of memory");
        for (int r = 0; r < BATCH && i < n; r++, i++) {
            int64_t rank;
            if (zipf) {
                double u = rnd01();
                int64_t lo = 0, hi = keys - 1;
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (cdf[mid] < u) lo = mid + 1;
                    else hi = mid;
                }
                rank = lo;
            } else if (sequential) {
                rank = (int64_t)(i % (uint64_t)keys);
            } else {
                rank = (int64_t)(rnd() % (uint64_t)keys);
            }
            /* 2654435761 is prime: a bijection of [0, keys) for keys below it */
            int64_t key = (int64_t)(((uint64_t)rank * 2654435761u) % (uint64_t)keys);
            int64_t ts = 1700000000000LL + (int64_t)((double)i / per_ms);
            if (rill_batch_append(b, ts, rill_i64(key)) || rill_batch_set_f64(b, 0, (double)(rnd() % 1000) / 8.0))
                die("stream", "cannot build a batch");
        }
        s.b[bi] = b;
    }
    s.events = i;
    free(cdf);
    return s;
}

/* ---- a case -------------------------------------------------------------------------- */

typedef struct result {
    double seconds, commit_seconds;
    double crash_ms, crash_open_ms, restart_ms, open_ms; /* restarts */
    uint64_t events, commits, records, keys_after;
} result;

static void count_record(const rill_record *r, void *user) { (*(uint64_t *)user)++; }

static rill_graph *make_graph(const rill_schema *schema, bool sliding, uint64_t *records) {
    rill_graph *g = rill_graph_new();
    if (!g) die("graph", "out of memory");
    rill_agg_spec aggs[] = {
        { .kind = RILL_AGG_COUNT, .name = "count" },
        { .kind = RILL_AGG_SUM, .field = "value", .name = "sum" },
        { .kind = RILL_AGG_MEAN, .field = "value", .name = "mean" },
    };
    rill_window_opts wo = { .window = sliding ? rill_sliding(60000, 10000) : rill_tumbling(10000),
                            .aggs = aggs, .n_aggs = 3 };
    if (rill_graph_source(g, "events", schema, NULL) || rill_graph_window(g, "w", "events", &wo) ||
        rill_graph_sink(g, "count", "w", count_record, records))
        die("graph", rill_graph_errmsg(g));
    return g;
}

/* Open dir and compile the graph on it (a restore): the time it took, and
 * how much of it was RocksDB's open. Leaves the store closed (flushed). */
static double time_restart(const rill_schema *schema, bool sliding, const char *dir, size_t max_hot,
                           double *open_ms) {
    uint64_t dummy = 0;
    rill_state *st;
    rill_plan *p;
    double t0 = now_s();
    if (rill_state_open_rocksdb(dir, NULL, &st)) die("reopen", rill_state_errmsg(NULL));
    *open_ms = (now_s() - t0) * 1000;
    rill_graph *g = make_graph(schema, sliding, &dummy);
    rill_plan_opts po = { .state = st, .max_hot_keys = max_hot };
    if (rill_graph_compile(g, &po, &p)) die("restore", rill_graph_errmsg(g));
    double ms = (now_s() - t0) * 1000;
    rill_graph_free(g);
    rill_plan_free(p);
    rill_state_close(st);
    return ms;
}

/* Run s through a fresh plan; commit_ms < 0: after every batch. Stops
 * early (with a commit) once budget seconds were spent. With crash_fd >= 0
 * (a child process) the result goes to that pipe and the process ends
 * right after the last commit without closing anything: a crash. */
static result run_case(const rill_schema *schema, const stream *s, bool sliding, const char *dir,
                       double commit_ms, size_t max_hot, int crash_fd, double budget) {
    result res = { 0 };
    rill_state *st;
    int rc = dir ? rill_state_open_rocksdb(dir, NULL, &st) : rill_state_open_memory(&st);
    if (rc) die("state", rill_state_errmsg(NULL));
    rill_graph *g = make_graph(schema, sliding, &res.records);
    rill_plan_opts po = { .state = st, .max_hot_keys = max_hot };
    rill_plan *p;
    if (rill_graph_compile(g, &po, &p)) die("compile", rill_graph_errmsg(g));
    rill_graph_free(g);
    double busy = 0, since = 0;
    for (size_t i = 0; i < s->n_batches; i++) {
        double t0 = now_s();
        if (rill_plan_push(p, "events", s->b[i])) die("push", rill_plan_errmsg(p));
        res.events += (uint64_t)rill_batch_len(s->b[i]);
        double t1 = now_s();
        since += t1 - t0;
        bool last = i + 1 == s->n_batches || busy + (t1 - t0) >= budget;
        bool never = commit_ms == NEVER;
        if (!never && (commit_ms < 0 || since * 1000 >= commit_ms || last)) {
            /* as the engine does: the write runs in the background while
             * the next batches are processed; the last one is waited for */
            if ((last ? rill_plan_commit(p) : rill_plan_commit_start(p)) != RILL_OK)
                die("commit", rill_plan_errmsg(p));
            double t2 = now_s();
            res.commit_seconds += t2 - t1;
            res.commits++;
            since = 0;
            t1 = t2;
        }
        busy += t1 - t0;
        if (last) break;
    }
    res.seconds = busy;
    rill_op_stats os;
    if (rill_plan_op_stats(p, "w", &os) == RILL_OK) res.keys_after = os.keys;
    if (crash_fd >= 0) {
        ssize_t n = write(crash_fd, &res, sizeof res);
        _exit(n == (ssize_t)sizeof res ? 0 : 2);
    }
    rill_plan_free(p);
    rill_state_close(st);
    return res;
}

/* RocksDB's background threads (flushes, compactions) belong to the
 * process that first used it and do not survive a fork: a child forked
 * after that would stall its first flush forever. So the parent never
 * opens a RocksDB store; every RocksDB case, and every restart, runs in a
 * child of its own, which sends its result back through a pipe. */
static result in_child(const rill_schema *schema, const stream *s, bool sliding, const char *dir,
                       double commit_ms, size_t max_hot, double budget, bool crash, bool restarts) {
    int fd[2];
    if (pipe(fd)) die("pipe", "cannot make one");
    fflush(stdout);
    /* Free heap pages go back to the system first: the child would
     * otherwise reuse them copy-on-write, a page copy per first write that
     * only the fork causes. */
    malloc_trim(0);
    pid_t pid = fork();
    if (pid < 0) die("fork", "cannot fork");
    if (pid == 0) {
        close(fd[0]);
        result res = { 0 };
        if (restarts) {
            res.crash_ms = time_restart(schema, sliding, dir, max_hot, &res.crash_open_ms);
            res.restart_ms = time_restart(schema, sliding, dir, max_hot, &res.open_ms);
        } else {
            /* crash: ends the process right after the last commit */
            res = run_case(schema, s, sliding, dir, commit_ms, max_hot, crash ? fd[1] : -1, budget);
        }
        ssize_t n = write(fd[1], &res, sizeof res);
        _exit(n == (ssize_t)sizeof res ? 0 : 2);
    }
    close(fd[1]);
    result res;
    ssize_t n = read(fd[0], &res, sizeof res);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n != (ssize_t)sizeof res || !WIFEXITED(st) || WEXITSTATUS(st)) die("run", "the child failed");
    return res;
}

/* A RocksDB case; with restart, it ends in a crash after its last commit,
 * and then the restart after that crash (the log replayed) and, after a
 * clean close, the restart from flushed tables are timed. */
static result run_rocksdb(const rill_schema *schema, const stream *s, bool sliding, const char *dir,
                          double commit_ms, size_t max_hot, double budget, bool restart) {
    result res = in_child(schema, s, sliding, dir, commit_ms, max_hot, budget, restart, false);
    if (restart) {
        result r = in_child(schema, s, sliding, dir, 0, max_hot, 0, false, true);
        res.crash_ms = r.crash_ms;
        res.crash_open_ms = r.crash_open_ms;
        res.restart_ms = r.restart_ms;
        res.open_ms = r.open_ms;
    }
    return res;
}

/* ---- main ---------------------------------------------------------------------------- */

typedef struct json_line { char text[512]; } json_line;
static json_line *g_json;
static size_t g_n_json;

static void add_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_json(const char *fmt, ...) {
    json_line *q = realloc(g_json, (g_n_json + 1) * sizeof *q);
    if (!q) die("json", "out of memory");
    g_json = q;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_json[g_n_json++].text, sizeof g_json[0].text, fmt, ap);
    va_end(ap);
}

int main(int argc, char **argv) {
    bool big = false, quick = false;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--big")) big = true;
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: bench-state [--quick] [--big] [filter]\n"
                   "  --quick  fewer events per case (CI)\n"
                   "  --big    also 10 000 000 keys (minutes, several GB of memory)\n");
            return 0;
        } else filter = argv[i];
    }
    char tmpl[] = "/tmp/rill-bench-state-XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp", "cannot make a temporary directory");
    rill_field fields[] = { { "value", RILL_F64 } };
    rill_schema *schema = rill_schema_new(fields, 1);
    if (!schema) die("schema", "out of memory");

    printf("%-46s %12s %9s %8s %10s %16s\n", "case", "events/s", "vs mem", "commits", "commit %",
           "restart crash/clean");
    /* per_10s: events per 10 s of event time. 100 000 keys: ~20 per key
     * (each window closes with a record per key); 10 M keys: the whole
     * stream in one window, so that every key seen holds state */
    struct { int64_t keys; uint64_t events; double per_10s; size_t max_hot; const char *label;
             double budget; } sizes[] = {
        { 100000, quick ? 2000000 : 16000000, 2e6, 0, "100k", quick ? 1.0 : 5.0 },
        { 10000000, 30000000, 30e6, 1000000, "10M", 20.0 },
    };
    for (size_t zi = 0; zi < (big ? 2u : 1u); zi++) {
        for (int gi = 0; gi < 2; gi++) {
            bool sliding = gi == 1;
            for (int di = 0; di < 2; di++) {
                bool zipf = di == 1;
                char base[80];
                snprintf(base, sizeof base, "%s/%s/%s", sliding ? "sliding" : "tumbling",
                         zipf ? "zipf" : "uniform", sizes[zi].label);
                /* runs[1] is the baseline of "vs mem" */
                struct { const char *state; double commit_ms; const char *clabel; bool restart; } runs[] = {
                    { "memory", NEVER, "none", false },
                    { "memory", 1000, "1s", false },
                    { "rocksdb", -1, "batch", false },
                    { "rocksdb", 100, "100ms", false },
                    { "rocksdb", 1000, "1s", true },
                };
                const size_t n_runs = sizeof runs / sizeof runs[0];
                bool any = false;
                for (size_t r = 0; r < n_runs; r++) {
                    char name[160];
                    snprintf(name, sizeof name, "%s/%s/commit=%s", base, runs[r].state, runs[r].clabel);
                    if (!filter || strstr(name, filter)) any = true;
                }
                if (!any) continue;
                g_rng = 0x9E3779B97F4A7C15ULL + (uint64_t)di; /* the same stream for each state */
                stream s = make_stream(schema, sizes[zi].events, sizes[zi].keys, zipf, false,
                                       sizes[zi].per_10s);
                double mem_rate = 0, none_rate = 0;
                for (size_t r = 0; r < n_runs; r++) {
                    if (zi == 1 && r == 2) continue; /* 10 M keys: no per-batch commits */
                    char name[160];
                    snprintf(name, sizeof name, "%s/%s/commit=%s", base, runs[r].state, runs[r].clabel);
                    if (filter && !strstr(name, filter) && r != 1) continue;
                    bool rocks = !strcmp(runs[r].state, "rocksdb");
                    char dir[128];
                    snprintf(dir, sizeof dir, "%s/db", tmpl);
                    rm_rf(dir);
                    result res =
                        rocks ? run_rocksdb(schema, &s, sliding, dir, runs[r].commit_ms,
                                            sizes[zi].max_hot, sizes[zi].budget, runs[r].restart)
                              : run_case(schema, &s, sliding, NULL, runs[r].commit_ms, 0, -1,
                                         sizes[zi].budget);
                    rm_rf(dir);
                    double rate = (double)res.events / res.seconds;
                    if (r == 0) none_rate = rate;
                    if (r == 1) mem_rate = rate;
                    char restart[48] = "", restart_json[160] = "";
                    if (runs[r].restart) {
                        snprintf(restart, sizeof restart, "%.0f/%.0f ms", res.crash_ms, res.restart_ms);
                        snprintf(restart_json, sizeof restart_json,
                                 ",\"restart_after_crash_ms\":%.1f,\"of_which_open_ms\":%.1f,"
                                 "\"restart_after_close_ms\":%.1f,\"of_which_open_after_close_ms\":%.1f",
                                 res.crash_ms, res.crash_open_ms, res.restart_ms, res.open_ms);
                    }
                    char vs[16] = "-", vs_json[16] = "null";
                    if (mem_rate > 0) {
                        snprintf(vs, sizeof vs, "%.0f%%", 100 * rate / mem_rate);
                        snprintf(vs_json, sizeof vs_json, "%.3f", rate / mem_rate);
                    }
                    printf("%-46s %12.0f %9s %8llu %9.0f%% %16s\n", name, rate, vs,
                           (unsigned long long)res.commits, 100 * res.commit_seconds / res.seconds, restart);
                    fflush(stdout);
                    add_json("{\"bench\":\"state\",\"case\":\"%s\",\"graph\":\"%s\",\"keys\":%lld,"
                             "\"popularity\":\"%s\",\"state\":\"%s\",\"commit\":\"%s\",\"max_hot_keys\":%zu,"
                             "\"events\":%llu,\"events_per_s\":%.0f,\"vs_memory\":%s,\"commits\":%llu,"
                             "\"vs_memory_no_commits\":%.3f,"
                             "\"commit_share\":%.3f,\"keys_in_state\":%llu,\"records\":%llu%s}",
                             name, sliding ? "sliding 60s/10s" : "tumbling 10s", (long long)sizes[zi].keys,
                             zipf ? "zipf1.0" : "uniform", runs[r].state, runs[r].clabel,
                             rocks ? sizes[zi].max_hot : 0, (unsigned long long)res.events, rate,
                             vs_json, (unsigned long long)res.commits,
                             none_rate > 0 ? rate / none_rate : 1.0, res.commit_seconds / res.seconds, (unsigned long long)res.keys_after,
                             (unsigned long long)res.records, restart_json);
                }
                stream_free(&s);
            }
        }
    }
    if (big && (!filter || strstr("restart/tumbling/10M", filter))) {
        /* restart time with 10 M keys in the state: every key once (all in
         * one window), RocksDB with 1 M hot keys, commits every second */
        stream s = make_stream(schema, 10000000, 10000000, false, true, 1e9);
        char dir[128];
        snprintf(dir, sizeof dir, "%s/db", tmpl);
        rm_rf(dir);
        result res = run_rocksdb(schema, &s, false, dir, 1000, 1000000, 1e9, true);
        rm_rf(dir);
        double rate = (double)res.events / res.seconds;
        printf("%-46s %12.0f %9s %8llu %9.0f%% %9.0f/%.0f ms\n", "restart/tumbling/10M", rate, "",
               (unsigned long long)res.commits, 100 * res.commit_seconds / res.seconds, res.crash_ms,
               res.restart_ms);
        add_json("{\"bench\":\"state\",\"case\":\"restart/tumbling/10M\",\"keys\":10000000,"
                 "\"keys_in_state\":%llu,\"events\":%llu,\"events_per_s\":%.0f,\"commits\":%llu,"
                 "\"restart_after_crash_ms\":%.1f,\"of_which_open_ms\":%.1f,"
                 "\"restart_after_close_ms\":%.1f,\"of_which_open_after_close_ms\":%.1f}",
                 (unsigned long long)res.keys_after, (unsigned long long)res.events, rate,
                 (unsigned long long)res.commits, res.crash_ms, res.crash_open_ms, res.restart_ms,
                 res.open_ms);
        stream_free(&s);
    }
    for (size_t i = 0; i < g_n_json; i++) printf("%s\n", g_json[i].text);
    free(g_json);
    rill_schema_free(schema);
    rm_rf(tmpl);
    return 0;
}
