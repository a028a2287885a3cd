/* bench/pipeline.c — end-to-end throughput of a learning graph: events ->
 * feature vector -> two predictions (liblinear and online SGD) -> label
 * join -> SGD update and metrics, through rill_plan_push().
 *
 * Events carry 20 dense f64 fields, 10 000 keys, an id each, one per ms of
 * event time; every event gets its label 50 ms later on a second source
 * (pushed after each batch of events). Both model nodes join the labels
 * (liblinear: metrics only; SGD: learns). Cases:
 *   raw20         the vector is the event's own 20 fields;
 *   windows20     16 of the fields plus 4 point-in-time window features
 *                 (count and mean of field 0 over the key's last 60 s, and
 *                 sum and max over its last 10 s: two on-event sliding
 *                 windows);
 *   raw20_sgd     raw20 with the SGD node only;
 *   raw20_nolabel raw20, both models, no labels (prediction only).
 * Batches (1000 events, their 1000 labels) are built before the clock
 * starts; events/s counts events (each with its label) per wall second.
 * Prints a table, then one JSON line per case:
 *   {"bench":"pipeline","case":"...","events_per_s":...}
 * It prints figures and asserts nothing. RILL_BENCH_EVENTS sets the events
 * per case (default 200000), RILL_BENCH_CASE runs only the case named.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rill/rill.h>

#define DIM 20
#define BATCH 1000
#define KEYS 10000

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) * 0x1.0p-53;
}
static double gauss(void) {
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench-pipeline: %s: %s\n", what, msg);
    exit(1);
}

static const char *fname(int i) {
    static char names[DIM][8];
    snprintf(names[i], sizeof names[i], "f%d", i);
    return names[i];
}

typedef struct result { const char *name; double per_s; } result;
static result results[8];
static int n_results;

static size_t n_events = 200000;
static rill_batch **ev_batches, **lab_batches;
static size_t n_batches;
static char model_path[64];

static void make_batches(rill_schema *se, rill_schema *sl) {
    double wtrue[DIM];
    for (int i = 0; i < DIM; i++) wtrue[i] = gauss();
    n_batches = n_events / BATCH;
    ev_batches = calloc(n_batches, sizeof *ev_batches);
    lab_batches = calloc(n_batches, sizeof *lab_batches);
    if (!ev_batches || !lab_batches) die("batches", "out of memory");
    const int64_t t0 = 1700000000000;
    for (size_t b = 0; b < n_batches; b++) {
        rill_batch *e = rill_batch_new(se, BATCH), *l = rill_batch_new(sl, BATCH);
        if (!e || !l) die("batches", "out of memory");
        for (size_t r = 0; r < BATCH; r++) {
            int64_t i = (int64_t)(b * BATCH + r);
            rill_batch_append(e, t0 + i, rill_i64(i % KEYS));
            double f = 0.25;
            for (int j = 0; j < DIM; j++) {
                double x = gauss();
                rill_batch_set_f64(e, (size_t)j, x);
                f += wtrue[j] * x;
            }
            rill_batch_set_id(e, rill_i64(i));
            rill_batch_append(l, t0 + i + 50, rill_i64(i % KEYS));
            rill_batch_set_i64(l, 0, uniform() < 1.0 / (1.0 + exp(-f)));
            rill_batch_set_id(l, rill_i64(i));
        }
        ev_batches[b] = e;
        lab_batches[b] = l;
    }
    /* a liblinear model file in the format `train` writes */
    snprintf(model_path, sizeof model_path, "/tmp/rill-bench-pipeline-XXXXXX");
    int fd = mkstemp(model_path);
    if (fd < 0) die("mkstemp", "cannot create the model file");
    FILE *f = fdopen(fd, "w");
    fprintf(f, "solver_type L2R_LR\nnr_class 2\nlabel 1 0\nnr_feature %d\nbias 1\nw\n", DIM);
    for (int i = 0; i < DIM; i++) fprintf(f, "%.17g \n", wtrue[i] * 0.9);
    fprintf(f, "%.17g \n", 0.25);
    fclose(f);
}

enum { WITH_LINEAR = 1, WITH_SGD = 2, WITH_LABELS = 4, WITH_WINDOWS = 8 };

static const char *only; /* RILL_BENCH_CASE: run just this case */

