/* tests/test_op_model.c — model nodes in a graph (learners/op_model.c):
 * liblinear prediction, the online SGD learner, the label join and the
 * prequential metrics.
 *
 * - liblinear: a model trained by liblinear's `train` (liblinear-train) on
 *   synthetic data; the node's label, decision value and probability for
 *   every event equal rill_linear_predict() called directly on the same
 *   vector (bit for bit) and liblinear's `predict -b 1` (label, 1e-6); the
 *   same with an in-memory model from liblinear's train(); labels feed the
 *   metrics. Errors: dimension, missing file, a file that is no model,
 *   labels for a three-class model.
 * - SGD against an oracle: random streams of events and labels (out of
 *   order, delayed beyond the timeout, duplicated, for unknown ids, invalid,
 *   before their vector, late). The oracle, written here, takes vectors and
 *   labels in the documented event-time order with a standalone rill_sgd
 *   and pairs them plainly by id; predictions, weights, every counter and
 *   the metrics must be identical bit for bit, for micro-batches of 1, 7
 *   and 1000 rows, for two learner configurations, with the hot-key cache
 *   evicting waiting predictions, and with the labels lagging far behind.
 * - Checkpoint: commit, free the plan, close and reopen the RocksDB store,
 *   recompile, continue: predictions and weights equal the uninterrupted
 *   run's.
 * - The label join by hand: each counter of rill_model_stats on a stream
 *   where it is worked out in the comments; joining by key.
 * - Elec2 through the graph (skipped with a message without the data):
 *   source -> feature vector -> SGD with delayed labels -> metrics; the
 *   prequential accuracy equals the standalone learner's and is >= 0.82.
 * Seeds are fixed and printed on failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linear.h>

#include "rill/rill.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------ */

static int64_t below(tu_rng *r, int64_t n) { return (int64_t)(tu_unif(r) * (double)n); }

static bool same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

/* One prediction record. */
typedef struct prec { int64_t key, ts, id; double label, decision, prob; } prec;
typedef struct pcap { prec *r; size_t n, cap; const char *op; } pcap;

static void on_pred(const rill_record *r, void *user) {
    pcap *c = user;
    if (c->op) assert_string_equal(r->op, c->op);
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        assert_non_null(c->r);
    }
    assert_int_equal(r->n_values, 3);
    assert_string_equal(r->names[0], "label");
    assert_string_equal(r->names[1], "decision");
    assert_string_equal(r->names[2], "probability");
    prec *p = &c->r[c->n++];
    p->key = r->key.as.i64;
    p->ts = r->ts;
    p->id = r->id.type == RILL_I64 ? r->id.as.i64 : -1;
    p->label = r->values[0].as.f64;
    p->decision = r->values[1].as.f64;
    p->prob = r->values[2].type == RILL_F64 ? r->values[2].as.f64 : NAN;
}

static uint64_t late_seen;
static void on_late(const rill_late_event *e, void *user) {
    (void)e;
    (void)user;
    late_seen++;
}

static void must(int rc, const char *what, rill_plan *p) {
    if (rc) fail_msg("%s: %s (%s)", what, rill_strerror(rc), p ? rill_plan_errmsg(p) : "");
}

static char dir[64];
static char tool_train[512], tool_predict[512];

static void path_in(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", dir, name); }

static void silent(const char *s) { (void)s; }

static int setup(void **st) {
    (void)st;
    static const char *const trains[] = { "liblinear-train", "train", NULL };
    static const char *const predicts[] = { "liblinear-predict", "predict", NULL };
    if (tu_find_tool(trains, tool_train, sizeof tool_train) || tu_find_tool(predicts, tool_predict, sizeof tool_predict)) {
        fprintf(stderr, "test_op_model: liblinear's train/predict programs are not on PATH "
                        "(Debian package liblinear-tools)\n");
        return -1;
    }
    snprintf(dir, sizeof dir, "/tmp/rill-test-opmodel-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    set_print_string_function(silent);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    tu_rm_rf(dir);
    return 0;
}

/* A schema of n f64 fields named f0, f1, ... */
static rill_schema *fschema(size_t n) {
    static const char *const names[] = { "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7" };
    rill_field f[8];
    for (size_t i = 0; i < n; i++) f[i] = (rill_field){ names[i], RILL_F64 };
    return rill_schema_new(f, n);
}

static rill_schema *label_schema(void) {
    rill_field f[] = { { "label", RILL_I64 } };
    return rill_schema_new(f, 1);
}

/* Source "ev" (fields f0..), a feature vector "fv" of its own fields, and
 * a labels source "lab" (field label, i64). */
static rill_graph *base_graph(size_t dim, int64_t ev_bound, int64_t lab_bound) {
    rill_schema *se = fschema(dim), *sl = label_schema();
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "ev", se, &(rill_source_opts){ .max_out_of_orderness_ms = ev_bound }),
                     RILL_OK);
    assert_int_equal(rill_graph_source(g, "lab", sl, &(rill_source_opts){ .max_out_of_orderness_ms = lab_bound }),
                     RILL_OK);
    rill_feature f[8];
    for (size_t i = 0; i < dim; i++)
        f[i] = (rill_feature){ "ev", rill_schema_field(se, i)->name, NULL, 0.0 };
    assert_int_equal(rill_graph_features(g, "fv", &(rill_features_opts){ "ev", f, dim }), RILL_OK);
    rill_schema_free(se);
    rill_schema_free(sl);
    return g;
}

static rill_plan *compile(rill_graph *g, const rill_plan_opts *o) {
    rill_plan *p = NULL;
    int rc = rill_graph_compile(g, o, &p);
    if (rc) fail_msg("compile: %s", rill_graph_errmsg(g));
    return p;
}

/* ---- liblinear ------------------------------------------------------------------ */

#define LD 5
#define LN 400

static double LX[LN][LD];
static int LY[LN]; /* +1 / -1 */

static void make_linear_data(void) {
    tu_rng g = { 77 };
    const double w[LD] = { 1.0, -0.8, 0.5, 0.0, 1.3 };
    for (int k = 0; k < LN; k++) {
        double f = 0.2;
        for (int i = 0; i < LD; i++) {
            LX[k][i] = tu_gauss(&g);
            f += w[i] * LX[k][i];
        }
        LY[k] = tu_unif(&g) < 1.0 / (1.0 + exp(-f)) ? 1 : -1;
    }
}

static void write_libsvm(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int k = 0; k < LN; k++) {
        fprintf(f, "%+d", LY[k]);
        for (int i = 0; i < LD; i++) fprintf(f, " %d:%.17g", i + 1, LX[k][i]);
        fputc('\n', f);
    }
    fclose(f);
}

