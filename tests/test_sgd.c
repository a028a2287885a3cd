/* tests/test_sgd.c — the online SGD learner (learners/sgd.c).
 *
 * - Oracle: every combination of loss, schedule, standardisation, L2,
 *   clipping, intercept and mini-batch size against a plain reimplementation
 *   written here from the definitions (mean and variance recomputed by two
 *   passes over every example seen so far), weights and test-then-train
 *   predictions compared after every call.
 * - Convergence on separable data; one pass over a stationary logistic
 *   stream within 1 point of held-out accuracy of liblinear's batch model.
 * - Determinism: the same stream in any split into calls gives the same
 *   bits; 0/1 and -1/+1 labels give the same bits.
 * - Save/load: a restored learner continues bit for bit; every corruption of
 *   the blob is refused.
 * - Bad input and bad options are refused without changing anything.
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
#include <linear.h>
#include <xxhash.h>

#include "rill/learn.h"
#include "test_util.h"

static rill_sgd *new_sgd(size_t dim, const rill_sgd_opts *o) {
    rill_sgd *l = NULL;
    char err[256] = "";
    int rc = rill_sgd_new(dim, o, &l, err, sizeof err);
    if (rc != RILL_OK)
        fail_msg("rill_sgd_new: %s", err);
    return l;
}

/* ---- the oracle --------------------------------------------------------- */

#define OD 5      /* features */
#define ON 300    /* examples */

typedef struct ref {
    int loss, schedule, standardize, intercept;
    double eta, eta_b, power, eps, l2, clip;
    int batch;
    double w[OD], b, G[OD], Gb, acc[OD], acc_b;
    int pending;
    long seen, steps;
    double hist[ON][OD]; /* every example learned so far */
} ref;

static double clip_to(double g, double c) {
    if (c <= 0.0)
        return g;
    return g < -c ? -c : g > c ? c : g;
}

/* Standardise x with the statistics of the first n rows of hist. */
static void ref_standardize(const ref *r, long n, const double *x, double *z) {
    for (int i = 0; i < OD; i++) {
        if (!r->standardize) {
            z[i] = x[i];
            continue;
        }
        double mean = 0.0, var = 0.0;
        for (long k = 0; k < n; k++)
            mean += r->hist[k][i];
        mean = n ? mean / (double)n : 0.0;
        for (long k = 0; k < n; k++)
            var += (r->hist[k][i] - mean) * (r->hist[k][i] - mean);
        var = n ? var / (double)n : 0.0;
        double sd = sqrt(var);
        /* a variance that is zero up to rounding counts as zero */
        z[i] = sd > 1e-12 ? (x[i] - mean) / sd : 0.0;
    }
}

static double ref_decision(const ref *r, const double *z) {
    double f = r->b;
    for (int i = 0; i < OD; i++)
        f += r->w[i] * z[i];
    return f;
}

static double ref_predict(const ref *r, const double *x) {
    double z[OD];
    ref_standardize(r, r->seen, x, z);
    double f = ref_decision(r, z);
    return r->loss == RILL_SGD_LOGISTIC ? 1.0 / (1.0 + exp(-f)) : f;
}

static void ref_step(ref *r, const double *gw, double gb) {
    r->steps++;
    double scale = 1.0;
    if (r->schedule == RILL_SGD_INVSCALING)
        scale = 1.0 / pow((double)r->steps, r->power);
    for (int i = 0; i < OD; i++) {
        double g = clip_to(gw[i] + r->l2 * r->w[i], r->clip);
        if (r->schedule == RILL_SGD_ADAGRAD) {
            r->G[i] += g * g;
            r->w[i] -= r->eta * g / (sqrt(r->G[i]) + r->eps);
        } else {
            r->w[i] -= r->eta * scale * g;
        }
    }
    if (!r->intercept)
        return;
    double g = clip_to(gb, r->clip);
    if (r->schedule == RILL_SGD_ADAGRAD) {
        r->Gb += g * g;
        r->b -= r->eta_b * g / (sqrt(r->Gb) + r->eps);
    } else {
        r->b -= r->eta_b * scale * g;
    }
}