static void bench_case(const char *name, int flags, rill_schema *se, rill_schema *sl) {
    if (only && strcmp(only, name)) return;
    rill_graph *g = rill_graph_new();
    if (rill_graph_source(g, "ev", se, NULL) || rill_graph_source(g, "lab", sl, NULL))
        die(name, rill_graph_errmsg(g));
    rill_feature ft[DIM];
    int nf = 0;
    if (flags & WITH_WINDOWS) {
        rill_agg_spec a60[] = { { RILL_AGG_COUNT, NULL, "n60", 0 }, { RILL_AGG_MEAN, "f0", "mean60", 0 } };
        rill_agg_spec a10[] = { { RILL_AGG_SUM, "f0", "sum10", 0 }, { RILL_AGG_MAX, "f0", "max10", 0 } };
        rill_window_opts w60 = { .window = rill_sliding(60000, 1000), .aggs = a60, .n_aggs = 2,
                                 .emit = RILL_EMIT_ON_EVENT };
        rill_window_opts w10 = { .window = rill_sliding(10000, 1000), .aggs = a10, .n_aggs = 2,
                                 .emit = RILL_EMIT_ON_EVENT };
        if (rill_graph_window(g, "w60", "ev", &w60) || rill_graph_window(g, "w10", "ev", &w10))
            die(name, rill_graph_errmsg(g));
        /* the count is i64: the vector converts it */
        ft[nf++] = (rill_feature){ "w60", "n60", NULL, 0 };
        ft[nf++] = (rill_feature){ "w60", "mean60", NULL, 0 };
        ft[nf++] = (rill_feature){ "w10", "sum10", NULL, 0 };
        ft[nf++] = (rill_feature){ "w10", "max10", NULL, 0 };
    }
    for (int i = 0; nf < DIM; i++) ft[nf++] = (rill_feature){ "ev", fname(i), NULL, 0 };
    if (rill_graph_features(g, "fv", &(rill_features_opts){ "ev", ft, DIM })) die(name, rill_graph_errmsg(g));
    rill_labels_opts lab = { .input = "lab", .timeout_ms = 1000 };
    rill_labels_opts nolab = { 0 };
    if ((flags & WITH_LINEAR) &&
        rill_graph_predict_linear(g, "lin", "fv", &(rill_linear_node_opts){
                                      .model_path = model_path, .labels = (flags & WITH_LABELS) ? lab : nolab }))
        die(name, rill_graph_errmsg(g));
    if ((flags & WITH_SGD) && rill_graph_sgd(g, "sgd", "fv", &(rill_sgd_opts){ .eta0 = 0.01, .standardize = true },
                                             &lab))
        die(name, rill_graph_errmsg(g));
    rill_plan *p;
    if (rill_graph_compile(g, NULL, &p)) die(name, rill_graph_errmsg(g));
    double t = now_s();
    for (size_t b = 0; b < n_batches; b++) {
        if (rill_plan_push(p, "ev", ev_batches[b])) die(name, rill_plan_errmsg(p));
        if ((flags & (WITH_LABELS | WITH_SGD)) && rill_plan_push(p, "lab", lab_batches[b]))
            die(name, rill_plan_errmsg(p));
    }
    if (rill_plan_flush(p)) die(name, rill_plan_errmsg(p));
    double dt = now_s() - t;
    rill_model_stats st = { 0 };
    rill_metrics_report mr;
    const char *m = (flags & WITH_SGD) ? "sgd" : "lin";
    rill_plan_model_metrics(p, m, &mr, &st);
    if (st.vectors != n_batches * BATCH) die(name, "not every event was scored");
    results[n_results++] = (result){ name, (double)(n_batches * BATCH) / dt };
    fprintf(stderr, "%-14s %s: %llu vectors, %llu learned, accuracy %.3f\n", name, m,
            (unsigned long long)st.vectors, (unsigned long long)st.learned, mr.cumulative.accuracy);
    rill_plan_free(p);
    rill_graph_free(g);
}

int main(void) {
    const char *s = getenv("RILL_BENCH_EVENTS");
    if (s && atol(s) >= BATCH) n_events = (size_t)atol(s);
    only = getenv("RILL_BENCH_CASE");
    rill_field fe[DIM];
    for (int i = 0; i < DIM; i++) fe[i] = (rill_field){ fname(i), RILL_F64 };
    rill_field fl[] = { { "label", RILL_I64 } };
    rill_schema *se = rill_schema_new(fe, DIM), *sl = rill_schema_new(fl, 1);
    make_batches(se, sl);

    bench_case("raw20", WITH_LINEAR | WITH_SGD | WITH_LABELS, se, sl);
    bench_case("windows20", WITH_LINEAR | WITH_SGD | WITH_LABELS | WITH_WINDOWS, se, sl);
    bench_case("raw20_sgd", WITH_SGD | WITH_LABELS, se, sl);
    bench_case("raw20_nolabel", WITH_LINEAR, se, sl);

    printf("%-44s %14s %10s\n", "case (20 features, 10k keys, labels +50 ms)", "events/s", "ns/event");
    for (int i = 0; i < n_results; i++)
        printf("%-44s %14.0f %10.1f\n", results[i].name, results[i].per_s, 1e9 / results[i].per_s);
    for (int i = 0; i < n_results; i++)
        printf("{\"bench\":\"pipeline\",\"case\":\"%s\",\"events_per_s\":%.0f}\n", results[i].name,
               results[i].per_s);
    unlink(model_path);
    for (size_t b = 0; b < n_batches; b++) {
        rill_batch_free(ev_batches[b]);
        rill_batch_free(lab_batches[b]);
    }
    free(ev_batches);
    free(lab_batches);
    rill_schema_free(se);
    rill_schema_free(sl);
    return 0;
}