/* Run the LN rows through a graph with liblinear node "lin" (and labels:
 * label k at ts + 5 with y 1/0); capture its records. */
static void run_linear(const rill_linear_node_opts *lo, pcap *c, rill_model_stats *st, rill_metrics_report *mr) {
    rill_graph *g = base_graph(LD, 0, 0);
    assert_int_equal(rill_graph_predict_linear(g, "lin", "fv", lo), RILL_OK);
    c->op = "lin";
    assert_int_equal(rill_graph_sink(g, "out", "lin", on_pred, c), RILL_OK);
    rill_plan *p = compile(g, NULL);
    rill_schema *se = fschema(LD), *sl = label_schema();
    for (int k0 = 0; k0 < LN; k0 += 50) {
        rill_batch *b = rill_batch_new(se, 50), *l = rill_batch_new(sl, 50);
        for (int k = k0; k < k0 + 50; k++) {
            assert_int_equal(rill_batch_append(b, 1000 + 10 * k, rill_i64(k % 3)), RILL_OK);
            for (int i = 0; i < LD; i++) assert_int_equal(rill_batch_set_f64(b, (size_t)i, LX[k][i]), RILL_OK);
            assert_int_equal(rill_batch_set_id(b, rill_i64(k)), RILL_OK);
            assert_int_equal(rill_batch_append(l, 1000 + 10 * k + 5, rill_i64(k % 3)), RILL_OK);
            assert_int_equal(rill_batch_set_i64(l, 0, LY[k] > 0), RILL_OK);
            assert_int_equal(rill_batch_set_id(l, rill_i64(k)), RILL_OK);
        }
        must(rill_plan_push(p, "ev", b), "push", p);
        must(rill_plan_push(p, "lab", l), "push labels", p);
        rill_batch_free(b);
        rill_batch_free(l);
    }
    must(rill_plan_flush(p), "flush", p);
    assert_int_equal(rill_plan_model_metrics(p, "lin", mr, st), RILL_OK);
    double w[LD];
    assert_int_equal(rill_plan_model_weights(p, "lin", w, LD, NULL), RILL_EINVAL); /* not an SGD node */
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(se);
    rill_schema_free(sl);
}

/* The records of c against rill_linear_predict() on m, and the metrics
 * against the records; out (NULL: skip) is liblinear predict -b 1's file. */
static void check_linear(const pcap *c, rill_linear *m, const rill_model_stats *st, const rill_metrics_report *mr,
                         const char *out) {
    assert_int_equal(c->n, LN);
    bool prob = rill_linear_is_probabilistic(m);
    int pos = rill_linear_label(m, 0) == 1 ? 0 : 1;
    FILE *f = NULL;
    if (out) {
        f = fopen(out, "r");
        assert_non_null(f);
        char word[16];
        int l0, l1;
        assert_int_equal(fscanf(f, "%15s %d %d", word, &l0, &l1), 3);
        assert_int_equal(l0, rill_linear_label(m, 0));
    }
    size_t correct = 0;
    for (size_t i = 0; i < c->n; i++) {
        const prec *r = &c->r[i];
        assert_int_equal(r->id, (int64_t)i); /* in event-time order */
        assert_int_equal(r->ts, 1000 + 10 * (int64_t)i);
        double label, dec[2], pr[2];
        assert_int_equal(rill_linear_predict(m, LX[i], LD, &label, dec, prob ? pr : NULL), RILL_OK);
        if (!same_bits(r->label, label) || !same_bits(r->decision, dec[0]) ||
            (prob ? !same_bits(r->prob, pr[pos]) : !isnan(r->prob)))
            fail_msg("row %zu: node says %g/%.17g/%.17g, rill_linear_predict %g/%.17g/%.17g", i, r->label,
                     r->decision, r->prob, label, dec[0], prob ? pr[pos] : NAN);
        if (f) {
            double wl, wp[2];
            assert_int_equal(fscanf(f, "%lf %lf %lf", &wl, &wp[0], &wp[1]), 3);
            assert_true(wl == r->label);
            assert_true(fabs(wp[pos] - r->prob) <= 1e-6);
        }
        correct += (prob ? r->prob >= 0.5 : r->label == 1) == (LY[i] > 0);
    }
    if (f) fclose(f);
    assert_int_equal(st->vectors, LN);
    assert_int_equal(st->labels, LN);
    assert_int_equal(st->matched, LN);
    assert_int_equal(st->learned, 0);
    assert_int_equal(st->waiting + st->unmatched + st->expired + st->late + st->duplicates, 0);
    assert_int_equal(mr->cumulative.n, LN);
    assert_true(mr->cumulative.accuracy == (double)correct / LN);
    assert_true(mr->cumulative.accuracy > 0.6);
}

static void test_linear_node(void **st) {
    (void)st;
    make_linear_data();
    char data[256], model[256], out[256], svm[256];
    path_in(data, sizeof data, "lin.txt");
    path_in(model, sizeof model, "lin.model");
    path_in(out, sizeof out, "lin.out");
    path_in(svm, sizeof svm, "svm.model");
    write_libsvm(data);
    char *targv[] = { tool_train, "-s", "0", "-B", "1", data, model, NULL };
    assert_int_equal(tu_run_quiet(targv), 0);
    char *pargv[] = { tool_predict, "-b", "1", data, model, out, NULL };
    assert_int_equal(tu_run_quiet(pargv), 0);
    char *sargv[] = { tool_train, "-s", "2", data, svm, NULL };
    assert_int_equal(tu_run_quiet(sargv), 0);

    rill_labels_opts lab = { .input = "lab" };
    rill_linear *m;
    char err[256];
    assert_int_equal(rill_linear_load(model, LD, &m, err, sizeof err), RILL_OK);
    /* from the file */
    pcap c = { 0 };
    rill_model_stats s;
    rill_metrics_report r;
    run_linear(&(rill_linear_node_opts){ .model_path = model, .labels = lab }, &c, &s, &r);
    check_linear(&c, m, &s, &r, out);
    /* the same model in memory (borrowed by the node) */
    pcap c2 = { 0 };
    run_linear(&(rill_linear_node_opts){ .model = m, .labels = lab }, &c2, &s, &r);
    check_linear(&c2, m, &s, &r, out);
    rill_linear_free(m);
    /* an SVM: no probability */
    pcap c3 = { 0 };
    assert_int_equal(rill_linear_load(svm, LD, &m, err, sizeof err), RILL_OK);
    run_linear(&(rill_linear_node_opts){ .model_path = svm, .labels = lab }, &c3, &s, &r);
    check_linear(&c3, m, &s, &r, NULL);
    rill_linear_free(m);
    free(c.r);
    free(c2.r);
    free(c3.r);
}