static void ref_learn(ref *r, const double *x, double y) {
    memcpy(r->hist[r->seen], x, sizeof r->hist[0]);
    r->seen++;
    double z[OD];
    ref_standardize(r, r->seen, x, z);
    double f = ref_decision(r, z), d;
    if (r->loss == RILL_SGD_LOGISTIC) {
        d = 1.0 / (1.0 + exp(-f)) - (y > 0 ? 1.0 : 0.0);
    } else if (r->loss == RILL_SGD_SQUARED) {
        d = f - y;
    } else {
        double ys = y > 0 ? 1.0 : -1.0;
        d = ys * f < 1.0 ? -ys : 0.0;
    }
    if (r->batch <= 1) {
        double g[OD];
        for (int i = 0; i < OD; i++)
            g[i] = d * z[i];
        ref_step(r, g, d);
        return;
    }
    for (int i = 0; i < OD; i++)
        r->acc[i] += d * z[i];
    r->acc_b += d;
    if (++r->pending == r->batch) {
        double g[OD];
        for (int i = 0; i < OD; i++)
            g[i] = r->acc[i] / r->batch;
        ref_step(r, g, r->acc_b / r->batch);
        memset(r->acc, 0, sizeof r->acc);
        r->acc_b = 0.0;
        r->pending = 0;
    }
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-9 * (1.0 + fabs(b)); }

static void oracle_stream(tu_rng *g, int loss, double X[ON][OD], double *y) {
    for (int k = 0; k < ON; k++) {
        X[k][0] = tu_gauss(g);
        X[k][1] = 3.0 + 10.0 * tu_gauss(g);
        X[k][2] = 2.5; /* constant: zero variance */
        X[k][3] = tu_unif(g) < 0.2 ? 1.0 : 0.0;
        X[k][4] = 0.1 * tu_gauss(g) - 4.0;
        double f = 0.8 * X[k][0] - 0.05 * X[k][1] + 1.5 * X[k][3] + 0.3;
        if (loss == RILL_SGD_SQUARED) {
            y[k] = f + 0.3 * tu_gauss(g);
        } else {
            int pos = tu_unif(g) < 1.0 / (1.0 + exp(-2.0 * f));
            /* both label conventions, mixed */
            y[k] = pos ? 1.0 : (tu_unif(g) < 0.5 ? 0.0 : -1.0);
        }
    }
}