/* compile a graph with a liblinear node; the status and message */
static int linear_compile(size_t dim, const rill_linear_node_opts *lo, char *msg, size_t len) {
    rill_graph *g = base_graph(dim, 0, 0);
    int rc = rill_graph_predict_linear(g, "lin", "fv", lo);
    rill_plan *p = NULL;
    if (!rc) rc = rill_graph_compile(g, NULL, &p);
    snprintf(msg, len, "%s", rill_graph_errmsg(g));
    rill_plan_free(p);
    rill_graph_free(g);
    return rc;
}

static void test_linear_errors(void **st) {
    (void)st;
    char model[256], garbage[256], m[512];
    path_in(model, sizeof model, "lin.model"); /* from test_linear_node */
    path_in(garbage, sizeof garbage, "garbage.model");
    FILE *f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("this is not a model\n", f);
    fclose(f);
    assert_int_equal(linear_compile(LD, &(rill_linear_node_opts){ .model_path = model }, m, sizeof m), RILL_OK);
    assert_int_equal(linear_compile(LD - 1, &(rill_linear_node_opts){ .model_path = model }, m, sizeof m),
                     RILL_EMODEL);
    assert_non_null(strstr(m, "lin"));
    assert_non_null(strstr(m, "5"));
    assert_non_null(strstr(m, "4"));
    assert_int_equal(linear_compile(LD, &(rill_linear_node_opts){ .model_path = "/nonexistent/x.model" }, m,
                                    sizeof m), RILL_EIO);
    assert_int_equal(linear_compile(LD, &(rill_linear_node_opts){ .model_path = garbage }, m, sizeof m), RILL_EMODEL);
    assert_int_equal(linear_compile(LD, &(rill_linear_node_opts){ 0 }, m, sizeof m), RILL_EINVAL);
    /* labels need a two-class model: a three-class one from train() */
    struct feature_node *nodes = calloc(30 * 3, sizeof *nodes);
    struct feature_node **xs = calloc(30, sizeof *xs);
    double *ys = calloc(30, sizeof *ys);
    assert_true(nodes && xs && ys);
    for (int k = 0; k < 30; k++) {
        xs[k] = &nodes[3 * k];
        nodes[3 * k] = (struct feature_node){ 1, (double)(k % 3) + 0.1 * k };
        nodes[3 * k + 1] = (struct feature_node){ 2, (double)(k % 5) };
        nodes[3 * k + 2] = (struct feature_node){ -1, 0 };
        ys[k] = (double)(k % 3);
    }
    struct problem prob = { .l = 30, .n = 2, .y = ys, .x = xs, .bias = -1 };
    struct parameter par = { .solver_type = L2R_LR, .eps = 0.01, .C = 1 };
    struct model *tm = train(&prob, &par);
    assert_non_null(tm);
    rill_linear *lm;
    char err[256];
    assert_int_equal(rill_linear_wrap(tm, 2, RILL_LINEAR_TAKE, &lm, err, sizeof err), RILL_OK);
    assert_int_equal(linear_compile(2, &(rill_linear_node_opts){ .model = lm }, m, sizeof m), RILL_OK);
    assert_int_equal(linear_compile(2, &(rill_linear_node_opts){ .model = lm, .labels = { .input = "lab" } }, m,
                                    sizeof m), RILL_EMODEL);
    assert_non_null(strstr(m, "3 classes"));
    rill_linear_free(lm);
    free(nodes);
    free(xs);
    free(ys);
}

/* ---- SGD against an oracle -------------------------------------------------------- */

#define SD 4
#define SN 2500
#define EV_BOUND 10
#define LAB_BOUND 30
#define TIMEOUT 150

typedef struct srow {
    bool lab;
    int64_t key, ts, id, clock; /* clock: when it arrives */
    double x[SD];
    int64_t y;
    bool has_id, has_y;
} srow;

static int srow_clock_cmp(const void *a, const void *b) {
    const srow *x = a, *y = b;
    if (x->clock != y->clock) return x->clock < y->clock ? -1 : 1;
    return x->lab - y->lab; /* stable enough: events first at one clock */
}

/* Events with unique times (10 ms apart, up to 20 ms out of order) and
 * their labels with random delays, some beyond the timeout, some before the
 * event, duplicated, invalid, for unknown ids, without an id; all merged in
 * arrival order. */
static srow *make_sgd_stream(uint64_t seed, size_t *n_out) {
    tu_rng r = { seed * 0x9e3779b97f4a7c15ULL + 7 };
    size_t cap = SN * 3, n = 0;
    srow *rows = calloc(cap, sizeof *rows);
    assert_non_null(rows);
    const double w[SD] = { 1.5, -1.0, 0.7, 0.0 };
    for (int64_t i = 0; i < SN; i++) {
        srow *e = &rows[n++];
        int64_t d = below(&r, 3);
        e->ts = 1000 + 10 * (i - d) + i % 10; /* unique */
        e->clock = 1000 + 10 * i;
        e->key = i % 5;
        e->id = i;
        e->has_id = true;
        double f = 0.3;
        for (int j = 0; j < SD; j++) {
            e->x[j] = tu_gauss(&r) * (j == 2 ? 5.0 : 1.0) + (j == 3 ? 2.0 : 0.0);
            f += w[j] * e->x[j];
        }
        int64_t y = tu_unif(&r) < 1.0 / (1.0 + exp(-f));
        int copies = tu_unif(&r) < 0.88 ? 1 : 0;
        if (tu_unif(&r) < 0.05) copies = 2; /* a duplicate */
        for (int c = 0; c < copies; c++) {
            srow *l = &rows[n++];
            l->lab = true;
            l->key = e->key;
            double u = tu_unif(&r);
            l->ts = u < 0.03 ? e->ts - 1 - below(&r, 5) : e->ts + 1 + below(&r, 200);
            l->clock = l->ts + below(&r, LAB_BOUND + 10);
            l->id = e->id;
            l->has_id = tu_unif(&r) > 0.01;
            l->y = tu_unif(&r) < 0.02 ? 2 : y; /* 2: invalid for a classifier */
            l->has_y = tu_unif(&r) > 0.01;
        }
        if (tu_unif(&r) < 0.02) { /* a label for an id that never comes */
            srow *l = &rows[n++];
            l->lab = true;
            l->key = e->key;
            l->ts = e->ts + 3;
            l->clock = l->ts + 5;
            l->id = 100000 + i;
            l->has_id = l->has_y = true;
            l->y = 1;
        }
    }
    qsort(rows, n, sizeof *rows, srow_clock_cmp);
    *n_out = n;
    return rows;
}