static void test_oracle(void **st) {
    (void)st;
    static const int schedules[] = { RILL_SGD_CONSTANT, RILL_SGD_INVSCALING, RILL_SGD_INVSCALING,
                                     RILL_SGD_ADAGRAD };
    static const double powers[] = { 0.0, 0.5, 0.7, 0.0 };
    static double X[ON][OD], y[ON];
    static ref r;
    int configs = 0;
    for (int loss = 0; loss < 3; loss++)
        for (int si = 0; si < 4; si++)
            for (int std = 0; std < 2; std++)
                for (int reg = 0; reg < 2; reg++)
                    for (int bi = 0; bi < 2; bi++) {
                        uint64_t seed = 1000u + (uint64_t)configs;
                        tu_rng g = { seed * 0x9e3779b97f4a7c15ULL + 1 };
                        oracle_stream(&g, loss, X, y);
                        rill_sgd_opts o = {
                            .loss = (rill_sgd_loss)loss,
                            .schedule = (rill_sgd_schedule)schedules[si],
                            .eta0 = schedules[si] == RILL_SGD_ADAGRAD ? 0.2 : 0.02,
                            .intercept_eta0 = reg ? 0.03 : 0.0,
                            .power = powers[si],
                            .l2 = reg ? 0.01 : 0.0,
                            .clip = reg ? 0.5 : 0.0,
                            .no_intercept = reg && std,
                            .standardize = std,
                            .batch = bi ? 7 : 0,
                        };
                        memset(&r, 0, sizeof r);
                        r.loss = loss;
                        r.schedule = schedules[si];
                        r.standardize = std;
                        r.intercept = !o.no_intercept;
                        r.eta = o.eta0;
                        r.eta_b = reg ? 0.03 : o.eta0;
                        r.power = powers[si] > 0 ? powers[si] : 0.5;
                        r.eps = 1e-8;
                        r.l2 = o.l2;
                        r.clip = o.clip;
                        r.batch = bi ? 7 : 1;
                        rill_sgd *l = new_sgd(OD, &o);
                        /* calls of 1..9 rows */
                        for (int k = 0; k < ON;) {
                            int n = 1 + (int)(tu_unif(&g) * 9);
                            if (k + n > ON)
                                n = ON - k;
                            double pred[9], want[9];
                            for (int j = 0; j < n; j++) {
                                want[j] = ref_predict(&r, X[k + j]);
                                ref_learn(&r, X[k + j], y[k + j]);
                            }
                            assert_int_equal(rill_sgd_learn(l, X[k], y + k, (size_t)n, pred),
                                             RILL_OK);
                            for (int j = 0; j < n; j++)
                                if (!close_to(pred[j], want[j]))
                                    fail_msg("seed %llu loss %d schedule %d std %d reg %d "
                                             "batch %d: prediction of row %d is %.17g, "
                                             "expected %.17g",
                                             (unsigned long long)seed, loss, si, std, reg,
                                             r.batch, k + j, pred[j], want[j]);
                            k += n;
                            double w[OD], b;
                            rill_sgd_weights(l, w, &b);
                            for (int i = 0; i < OD; i++)
                                if (!close_to(w[i], r.w[i]))
                                    fail_msg("seed %llu loss %d schedule %d std %d reg %d "
                                             "batch %d: after %d rows w[%d] = %.17g, "
                                             "expected %.17g",
                                             (unsigned long long)seed, loss, si, std, reg,
                                             r.batch, k, i, w[i], r.w[i]);
                            if (!close_to(b, r.b))
                                fail_msg("seed %llu: after %d rows intercept %.17g, expected "
                                         "%.17g", (unsigned long long)seed, k, b, r.b);
                        }
                        assert_int_equal(rill_sgd_seen(l), ON);
                        assert_int_equal(rill_sgd_steps(l), (uint64_t)r.steps);
                        /* the prediction functions agree with the oracle */
                        for (int k = 0; k < 20; k++) {
                            double p = rill_sgd_predict(l, X[k]);
                            assert_true(close_to(p, ref_predict(&r, X[k])));
                            double z[OD];
                            ref_standardize(&r, r.seen, X[k], z);
                            double f = ref_decision(&r, z);
                            assert_true(close_to(rill_sgd_decision(l, X[k]), f));
                            if (loss != RILL_SGD_SQUARED)
                                assert_int_equal(rill_sgd_predict_label(l, X[k]), f >= 0.0);
                        }
                        rill_sgd_free(l);
                        configs++;
                    }
    assert_int_equal(configs, 96);
}

/* ---- convergence --------------------------------------------------------- */

static void test_separable(void **st) {
    (void)st;
    enum { D = 4, N = 400 };
    static double X[N][D], y[N];
    const double wt[D] = { 1.0, -2.0, 0.5, 1.0 };
    tu_rng g = { 42 };
    for (int k = 0; k < N;) {
        double f = 0.2;
        for (int i = 0; i < D; i++) {
            X[k][i] = 2.0 * tu_unif(&g) - 1.0;
            f += wt[i] * X[k][i];
        }
        if (fabs(f) < 0.1) /* keep a margin */
            continue;
        y[k++] = f > 0 ? 1.0 : 0.0;
    }
    const rill_sgd_opts opts[] = {
        { .loss = RILL_SGD_LOGISTIC, .eta0 = 0.5 },
        { .loss = RILL_SGD_HINGE, .eta0 = 0.1 },
        { .loss = RILL_SGD_LOGISTIC, .schedule = RILL_SGD_ADAGRAD, .eta0 = 1.0,
          .standardize = true },
    };
    for (size_t c = 0; c < sizeof opts / sizeof opts[0]; c++) {
        rill_sgd *l = new_sgd(D, &opts[c]);
        int pass, correct = 0;
        for (pass = 1; pass <= 10; pass++) {
            assert_int_equal(rill_sgd_learn(l, X[0], y, N, NULL), RILL_OK);
            correct = 0;
            for (int k = 0; k < N; k++)
                correct += rill_sgd_predict_label(l, X[k]) == (int)y[k];
            if (correct == N)
                break;
        }
        print_message("separable, config %zu: accuracy %d/%d after %d passes\n", c, correct, N,
                      pass > 10 ? 10 : pass);
        assert_int_equal(correct, N);
        rill_sgd_free(l);
    }
}