/* Push rows [from, to) in batches of at most bs consecutive rows of one source. */
static void push_srows(rill_plan *p, const srow *rows, size_t from, size_t to, size_t bs) {
    rill_schema *se = fschema(SD), *sl = label_schema();
    size_t i = from;
    while (i < to) {
        bool lab = rows[i].lab;
        rill_batch *b = rill_batch_new(lab ? sl : se, bs);
        size_t j = i;
        for (; j < to && j - i < bs && rows[j].lab == lab; j++) {
            const srow *w = &rows[j];
            assert_int_equal(rill_batch_append(b, w->ts, rill_i64(w->key)), RILL_OK);
            if (w->has_id) assert_int_equal(rill_batch_set_id(b, rill_i64(w->id)), RILL_OK);
            if (lab) {
                if (w->has_y) assert_int_equal(rill_batch_set_i64(b, 0, w->y), RILL_OK);
            } else {
                for (int f = 0; f < SD; f++) assert_int_equal(rill_batch_set_f64(b, (size_t)f, w->x[f]), RILL_OK);
            }
        }
        must(rill_plan_push(p, lab ? "lab" : "ev", b), "push", p);
        rill_batch_free(b);
        i = j;
    }
    rill_schema_free(se);
    rill_schema_free(sl);
}

static rill_graph *sgd_graph(const rill_sgd_opts *o, pcap *c) {
    rill_graph *g = base_graph(SD, EV_BOUND, LAB_BOUND);
    rill_labels_opts lab = { .input = "lab", .timeout_ms = TIMEOUT, .metrics_window = 200 };
    assert_int_equal(rill_graph_sgd(g, "sgd", "fv", o, &lab), RILL_OK);
    c->op = "sgd";
    assert_int_equal(rill_graph_sink(g, "out", "sgd", on_pred, c), RILL_OK);
    assert_int_equal(rill_graph_on_late(g, on_late, NULL), RILL_OK);
    return g;
}

typedef struct outcome {
    pcap preds;
    double w[SD], b;
    rill_model_stats st;
    rill_metrics_report mr;
} outcome;

static void read_outcome(rill_plan *p, outcome *o) {
    assert_int_equal(rill_plan_model_weights(p, "sgd", o->w, SD, &o->b), RILL_OK);
    assert_int_equal(rill_plan_model_weights(p, "sgd", o->w, SD - 1, &o->b), RILL_EINVAL);
    assert_int_equal(rill_plan_model_metrics(p, "sgd", &o->mr, &o->st), RILL_OK);
}

/* max_hot > 0: commit every 300 rows, keeping at most max_hot keys of each
 * operator in memory (the rest is evicted to the state and read back). */
static void run_sgd_hot(const srow *rows, size_t n, const rill_sgd_opts *opts, size_t bs, size_t max_hot,
                        outcome *o) {
    memset(o, 0, sizeof *o);
    rill_graph *g = sgd_graph(opts, &o->preds);
    rill_state *s = NULL;
    if (max_hot) assert_int_equal(rill_state_open_memory(&s), RILL_OK);
    rill_plan *p = compile(g, &(rill_plan_opts){ .state = s, .max_hot_keys = max_hot });
    for (size_t i = 0; i < n; i += 300) {
        push_srows(p, rows, i, i + 300 < n ? i + 300 : n, bs);
        if (max_hot) must(rill_plan_commit(p), "commit", p);
    }
    must(rill_plan_flush(p), "flush", p);
    read_outcome(p, o);
    if (max_hot) {
        rill_op_stats os;
        assert_int_equal(rill_plan_op_stats(p, "sgd", &os), RILL_OK);
        if (!(os.evictions > 0 && os.reads_back > 0))
            fail_msg("evictions %llu, reads back %llu", (unsigned long long)os.evictions,
                     (unsigned long long)os.reads_back);
    }
    rill_plan_free(p);
    rill_state_close(s);
    rill_graph_free(g);
}

static void run_sgd(const srow *rows, size_t n, const rill_sgd_opts *opts, size_t bs, outcome *o) {
    run_sgd_hot(rows, n, opts, bs, 0, o);
}

/* The oracle: the documented order and pairing, written plainly. */
typedef struct item { int64_t ts; int cls; size_t seq; const srow *r; } item;

static int item_cmp(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->cls != y->cls) return x->cls - y->cls;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void oracle(const srow *rows, size_t n, const rill_sgd_opts *opts, outcome *o) {
    memset(o, 0, sizeof *o);
    item *it = calloc(n, sizeof *it);
    assert_non_null(it);
    size_t ni = 0;
    /* lateness: events against their source's watermark; labels against
     * the minimum of theirs and the events' (the feature vector's) */
    int64_t ev_wm = INT64_MIN, lab_wm = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const srow *r = &rows[i];
        if (!r->lab) {
            bool late = r->ts < ev_wm;
            if (r->ts - EV_BOUND > ev_wm) ev_wm = r->ts - EV_BOUND;
            if (!late) it[ni++] = (item){ r->ts, 0, i, r };
        } else {
            o->st.labels++;
            int64_t w = lab_wm < ev_wm ? lab_wm : ev_wm;
            if (r->ts - LAB_BOUND > lab_wm) lab_wm = r->ts - LAB_BOUND;
            if (r->ts < w) o->st.late++;
            else it[ni++] = (item){ r->ts, 1, i, r };
        }
    }
    qsort(it, ni, sizeof *it, item_cmp);
    rill_sgd *l;
    char err[256];
    assert_int_equal(rill_sgd_new(SD, opts, &l, err, sizeof err), RILL_OK);
    rill_metrics *m;
    assert_int_equal(rill_metrics_new(&(rill_metrics_opts){ .window = 200 }, &m, err, sizeof err), RILL_OK);
    int *state = calloc(SN, sizeof *state); /* 0 none, 1 waiting, 2 labelled */
    int64_t *vts = calloc(SN, sizeof *vts);
    double *score = calloc(SN, sizeof *score);
    assert_true(state && vts && score);
    const srow **vec = calloc(SN, sizeof *vec);
    o->preds.r = calloc(SN, sizeof *o->preds.r);
    assert_true(vec && o->preds.r);
    for (size_t k = 0; k < ni; k++) {
        const srow *r = it[k].r;
        if (it[k].cls == 0) {
            prec *p = &o->preds.r[o->preds.n++];
            p->key = r->key;
            p->ts = r->ts;
            p->id = r->id;
            p->decision = rill_sgd_decision(l, r->x);
            p->label = rill_sgd_predict_label(l, r->x);
            bool logistic = opts->loss == RILL_SGD_LOGISTIC;
            p->prob = logistic ? rill_sgd_predict(l, r->x) : NAN;
            o->st.vectors++;
            if (state[r->id] == 1) {
                o->st.replaced++;
                o->st.waiting--;
            }
            state[r->id] = 1;
            vts[r->id] = r->ts;
            score[r->id] = logistic ? p->prob : p->label;
            vec[r->id] = r;
            o->st.waiting++;
            continue;
        }
        if (!r->has_y || (r->y != 0 && r->y != 1)) {
            o->st.invalid++;
            continue;
        }
        if (!r->has_id || r->id >= SN || state[r->id] == 0) {
            o->st.unmatched++;
            continue;
        }
        if (r->ts - vts[r->id] > TIMEOUT) {
            if (state[r->id] == 1) {
                o->st.expired++;
                o->st.waiting--;
            }
            state[r->id] = 0;
            o->st.unmatched++;
            continue;
        }
        if (state[r->id] == 2) {
            o->st.duplicates++;
            continue;
        }
        double y = (double)r->y;
        assert_int_equal(rill_sgd_learn(l, vec[r->id]->x, &y, 1, NULL), RILL_OK);
        assert_int_equal(rill_metrics_add(m, y, score[r->id]), RILL_OK);
        o->st.learned++;
        o->st.matched++;
        o->st.waiting--;
        state[r->id] = 2;
    }
    o->st.expired += o->st.waiting; /* the end of input */
    o->st.waiting = 0;
    rill_sgd_weights(l, o->w, &o->b);
    rill_metrics_read(m, &o->mr);
    rill_sgd_free(l);
    rill_metrics_free(m);
    free(state);
    free(vts);
    free(score);
    free(vec);
    free(it);
}