static void silent(const char *s) { (void)s; }

static void test_vs_liblinear(void **st) {
    (void)st;
    enum { D = 10, NTR = 20000, NTE = 20000 };
    double *X = malloc(sizeof(double) * D * (NTR + NTE)), *y = malloc(sizeof(double) * (NTR + NTE));
    assert_non_null(X);
    assert_non_null(y);
    tu_rng g = { 7 };
    double wt[D];
    for (int i = 0; i < D; i++)
        wt[i] = tu_gauss(&g);
    for (int k = 0; k < NTR + NTE; k++) {
        double f = -0.5;
        for (int i = 0; i < D; i++) {
            X[k * D + i] = tu_gauss(&g) * (1.0 + i * 0.2);
            f += wt[i] * X[k * D + i];
        }
        y[k] = tu_unif(&g) < 1.0 / (1.0 + exp(-f)) ? 1.0 : 0.0;
    }

    /* online: one pass */
    rill_sgd *l = new_sgd(D, &(rill_sgd_opts){ .eta0 = 0.01 });
    assert_int_equal(rill_sgd_learn(l, X, y, NTR, NULL), RILL_OK);
    int ok_sgd = 0;
    for (int k = NTR; k < NTR + NTE; k++)
        ok_sgd += rill_sgd_predict_label(l, X + k * D) == (int)y[k];

    /* batch: liblinear's L2-regularised logistic regression with a bias */
    struct feature_node *nodes = malloc(sizeof *nodes * (size_t)NTR * (D + 2));
    struct feature_node **rows = malloc(sizeof *rows * NTR);
    double *ly = malloc(sizeof *ly * NTR);
    assert_non_null(nodes);
    assert_non_null(rows);
    assert_non_null(ly);
    for (int k = 0; k < NTR; k++) {
        struct feature_node *n = nodes + (size_t)k * (D + 2);
        rows[k] = n;
        for (int i = 0; i < D; i++)
            n[i] = (struct feature_node){ i + 1, X[k * D + i] };
        n[D] = (struct feature_node){ D + 1, 1.0 };
        n[D + 1] = (struct feature_node){ -1, 0.0 };
        ly[k] = y[k] > 0 ? 1.0 : -1.0;
    }
    struct problem prob = { .l = NTR, .n = D + 1, .y = ly, .x = rows, .bias = 1.0 };
    struct parameter param = { .solver_type = L2R_LR, .eps = 0.01, .C = 1.0 };
    set_print_string_function(silent);
    assert_null(check_parameter(&prob, &param));
    struct model *m = train(&prob, &param);
    assert_non_null(m);
    int ok_ll = 0;
    struct feature_node q[D + 2];
    for (int k = NTR; k < NTR + NTE; k++) {
        for (int i = 0; i < D; i++)
            q[i] = (struct feature_node){ i + 1, X[k * D + i] };
        q[D] = (struct feature_node){ D + 1, 1.0 };
        q[D + 1] = (struct feature_node){ -1, 0.0 };
        ok_ll += (predict(m, q) > 0) == (y[k] > 0);
    }
    double a_sgd = (double)ok_sgd / NTE, a_ll = (double)ok_ll / NTE;
    print_message("held-out accuracy: SGD one pass %.4f, liblinear batch %.4f\n", a_sgd, a_ll);
    assert_true(fabs(a_sgd - a_ll) <= 0.01);

    free_and_destroy_model(&m);
    free(ly);
    free(rows);
    free(nodes);
    rill_sgd_free(l);
    free(y);
    free(X);
}

/* ---- determinism ----------------------------------------------------------- */

enum { SD = 6, SN = 1000 };