static void same_outcome(const outcome *a, const outcome *b, const char *what, uint64_t seed) {
    if (a->preds.n != b->preds.n)
        fail_msg("seed %llu, %s: %zu predictions, expected %zu", (unsigned long long)seed, what, a->preds.n,
                 b->preds.n);
    for (size_t i = 0; i < a->preds.n; i++) {
        const prec *x = &a->preds.r[i], *y = &b->preds.r[i];
        if (x->key != y->key || x->ts != y->ts || x->id != y->id || !same_bits(x->label, y->label) ||
            !same_bits(x->decision, y->decision) || !same_bits(x->prob, y->prob))
            fail_msg("seed %llu, %s: prediction %zu (id %lld ts %lld) is %g/%.17g/%.17g, expected id %lld ts %lld "
                     "%g/%.17g/%.17g", (unsigned long long)seed, what, i, (long long)x->id, (long long)x->ts,
                     x->label, x->decision, x->prob, (long long)y->id, (long long)y->ts, y->label, y->decision,
                     y->prob);
    }
    for (int j = 0; j < SD; j++)
        if (!same_bits(a->w[j], b->w[j])) fail_msg("seed %llu, %s: weight %d differs", (unsigned long long)seed, what, j);
    if (!same_bits(a->b, b->b)) fail_msg("seed %llu, %s: intercept differs", (unsigned long long)seed, what);
    const rill_model_stats *s = &a->st, *t = &b->st;
    if (memcmp(s, t, sizeof *s))
        fail_msg("seed %llu, %s: counters differ: vectors %llu/%llu labels %llu/%llu matched %llu/%llu learned "
                 "%llu/%llu late %llu/%llu unmatched %llu/%llu duplicates %llu/%llu invalid %llu/%llu expired "
                 "%llu/%llu replaced %llu/%llu unjoinable %llu/%llu waiting %llu/%llu", (unsigned long long)seed,
                 what, (unsigned long long)s->vectors, (unsigned long long)t->vectors, (unsigned long long)s->labels,
                 (unsigned long long)t->labels, (unsigned long long)s->matched, (unsigned long long)t->matched,
                 (unsigned long long)s->learned, (unsigned long long)t->learned, (unsigned long long)s->late,
                 (unsigned long long)t->late, (unsigned long long)s->unmatched, (unsigned long long)t->unmatched,
                 (unsigned long long)s->duplicates, (unsigned long long)t->duplicates,
                 (unsigned long long)s->invalid, (unsigned long long)t->invalid, (unsigned long long)s->expired,
                 (unsigned long long)t->expired, (unsigned long long)s->replaced, (unsigned long long)t->replaced,
                 (unsigned long long)s->unjoinable, (unsigned long long)t->unjoinable,
                 (unsigned long long)s->waiting, (unsigned long long)t->waiting);
}

static const rill_sgd_opts sgd_configs[2] = {
    { .loss = RILL_SGD_LOGISTIC, .schedule = RILL_SGD_ADAGRAD, .eta0 = 0.1, .l2 = 1e-4, .standardize = true },
    { .loss = RILL_SGD_HINGE, .schedule = RILL_SGD_INVSCALING, .eta0 = 0.05, .clip = 1.0, .batch = 4 },
};

static void test_sgd_oracle(void **st) {
    (void)st;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        size_t n;
        srow *rows = make_sgd_stream(seed, &n);
        for (int cfg = 0; cfg < 2; cfg++) {
            outcome want;
            oracle(rows, n, &sgd_configs[cfg], &want);
            /* the stream exercises every counter */
            assert_true(want.st.matched > 1000 && want.st.expired > 0 && want.st.unmatched > 0 &&
                        want.st.duplicates > 0 && want.st.invalid > 0 && want.st.late > 0);
            static const size_t sizes[] = { 1, 7, 1000 };
            for (int b = 0; b < 3; b++) {
                outcome got;
                char what[64];
                snprintf(what, sizeof what, "config %d, batches of %zu", cfg, sizes[b]);
                run_sgd(rows, n, &sgd_configs[cfg], sizes[b], &got);
                same_outcome(&got, &want, what, seed);
                if (memcmp(&got.mr, &want.mr, sizeof got.mr))
                    fail_msg("seed %llu, %s: metrics differ (accuracy %.6f / %.6f)", (unsigned long long)seed,
                             what, got.mr.cumulative.accuracy, want.mr.cumulative.accuracy);
                free(got.preds.r);
            }
            if (seed == 1)
                print_message("config %d: %llu predictions, %llu learned, %llu expired, %llu unmatched, %llu late, "
                              "prequential accuracy %.3f\n", cfg, (unsigned long long)want.st.vectors,
                              (unsigned long long)want.st.learned, (unsigned long long)want.st.expired,
                              (unsigned long long)want.st.unmatched, (unsigned long long)want.st.late,
                              want.mr.cumulative.accuracy);
            free(want.preds.r);
        }
        /* every event first, then every label: the vectors wait for the
         * labels' watermark (and the queues compact as they drain) */
        srow *split = calloc(n, sizeof *split);
        assert_non_null(split);
        size_t k = 0;
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < n; i++)
                if (rows[i].lab == (pass == 1)) split[k++] = rows[i];
        outcome want, got;
        /* the hot-key cache: waiting predictions evicted to the state after
         * each commit and read back for their label or their expiry */
        oracle(rows, n, &sgd_configs[0], &want);
        run_sgd_hot(rows, n, &sgd_configs[0], 7, 4, &got);
        same_outcome(&got, &want, "evicting", seed);
        free(got.preds.r);
        free(want.preds.r);
        oracle(split, n, &sgd_configs[0], &want);
        assert_true(want.st.matched > 1000);
        static const size_t sizes2[] = { 1, 100 };
        for (int b = 0; b < 2; b++) {
            char what[64];
            snprintf(what, sizeof what, "events first, batches of %zu", sizes2[b]);
            run_sgd(split, n, &sgd_configs[0], sizes2[b], &got);
            same_outcome(&got, &want, what, seed);
            free(got.preds.r);
        }
        free(want.preds.r);
        free(split);
        free(rows);
    }
}

/* ---- checkpoint / restore --------------------------------------------------------- */

static void test_sgd_checkpoint(void **st) {
    (void)st;
    size_t n;
    srow *rows = make_sgd_stream(5, &n);
    const rill_sgd_opts *opts = &sgd_configs[0];
    outcome want;
    run_sgd(rows, n, opts, 7, &want);

    char db[256];
    path_in(db, sizeof db, "ckpt");
    outcome got;
    memset(&got, 0, sizeof got);
    rill_graph *g = sgd_graph(opts, &got.preds);
    rill_state *s;
    must(rill_state_open_rocksdb(db, NULL, &s), "open rocksdb", NULL);
    rill_plan_opts po = { .state = s };
    rill_plan *p = compile(g, &po);
    size_t cut = n / 2;
    push_srows(p, rows, 0, cut / 2, 7);
    must(rill_plan_commit(p), "commit", p);
    push_srows(p, rows, cut / 2, cut, 7);
    must(rill_plan_commit(p), "commit", p);
    rill_model_stats before;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", NULL, &before), RILL_OK);
    assert_true(before.waiting > 0); /* the checkpoint holds waiting predictions */
    rill_plan_free(p);
    rill_state_close(s);

    must(rill_state_open_rocksdb(db, NULL, &s), "reopen rocksdb", NULL);
    po.state = s;
    p = compile(g, &po);
    rill_model_stats after;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", NULL, &after), RILL_OK);
    assert_memory_equal(&before, &after, sizeof before);
    push_srows(p, rows, cut, n, 7);
    must(rill_plan_flush(p), "flush", p);
    read_outcome(p, &got);
    same_outcome(&got, &want, "restart", 5);
    rill_plan_free(p);
    rill_state_close(s);
    rill_graph_free(g);
    free(got.preds.r);
    free(want.preds.r);
    free(rows);
    tu_rm_rf(db);
}

/* ---- the label join by hand ---------------------------------------------------------- */

typedef struct hrow { const char *src; int64_t key, ts, id; double v; bool has_id; } hrow;

static void push_h(rill_plan *p, const hrow *h) {
    bool lab = !strcmp(h->src, "lab");
    rill_schema *s = lab ? label_schema() : fschema(1);
    rill_batch *b = rill_batch_new(s, 1);
    assert_int_equal(rill_batch_append(b, h->ts, rill_i64(h->key)), RILL_OK);
    if (lab) assert_int_equal(rill_batch_set_i64(b, 0, (int64_t)h->v), RILL_OK);
    else assert_int_equal(rill_batch_set_f64(b, 0, h->v), RILL_OK);
    if (h->has_id) assert_int_equal(rill_batch_set_id(b, rill_i64(h->id)), RILL_OK);
    must(rill_plan_push(p, h->src, b), "push", p);
    rill_batch_free(b);
    rill_schema_free(s);
}

static void test_join_by_id(void **st) {
    (void)st;
    const rill_sgd_opts o = { .eta0 = 0.1 };
    rill_graph *g = base_graph(1, 0, 100);
    rill_labels_opts lab = { .input = "lab", .timeout_ms = 100 };
    assert_int_equal(rill_graph_sgd(g, "sgd", "fv", &o, &lab), RILL_OK);
    pcap c = { .op = "sgd" };
    assert_int_equal(rill_graph_sink(g, "out", "sgd", on_pred, &c), RILL_OK);
    assert_int_equal(rill_graph_on_late(g, on_late, NULL), RILL_OK);
    rill_plan *p = compile(g, NULL);
    static const hrow h[] = {
        { "ev", 1, 10, 1, 1.0, true },
        { "ev", 1, 20, 2, 2.0, true },
        { "ev", 2, 30, 3, -1.0, true },
        { "ev", 2, 40, 4, 0.5, true },    /* never labelled: expires */
        { "ev", 3, 50, 5, 0.25, true },   /* its label comes 150 ms later: too late */
        { "ev", 3, 60, 0, 3.0, false },   /* no id: unjoinable */
        { "lab", 2, 35, 3, 1, true },     /* labels out of the predictions' order */
        { "lab", 1, 36, 1, 0, true },
        { "lab", 1, 37, 2, 1, true },
        { "lab", 1, 38, 1, 1, true },     /* a duplicate */
        { "lab", 9, 39, 99, 1, true },    /* an unknown id */
        { "lab", 1, 39, 2, 2, true },     /* invalid for logistic loss */
        { "lab", 1, 39, 0, 1, false },    /* no id */
        { "lab", 3, 200, 5, 1, true },    /* too late: its prediction expired */
        { "ev", 4, 300, 6, 1.0, true },   /* never labelled */
        { "lab", 4, 20, 6, 1, true },     /* behind the labels' watermark (100): late */
    };
    late_seen = 0;
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) push_h(p, &h[i]);
    must(rill_plan_flush(p), "flush", p);
    rill_model_stats s;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", NULL, &s), RILL_OK);
    assert_int_equal(s.vectors, 7);
    assert_int_equal(s.labels, 9);
    assert_int_equal(s.matched, 3);
    assert_int_equal(s.learned, 3);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.unmatched, 3); /* id 99, no id, too late */
    assert_int_equal(s.invalid, 1);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.expired, 3);   /* id 4, id 5, id 6 */
    assert_int_equal(s.unjoinable, 1);
    assert_int_equal(s.replaced, 0);
    assert_int_equal(s.waiting, 0);
    assert_true(late_seen >= 1);
    /* the learner learned (x -1, y 1), (x 1, y 0), (x 2, y 1) in label
     * time order, and the prediction at 40 came after all three */
    rill_sgd *l;
    char err[256];
    assert_int_equal(rill_sgd_new(1, &o, &l, err, sizeof err), RILL_OK);
    assert_int_equal(c.n, 7);
    static const double first[3] = { 1.0, 2.0, -1.0 }; /* predicted before any label */
    for (int k = 0; k < 3; k++) assert_true(same_bits(c.r[k].decision, rill_sgd_decision(l, &first[k])));
    double x = -1, y = 1;
    assert_int_equal(rill_sgd_learn(l, &x, &y, 1, NULL), RILL_OK);
    x = 1, y = 0;
    assert_int_equal(rill_sgd_learn(l, &x, &y, 1, NULL), RILL_OK);
    x = 2, y = 1;
    assert_int_equal(rill_sgd_learn(l, &x, &y, 1, NULL), RILL_OK);
    x = 0.5;
    assert_int_equal(c.r[3].id, 4);
    assert_true(same_bits(c.r[3].decision, rill_sgd_decision(l, &x)));
    assert_true(same_bits(c.r[3].prob, rill_sgd_predict(l, &x)));
    double w, b, wl, bl;
    assert_int_equal(rill_plan_model_weights(p, "sgd", &w, 1, &b), RILL_OK);
    rill_sgd_weights(l, &wl, &bl);
    assert_true(same_bits(w, wl) && same_bits(b, bl));
    rill_metrics_report mr;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", &mr, NULL), RILL_OK);
    assert_int_equal(mr.cumulative.n, 3);
    rill_sgd_free(l);
    rill_plan_free(p);
    rill_graph_free(g);
    free(c.r);
}