static void stream(uint64_t seed, double *X, double *y, int signed_labels) {
    tu_rng g = { seed };
    for (int k = 0; k < SN; k++) {
        double f = 0.1;
        for (int i = 0; i < SD; i++) {
            X[k * SD + i] = tu_gauss(&g) * (i + 1) + i;
            f += X[k * SD + i] * (i % 2 ? 0.3 : -0.2);
        }
        int pos = tu_unif(&g) < 1.0 / (1.0 + exp(-f));
        y[k] = pos ? 1.0 : signed_labels ? -1.0 : 0.0;
    }
}

static const rill_sgd_opts det_opts[] = {
    { .eta0 = 0.05 },
    { .schedule = RILL_SGD_ADAGRAD, .eta0 = 0.3, .l2 = 1e-3, .clip = 0.7, .standardize = true },
    { .loss = RILL_SGD_HINGE, .schedule = RILL_SGD_INVSCALING, .power = 0.6, .eta0 = 0.1,
      .standardize = true, .batch = 5 },
    { .loss = RILL_SGD_SQUARED, .eta0 = 0.001, .batch = 16 },
};

static void same_bits(const rill_sgd *a, const rill_sgd *b) {
    double wa[SD], wb[SD], ba, bb;
    rill_sgd_weights(a, wa, &ba);
    rill_sgd_weights(b, wb, &bb);
    assert_memory_equal(wa, wb, sizeof wa);
    assert_memory_equal(&ba, &bb, sizeof ba);
    assert_int_equal(rill_sgd_seen(a), rill_sgd_seen(b));
    assert_int_equal(rill_sgd_steps(a), rill_sgd_steps(b));
}

static void test_chunking(void **st) {
    (void)st;
    static double X[SN * SD], y[SN], p1[SN], p2[SN];
    stream(99, X, y, 0);
    for (size_t c = 0; c < sizeof det_opts / sizeof det_opts[0]; c++) {
        rill_sgd *a = new_sgd(SD, &det_opts[c]), *b = new_sgd(SD, &det_opts[c]);
        assert_int_equal(rill_sgd_learn(a, X, y, SN, p1), RILL_OK);
        tu_rng g = { 1234 + c };
        for (int k = 0; k < SN;) {
            int n = (int)(tu_unif(&g) * 23); /* 0..22 rows, empty calls included */
            if (k + n > SN)
                n = SN - k;
            assert_int_equal(rill_sgd_learn(b, X + k * SD, y + k, (size_t)n, p2 + k), RILL_OK);
            k += n;
        }
        same_bits(a, b);
        assert_memory_equal(p1, p2, sizeof p1);
        /* and one row at a time */
        rill_sgd *c1 = new_sgd(SD, &det_opts[c]);
        for (int k = 0; k < SN; k++)
            assert_int_equal(rill_sgd_learn(c1, X + k * SD, y + k, 1, NULL), RILL_OK);
        same_bits(a, c1);
        /* reset forgets everything: the same stream gives the same bits again */
        rill_sgd_reset(c1);
        assert_int_equal(rill_sgd_seen(c1), 0);
        assert_int_equal(rill_sgd_learn(c1, X, y, SN, NULL), RILL_OK);
        same_bits(a, c1);
        rill_sgd_free(c1);
        rill_sgd_free(b);
        rill_sgd_free(a);
    }
}

static void test_label_conventions(void **st) {
    (void)st;
    static double X[SN * SD], y01[SN], ypm[SN];
    stream(5, X, y01, 0);
    stream(5, X, ypm, 1);
    for (int loss = RILL_SGD_LOGISTIC; loss <= RILL_SGD_HINGE; loss += 2) {
        rill_sgd_opts o = { .loss = (rill_sgd_loss)loss, .eta0 = 0.05, .standardize = true };
        rill_sgd *a = new_sgd(SD, &o), *b = new_sgd(SD, &o);
        assert_int_equal(rill_sgd_learn(a, X, y01, SN, NULL), RILL_OK);
        assert_int_equal(rill_sgd_learn(b, X, ypm, SN, NULL), RILL_OK);
        same_bits(a, b);
        rill_sgd_free(a);
        rill_sgd_free(b);
    }
}

/* ---- save / load ----------------------------------------------------------- */

static rill_sgd *load_ok(const void *buf, size_t len) {
    rill_sgd *l = NULL;
    char err[256] = "";
    int rc = rill_sgd_load(buf, len, &l, err, sizeof err);
    if (rc != RILL_OK)
        fail_msg("rill_sgd_load: %s", err);
    return l;
}

static void test_save_load(void **st) {
    (void)st;
    static double X[SN * SD], y[SN];
    stream(77, X, y, 0);
    for (size_t c = 0; c < sizeof det_opts / sizeof det_opts[0]; c++) {
        rill_sgd *a = new_sgd(SD, &det_opts[c]);
        const size_t half = 437; /* mid mini-batch for batch 5 and 16 */
        assert_int_equal(rill_sgd_learn(a, X, y, half, NULL), RILL_OK);
        void *blob;
        size_t len;
        assert_int_equal(rill_sgd_save(a, &blob, &len), RILL_OK);
        rill_sgd *b = load_ok(blob, len);
        same_bits(a, b);
        for (int k = 0; k < 50; k++) {
            double pa = rill_sgd_predict(a, X + k * SD), pb = rill_sgd_predict(b, X + k * SD);
            assert_memory_equal(&pa, &pb, sizeof pa);
        }
        /* both continue on the rest of the stream */
        static double pa[SN], pb[SN];
        assert_int_equal(rill_sgd_learn(a, X + half * SD, y + half, SN - half, pa), RILL_OK);
        assert_int_equal(rill_sgd_learn(b, X + half * SD, y + half, SN - half, pb), RILL_OK);
        assert_memory_equal(pa, pb, (SN - half) * sizeof pa[0]);
        same_bits(a, b);
        void *ba, *bb;
        size_t la, lb;
        assert_int_equal(rill_sgd_save(a, &ba, &la), RILL_OK);
        assert_int_equal(rill_sgd_save(b, &bb, &lb), RILL_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(ba, bb, la);
        free(ba);
        free(bb);
        rill_sgd_free(a);
        rill_sgd_free(b);
        free(blob);
    }
}

static void expect_corrupt(const void *buf, size_t len, const char *what) {
    rill_sgd *l = (rill_sgd *)&l; /* must be reset to NULL */
    char err[256] = "";
    int rc = rill_sgd_load(buf, len, &l, err, sizeof err);
    if (rc != RILL_ECORRUPT)
        fail_msg("%s: load returned %d, expected RILL_ECORRUPT", what, rc);
    assert_null(l);
    assert_true(strlen(err) > 0);
}

static void test_load_corrupt(void **st) {
    (void)st;
    static double X[SN * SD], y[SN];
    stream(3, X, y, 0);
    rill_sgd *a = new_sgd(SD, &det_opts[2]);
    assert_int_equal(rill_sgd_learn(a, X, y, 123, NULL), RILL_OK);
    unsigned char *blob;
    size_t len;
    assert_int_equal(rill_sgd_save(a, (void **)&blob, &len), RILL_OK);
    unsigned char *copy = malloc(len + 1);
    assert_non_null(copy);
    /* every truncation and one extra byte */
    for (size_t n = 0; n < len; n++)
        expect_corrupt(blob, n, "truncated");
    memcpy(copy, blob, len);
    copy[len] = 0;
    expect_corrupt(copy, len + 1, "one byte too many");
    /* every single-bit flip */
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, blob, len);
            copy[i] ^= (unsigned char)(1u << bit);
            char what[64];
            snprintf(what, sizeof what, "bit %d of byte %zu flipped", bit, i);
            expect_corrupt(copy, len, what);
        }
    /* a future version, with a valid checksum: refused by version */
    memcpy(copy, blob, len);
    copy[4] = 2;
    uint64_t h = XXH64(copy, len - 8, 0);
    for (int i = 0; i < 8; i++)
        copy[len - 8 + i] = (unsigned char)(h >> (8 * i));
    rill_sgd *l = NULL;
    char err[256] = "";
    assert_int_equal(rill_sgd_load(copy, len, &l, err, sizeof err), RILL_ECORRUPT);
    assert_non_null(strstr(err, "version 2"));
    /* the unchanged blob still loads */
    l = load_ok(blob, len);
    same_bits(a, l);
    rill_sgd_free(l);
    free(copy);
    free(blob);
    rill_sgd_free(a);
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_input(void **st) {
    (void)st;
    static double X[SN * SD], y[SN];
    stream(11, X, y, 0);
    rill_sgd *l = new_sgd(SD, &det_opts[1]);
    assert_int_equal(rill_sgd_learn(l, X, y, 100, NULL), RILL_OK);
    void *before;
    size_t len;
    assert_int_equal(rill_sgd_save(l, &before, &len), RILL_OK);

    double Xb[5 * SD], yb[5];
    memcpy(Xb, X + 100 * SD, sizeof Xb);
    memcpy(yb, y + 100, sizeof yb);
    Xb[3 * SD + 2] = NAN;
    assert_int_equal(rill_sgd_learn(l, Xb, yb, 5, NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_sgd_errmsg(l), "row 3, feature 2"));
    Xb[3 * SD + 2] = INFINITY;
    assert_int_equal(rill_sgd_learn(l, Xb, yb, 5, NULL), RILL_EINVAL);
    Xb[3 * SD + 2] = 0.0;
    yb[4] = 2.0;
    assert_int_equal(rill_sgd_learn(l, Xb, yb, 5, NULL), RILL_EINVAL);
    assert_non_null(strstr(rill_sgd_errmsg(l), "row 4"));
    yb[4] = NAN;
    assert_int_equal(rill_sgd_learn(l, Xb, yb, 5, NULL), RILL_EINVAL);
    /* nothing was learned */
    void *after;
    size_t len2;
    assert_int_equal(rill_sgd_save(l, &after, &len2), RILL_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(before, after, len);
    assert_int_equal(rill_sgd_seen(l), 100);
    free(before);
    free(after);
    rill_sgd_free(l);

    /* squared loss takes any finite label */
    rill_sgd *r = new_sgd(2, &(rill_sgd_opts){ .loss = RILL_SGD_SQUARED });
    double x2[2] = { 1, 2 }, y2 = 12.5;
    assert_int_equal(rill_sgd_learn(r, x2, &y2, 1, NULL), RILL_OK);
    rill_sgd_free(r);
}

static void test_bad_options(void **st) {
    (void)st;
    rill_sgd *l = (rill_sgd *)&l;
    char err[256];
    assert_int_equal(rill_sgd_new(0, NULL, &l, err, sizeof err), RILL_EINVAL);
    assert_null(l);
    const rill_sgd_opts bad[] = {
        { .eta0 = -0.1 },
        { .eta0 = NAN },
        { .intercept_eta0 = -1 },
        { .power = INFINITY },
        { .l2 = -1e-3 },
        { .clip = -1 },
        { .adagrad_eps = -1 },
        { .loss = (rill_sgd_loss)7 },
        { .schedule = (rill_sgd_schedule)9 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(rill_sgd_new(3, &bad[i], &l, err, sizeof err), RILL_EINVAL);
        assert_null(l);
        assert_true(strlen(err) > 0);
    }
    /* NULL options are the defaults: logistic, constant 0.01 */
    assert_int_equal(rill_sgd_new(3, NULL, &l, err, sizeof err), RILL_OK);
    double x[3] = { 1, 0, 0 }, y = 1;
    assert_true(rill_sgd_predict(l, x) == 0.5);
    assert_int_equal(rill_sgd_learn(l, x, &y, 1, NULL), RILL_OK);
    double w[3], b;
    rill_sgd_weights(l, w, &b);
    /* gradient at w = 0 is 0.5 - 1; one step of 0.01 */
    assert_true(w[0] == 0.005 && w[1] == 0.0 && b == 0.005);
    assert_int_equal(rill_sgd_dim(l), 3);
    rill_sgd_free(l);
    rill_sgd_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_separable),
        cmocka_unit_test(test_vs_liblinear),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_label_conventions),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_corrupt),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