static void test_join_by_key(void **st) {
    (void)st;
    const rill_sgd_opts o = { .eta0 = 0.1, .loss = RILL_SGD_SQUARED };
    rill_graph *g = base_graph(1, 0, 0);
    rill_labels_opts lab = { .input = "lab", .join = RILL_JOIN_BY_KEY, .timeout_ms = 1000 };
    assert_int_equal(rill_graph_sgd(g, "sgd", "fv", &o, &lab), RILL_OK);
    pcap c = { .op = "sgd" };
    assert_int_equal(rill_graph_sink(g, "out", "sgd", on_pred, &c), RILL_OK);
    rill_plan *p = compile(g, NULL);
    static const hrow h[] = {
        { "ev", 1, 10, 0, 1.0, false },
        { "ev", 1, 20, 0, 3.0, false },  /* replaces the unlabelled one at 10 */
        { "lab", 1, 25, 0, 5, false },   /* labels the one at 20 */
        { "lab", 1, 26, 0, 7, false },   /* a duplicate */
        { "lab", 2, 27, 0, 1, false },   /* no prediction for key 2 */
        { "ev", 2, 30, 0, 2.0, false },  /* never labelled */
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) push_h(p, &h[i]);
    must(rill_plan_flush(p), "flush", p);
    rill_model_stats s;
    rill_metrics_report mr;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", &mr, &s), RILL_OK);
    assert_int_equal(s.vectors, 3);
    assert_int_equal(s.replaced, 1);
    assert_int_equal(s.matched, 1);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.unmatched, 1);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.unjoinable, 0);
    assert_int_equal(c.n, 3);
    assert_true(isnan(c.r[0].prob)); /* regression: no probability */
    /* learned (x 3, y 5); the metrics saw the prediction made at 20 (0) */
    rill_sgd *l;
    char err[256];
    assert_int_equal(rill_sgd_new(1, &o, &l, err, sizeof err), RILL_OK);
    double x = 3, y = 5, w, b, wl, bl;
    assert_int_equal(rill_sgd_learn(l, &x, &y, 1, NULL), RILL_OK);
    assert_int_equal(rill_plan_model_weights(p, "sgd", &w, 1, &b), RILL_OK);
    rill_sgd_weights(l, &wl, &bl);
    assert_true(same_bits(w, wl) && same_bits(b, bl));
    assert_int_equal(mr.cumulative.n, 1);
    assert_true(mr.cumulative.mae == 5.0);
    x = 2;
    assert_true(same_bits(c.r[2].label, rill_sgd_predict(l, &x)));
    rill_sgd_free(l);
    rill_plan_free(p);
    rill_graph_free(g);
    free(c.r);
}

static void test_sgd_errors(void **st) {
    (void)st;
    rill_graph *g = base_graph(2, 0, 0);
    assert_int_equal(rill_graph_sgd(g, "a", "fv", NULL, NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_graph_errmsg(g), "labels"));
    assert_int_equal(rill_graph_sgd(g, "b", "fv", NULL, &(rill_labels_opts){ .input = "lab", .timeout_ms = -1 }),
                     RILL_EINVAL);
    assert_int_equal(rill_graph_sgd(g, "c", "fv", NULL, &(rill_labels_opts){ .input = "lab", .field = "y" }),
                     RILL_OK);
    rill_plan *p = NULL;
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_EUNKNOWN_FIELD);
    assert_non_null(strstr(rill_graph_errmsg(g), "'y'"));
    rill_graph_free(g);

    g = base_graph(2, 0, 0);
    rill_agg_spec a[] = { { RILL_AGG_COUNT, NULL, "n", 0 } };
    rill_window_opts w = { .window = rill_tumbling(10), .aggs = a, .n_aggs = 1 };
    assert_int_equal(rill_graph_window(g, "w", "ev", &w), RILL_OK);
    assert_int_equal(rill_graph_sgd(g, "m", "w", NULL, &(rill_labels_opts){ .input = "lab" }), RILL_OK);
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_EFIELD_TYPE); /* count is i64 */
    rill_graph_free(g);

    g = base_graph(2, 0, 0);
    assert_int_equal(rill_graph_sgd(g, "m", "fv", &(rill_sgd_opts){ .eta0 = -1 }, &(rill_labels_opts){ .input = "lab" }),
                     RILL_OK);
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_EINVAL);
    rill_graph_free(g);

    g = base_graph(2, 0, 0);
    assert_int_equal(rill_graph_sgd(g, "m", "fv", NULL, &(rill_labels_opts){ .input = "ghost" }), RILL_OK);
    assert_int_equal(rill_graph_compile(g, NULL, &p), RILL_EUNKNOWN_NODE);
    rill_graph_free(g);

    g = base_graph(2, 0, 0);
    assert_int_equal(rill_graph_sgd(g, "m", "fv", NULL, &(rill_labels_opts){ .input = "lab" }), RILL_OK);
    p = compile(g, NULL);
    assert_int_equal(rill_plan_model_metrics(p, "fv", NULL, NULL), RILL_EUNKNOWN_NODE);
    assert_int_equal(rill_plan_model_metrics(p, "nope", NULL, NULL), RILL_EUNKNOWN_NODE);
    rill_features_stats fs;
    assert_int_equal(rill_plan_features_stats(p, "m", &fs), RILL_EUNKNOWN_NODE);
    rill_plan_free(p);
    rill_graph_free(g);
}

/* ---- Elec2 through the graph ---------------------------------------------------------- */

#define ENF 8
#define EROWS 45312

static void test_elec2_pipeline(void **st) {
    (void)st;
    char csv[1024];
    tu_data_file(csv, sizeof csv, "elec2.csv");
    FILE *f = fopen(csv, "r");
    if (!f) {
        print_message("SKIPPED: %s not found (set RILL_DATA_DIR to the folder holding elec2.csv)\n", csv);
        skip();
    }
    double *X = malloc(sizeof *X * EROWS * ENF), *Y = malloc(sizeof *Y * EROWS);
    assert_true(X && Y);
    size_t n = 0;
    char line[512];
    while (n < EROWS && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        for (int j = 0; j < ENF; j++) {
            X[n * ENF + j] = strtod(p, &end);
            assert_true(end != p && *end == ',');
            p = end + 1;
        }
        Y[n++] = !strncmp(p, "UP", 2);
    }
    fclose(f);
    assert_int_equal(n, EROWS);

    static const char *const cols[ENF] = { "date", "day", "period", "nswprice", "nswdemand", "vicprice",
                                           "vicdemand", "transfer" };
    rill_field fs[ENF];
    rill_feature ft[ENF];
    for (int j = 0; j < ENF; j++) {
        fs[j] = (rill_field){ cols[j], RILL_F64 };
        ft[j] = (rill_feature){ "elec", cols[j], NULL, 0.0 };
    }
    rill_schema *se = rill_schema_new(fs, ENF), *sl = label_schema();
    rill_graph *g = rill_graph_new();
    assert_int_equal(rill_graph_source(g, "elec", se, NULL), RILL_OK);
    assert_int_equal(rill_graph_source(g, "lab", sl, NULL), RILL_OK);
    assert_int_equal(rill_graph_features(g, "fv", &(rill_features_opts){ "elec", ft, ENF }), RILL_OK);
    const rill_sgd_opts o = { .loss = RILL_SGD_LOGISTIC, .eta0 = 0.005, .intercept_eta0 = 0.01,
                              .standardize = true };
    assert_int_equal(rill_graph_sgd(g, "sgd", "fv", &o, &(rill_labels_opts){ .input = "lab" }), RILL_OK);
    rill_plan *p = compile(g, NULL);
    /* row i at i * 1800 s; its label half a period later, before row i + 1 */
    const int64_t t0 = 1700000000000, period = 1800000;
    for (size_t k0 = 0; k0 < n; k0 += 1000) {
        size_t k1 = k0 + 1000 < n ? k0 + 1000 : n;
        rill_batch *b = rill_batch_new(se, 1000), *l = rill_batch_new(sl, 1000);
        for (size_t k = k0; k < k1; k++) {
            int64_t ts = t0 + (int64_t)k * period;
            assert_int_equal(rill_batch_append(b, ts, rill_i64(0)), RILL_OK);
            for (int j = 0; j < ENF; j++) assert_int_equal(rill_batch_set_f64(b, (size_t)j, X[k * ENF + j]), RILL_OK);
            assert_int_equal(rill_batch_set_id(b, rill_i64((int64_t)k)), RILL_OK);
            assert_int_equal(rill_batch_append(l, ts + period / 2, rill_i64(0)), RILL_OK);
            assert_int_equal(rill_batch_set_i64(l, 0, (int64_t)Y[k]), RILL_OK);
            assert_int_equal(rill_batch_set_id(l, rill_i64((int64_t)k)), RILL_OK);
        }
        must(rill_plan_push(p, "elec", b), "push", p);
        must(rill_plan_push(p, "lab", l), "push labels", p);
        rill_batch_free(b);
        rill_batch_free(l);
    }
    must(rill_plan_flush(p), "flush", p);
    rill_metrics_report mr;
    rill_model_stats s;
    assert_int_equal(rill_plan_model_metrics(p, "sgd", &mr, &s), RILL_OK);
    assert_int_equal(s.matched, EROWS);
    assert_int_equal(mr.cumulative.n, EROWS);

    /* the standalone learner, test-then-train over the same rows */
    rill_sgd *l;
    char err[256];
    assert_int_equal(rill_sgd_new(ENF, &o, &l, err, sizeof err), RILL_OK);
    double *pred = malloc(sizeof *pred * n);
    assert_non_null(pred);
    assert_int_equal(rill_sgd_learn(l, X, Y, n, pred), RILL_OK);
    size_t correct = 0;
    for (size_t k = 0; k < n; k++) correct += (pred[k] >= 0.5) == (Y[k] > 0.0);
    double standalone = (double)correct / (double)n;
    print_message("Elec2 through source -> feature vector -> SGD with delayed labels: prequential accuracy "
                  "%.4f (standalone %.4f, published 0.822); window of 1000: %.4f; AUC %.4f\n",
                  mr.cumulative.accuracy, standalone, mr.window.accuracy, mr.cumulative.auc);
    assert_true(mr.cumulative.accuracy == standalone);
    assert_true(mr.cumulative.accuracy >= 0.82);
    rill_sgd_free(l);
    free(pred);
    free(X);
    free(Y);
    rill_plan_free(p);
    rill_graph_free(g);
    rill_schema_free(se);
    rill_schema_free(sl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_node),
        cmocka_unit_test(test_linear_errors),
        cmocka_unit_test(test_sgd_oracle),
        cmocka_unit_test(test_sgd_checkpoint),
        cmocka_unit_test(test_join_by_id),
        cmocka_unit_test(test_join_by_key),
        cmocka_unit_test(test_sgd_errors),
        cmocka_unit_test(test_elec2_pipeline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
