/* tests/test_metrics.c — prequential metrics (learners/metrics.c).
 *
 * Random labelled streams, checked after every label against brute force
 * over the stored history: accuracy, log loss, precision and recall by
 * counting; AUC by the O(n^2) pair count over every positive-negative pair;
 * the cumulative binned AUC against the same pair count done on bin numbers,
 * and against the exact AUC within the reported error bound; MAE and RMSE
 * by direct sums. Scores include ties, 0 and 1. Seeds are printed on failure.
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

#include "rill/learn.h"
#include "test_util.h"


static rill_metrics *new_metrics(rill_metrics_task task, size_t window, uint32_t bins) {
    rill_metrics *m = NULL;
    char err[256] = "";
    rill_metrics_opts o = { .task = task, .window = window, .auc_bins = bins };
    if (rill_metrics_new(&o, &m, err, sizeof err) != RILL_OK)
        fail_msg("rill_metrics_new: %s", err);
    return m;
}

/* ---- brute force --------------------------------------------------------- */

typedef struct brute {
    uint64_t n, pos;
    double accuracy, log_loss, auc, precision, recall, mae, rmse;
    double auc_binned, auc_err; /* with bins > 0 */
} brute;

static double clip_p(double p) { return p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p; }

static long bin_of(double s, uint32_t bins) {
    long b = (long)floor(s * bins);
    return b < 0 ? 0 : b >= (long)bins ? (long)bins - 1 : b;
}

/* Over y[0..n), s[0..n): labels 0/1 (or -1) and scores. */
static void brute_class(const double *y, const double *s, size_t n, uint32_t bins, brute *b) {
    memset(b, 0, sizeof *b);
    b->n = n;
    uint64_t correct = 0, tp = 0, fp = 0;
    double ll = 0.0;
    for (size_t i = 0; i < n; i++) {
        int pos = y[i] > 0, pred = s[i] >= 0.5;
        b->pos += pos;
        correct += pos == pred;
        tp += pos && pred;
        fp += !pos && pred;
        ll += -log(pos ? clip_p(s[i]) : 1.0 - clip_p(s[i]));
    }
    b->accuracy = n ? (double)correct / n : NAN;
    b->log_loss = n ? ll / n : NAN;
    b->precision = tp + fp ? (double)tp / (tp + fp) : NAN;
    b->recall = b->pos ? (double)tp / b->pos : NAN;
    double u = 0.0, ub = 0.0, same = 0.0, pairs = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] > 0))
            continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j] > 0)
                continue;
            pairs += 1.0;
            u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            if (bins) {
                long bi = bin_of(s[i], bins), bj = bin_of(s[j], bins);
                ub += bi > bj ? 1.0 : bi == bj ? 0.5 : 0.0;
                same += bi == bj;
            }
        }
    }
    b->auc = pairs > 0 ? u / pairs : NAN;
    b->auc_binned = pairs > 0 ? ub / pairs : NAN;
    b->auc_err = pairs > 0 ? 0.5 * same / pairs : NAN;
}

static void brute_reg(const double *y, const double *s, size_t n, brute *b) {
    memset(b, 0, sizeof *b);
    b->n = n;
    double a = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++) {
        a += fabs(y[i] - s[i]);
        q += (y[i] - s[i]) * (y[i] - s[i]);
    }
    b->mae = n ? a / n : NAN;
    b->rmse = n ? sqrt(q / n) : NAN;
}

/* Equal, both NaN, or within a relative 1e-9. */
static int same_figure(double got, double want) {
    if (got == want)
        return 1;
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return 0;
    return fabs(got - want) <= 1e-9 * (1.0 + fabs(want));
}

#define CHECK(what, got, want)                                                          \
    do {                                                                                \
        if (!same_figure((got), (want)))                                                \
            fail_msg("seed %llu window %zu, after %zu labels: %s is %.17g, expected %.17g", \
                     (unsigned long long)seed, window, k + 1, what, (double)(got),        \
                     (double)(want));                                                   \
    } while (0)

/* A score from one of several shapes: continuous, on a coarse grid (ties),
 * exactly 0 or 1; the label drawn with that probability or at random. */
static void draw(tu_rng *g, double *y, double *s) {
    double u = tu_unif(g);
    *s = u < 0.5 ? tu_unif(g) : u < 0.85 ? floor(tu_unif(g) * 21) / 20 : (tu_unif(g) < 0.5 ? 0.0 : 1.0);
    int pos = tu_unif(g) < 0.7 ? tu_unif(g) < *s : tu_unif(g) < 0.4;
    *y = pos ? 1.0 : (tu_unif(g) < 0.5 ? 0.0 : -1.0);
}

static void run_class(uint64_t seed, size_t window, uint32_t bins, size_t n, size_t every_cum) {
    tu_rng g = { seed };
    double *y = malloc(n * sizeof *y), *s = malloc(n * sizeof *s);
    assert_non_null(y);
    assert_non_null(s);
    rill_metrics *m = new_metrics(RILL_METRICS_CLASSIFICATION, window, bins);
    for (size_t k = 0; k < n; k++) {
        draw(&g, &y[k], &s[k]);
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
        rill_metrics_report r;
        rill_metrics_read(m, &r);

        size_t len = k + 1 < window ? k + 1 : window;
        brute w;
        brute_class(y + (k + 1 - len), s + (k + 1 - len), len, 0, &w);
        assert_int_equal(r.window.n, w.n);
        assert_int_equal(r.window.positives, w.pos);
        CHECK("window accuracy", r.window.accuracy, w.accuracy);
        CHECK("window log loss", r.window.log_loss, w.log_loss);
        CHECK("window AUC", r.window.auc, w.auc);
        CHECK("window precision", r.window.precision, w.precision);
        CHECK("window recall", r.window.recall, w.recall);
        CHECK("window AUC error", r.window.auc_err, isnan(w.auc) ? NAN : 0.0);
        assert_true(isnan(r.window.mae) && isnan(r.window.rmse));

        if ((k + 1) % every_cum == 0 || k + 1 == n) {
            brute c;
            brute_class(y, s, k + 1, bins ? bins : 4096 /* the default */, &c);
            assert_int_equal(r.cumulative.n, k + 1);
            assert_int_equal(r.cumulative.positives, c.pos);
            CHECK("cumulative accuracy", r.cumulative.accuracy, c.accuracy);
            CHECK("cumulative log loss", r.cumulative.log_loss, c.log_loss);
            CHECK("cumulative precision", r.cumulative.precision, c.precision);
            CHECK("cumulative recall", r.cumulative.recall, c.recall);
            CHECK("cumulative AUC (binned)", r.cumulative.auc, c.auc_binned);
            CHECK("cumulative AUC error bound", r.cumulative.auc_err, c.auc_err);
            if (!isnan(c.auc) && fabs(r.cumulative.auc - c.auc) > r.cumulative.auc_err + 1e-12)
                fail_msg("seed %llu: cumulative AUC %.12f is %.3g from the exact %.12f, "
                         "beyond its bound %.3g", (unsigned long long)seed, r.cumulative.auc,
                         fabs(r.cumulative.auc - c.auc), c.auc, r.cumulative.auc_err);
        }
    }
    rill_metrics_free(m);
    free(s);
    free(y);
}

static void test_classification_small_windows(void **st) {
    (void)st;
    run_class(1, 1, 0, 400, 50);
    run_class(2, 2, 7, 400, 50);
    run_class(3, 7, 3, 1500, 100);
}

static void test_classification(void **st) {
    (void)st;
    run_class(4, 100, 0, 3000, 250);
    run_class(5, 1000, 64, 2500, 500);
}

/* Scores on bin centres: pairs in one bin are real ties, so the binned AUC
 * is exact even though the bound cannot know it. */
static void test_auc_bin_centres(void **st) {
    (void)st;
    const uint64_t seed = 6;
    const size_t window = 64;
    tu_rng g = { seed };
    enum { N = 2000, B = 16 };
    static double y[N], s[N];
    rill_metrics *m = new_metrics(RILL_METRICS_CLASSIFICATION, window, B);
    for (size_t k = 0; k < N; k++) {
        s[k] = (floor(tu_unif(&g) * B) + 0.5) / B;
        y[k] = tu_unif(&g) < s[k] ? 1.0 : 0.0;
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
    }
    rill_metrics_report r;
    rill_metrics_read(m, &r);
    brute c;
    brute_class(y, s, N, B, &c);
    size_t k = N - 1;
    CHECK("AUC on bin centres", r.cumulative.auc, c.auc);
    assert_true(r.cumulative.auc_err > 0.0);
    print_message("AUC %.6f exact, reported bound %.4f\n", c.auc, r.cumulative.auc_err);
    rill_metrics_free(m);
}

/* Spread scores with the default 4096 bins: the bound is small. */
static void test_auc_default_bins(void **st) {
    (void)st;
    const uint64_t seed = 7;
    tu_rng g = { seed };
    enum { N = 3000 };
    static double y[N], s[N];
    rill_metrics *m = NULL;
    char err[128];
    assert_int_equal(rill_metrics_new(NULL, &m, err, sizeof err), RILL_OK);
    for (size_t k = 0; k < N; k++) {
        s[k] = tu_unif(&g);
        y[k] = tu_unif(&g) < s[k] ? 1.0 : 0.0;
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
    }
    rill_metrics_report r;
    rill_metrics_read(m, &r);
    brute c;
    brute_class(y, s, N, 4096, &c);
    assert_true(r.cumulative.auc_err < 1e-3);
    assert_true(fabs(r.cumulative.auc - c.auc) <= r.cumulative.auc_err);
    /* the default window is 1000 */
    assert_int_equal(r.window.n, 1000);
    print_message("4096 bins: AUC %.6f, exact %.6f, bound %.2g\n", r.cumulative.auc, c.auc,
                  r.cumulative.auc_err);
    rill_metrics_free(m);
}

/* Many evictions: the window's loss sums stay exact. */
static void test_long_stream(void **st) {
    (void)st;
    const uint64_t seed = 8;
    const size_t window = 50;
    enum { N = 200000 };
    double *y = malloc(N * sizeof *y), *s = malloc(N * sizeof *s);
    assert_non_null(y);
    assert_non_null(s);
    tu_rng g = { seed };
    rill_metrics *m = new_metrics(RILL_METRICS_CLASSIFICATION, window, 0);
    rill_metrics *q = new_metrics(RILL_METRICS_REGRESSION, window, 0);
    for (size_t k = 0; k < N; k++) {
        draw(&g, &y[k], &s[k]);
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
        assert_int_equal(rill_metrics_add(q, 1e3 * y[k], 1e3 * s[k] + (double)(k % 977)),
                         RILL_OK);
    }
    size_t k = N - 1;
    rill_metrics_report r;
    rill_metrics_read(m, &r);
    brute w;
    brute_class(y + N - window, s + N - window, window, 0, &w);
    CHECK("window log loss", r.window.log_loss, w.log_loss);
    CHECK("window AUC", r.window.auc, w.auc);
    rill_metrics_read(q, &r);
    for (size_t i = 0; i < window; i++) {
        size_t j = N - window + i;
        y[j] *= 1e3;
        s[j] = 1e3 * s[j] + (double)(j % 977);
    }
    brute_reg(y + N - window, s + N - window, window, &w);
    CHECK("window MAE", r.window.mae, w.mae);
    CHECK("window RMSE", r.window.rmse, w.rmse);
    rill_metrics_free(q);
    rill_metrics_free(m);
    free(s);
    free(y);
}

static void test_regression(void **st) {
    (void)st;
    const uint64_t seed = 9;
    const size_t window = 37;
    enum { N = 2000 };
    static double y[N], s[N];
    tu_rng g = { seed };
    rill_metrics *m = new_metrics(RILL_METRICS_REGRESSION, window, 0);
    for (size_t k = 0; k < N; k++) {
        y[k] = 100.0 * (tu_unif(&g) - 0.5);
        s[k] = y[k] + (tu_unif(&g) - 0.5) * (1 + (double)(k % 10));
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
        rill_metrics_report r;
        rill_metrics_read(m, &r);
        size_t len = k + 1 < window ? k + 1 : window;
        brute w, c;
        brute_reg(y + (k + 1 - len), s + (k + 1 - len), len, &w);
        brute_reg(y, s, k + 1, &c);
        CHECK("window MAE", r.window.mae, w.mae);
        CHECK("window RMSE", r.window.rmse, w.rmse);
        CHECK("cumulative MAE", r.cumulative.mae, c.mae);
        CHECK("cumulative RMSE", r.cumulative.rmse, c.rmse);
        assert_int_equal(r.window.n, len);
        assert_true(isnan(r.window.accuracy) && isnan(r.cumulative.auc));
    }
    rill_metrics_free(m);
}

/* An error that overflows its square: the window reports infinity while it is
 * in, and exact figures again as soon as it has left. */
static void test_overflow_leaves(void **st) {
    (void)st;
    const uint64_t seed = 10;
    const size_t window = 20;
    enum { N = 200 };
    static double y[N], s[N];
    tu_rng g = { seed };
    rill_metrics *m = new_metrics(RILL_METRICS_REGRESSION, window, 0);
    for (size_t k = 0; k < N; k++) {
        y[k] = tu_unif(&g);
        s[k] = k == 50 ? 1e200 : tu_unif(&g);
        assert_int_equal(rill_metrics_add(m, y[k], s[k]), RILL_OK);
        rill_metrics_report r;
        rill_metrics_read(m, &r);
        size_t len = k + 1 < window ? k + 1 : window;
        brute w;
        brute_reg(y + (k + 1 - len), s + (k + 1 - len), len, &w);
        CHECK("window MAE", r.window.mae, w.mae);
        CHECK("window RMSE", r.window.rmse, w.rmse);
    }
    rill_metrics_free(m);
}

static void test_undefined_and_invalid(void **st) {
    (void)st;
    rill_metrics *m = new_metrics(RILL_METRICS_CLASSIFICATION, 10, 0);
    rill_metrics_report r;
    rill_metrics_read(m, &r);
    assert_int_equal(r.cumulative.n, 0);
    assert_true(isnan(r.cumulative.accuracy) && isnan(r.cumulative.log_loss) &&
                isnan(r.cumulative.auc) && isnan(r.window.precision) &&
                isnan(r.window.recall));
    /* only positives predicted negative: no AUC, no precision, recall 0 */
    assert_int_equal(rill_metrics_add(m, 1, 0.2), RILL_OK);
    assert_int_equal(rill_metrics_add(m, 1, 0.3), RILL_OK);
    rill_metrics_read(m, &r);
    assert_true(isnan(r.window.auc) && isnan(r.window.precision));
    assert_true(r.window.recall == 0.0 && r.window.accuracy == 0.0);

    assert_int_equal(rill_metrics_add(m, 0.5, 0.2), RILL_EINVAL);
    assert_int_equal(rill_metrics_add(m, 2, 0.2), RILL_EINVAL);
    assert_int_equal(rill_metrics_add(m, 1, 1.5), RILL_EINVAL);
    assert_int_equal(rill_metrics_add(m, 1, -0.1), RILL_EINVAL);
    assert_int_equal(rill_metrics_add(m, 1, NAN), RILL_EINVAL);
    assert_int_equal(rill_metrics_add(m, INFINITY, 0.5), RILL_EINVAL);
    assert_true(strlen(rill_metrics_errmsg(m)) > 0);
    rill_metrics_read(m, &r);
    assert_int_equal(r.cumulative.n, 2);

    /* reset forgets */
    rill_metrics_reset(m);
    rill_metrics_read(m, &r);
    assert_int_equal(r.cumulative.n, 0);
    assert_int_equal(r.window.n, 0);
    assert_int_equal(rill_metrics_add(m, 0, 0.9), RILL_OK);
    assert_int_equal(rill_metrics_add(m, 1, 0.1), RILL_OK);
    rill_metrics_read(m, &r);
    assert_true(r.window.auc == 0.0 && r.cumulative.auc == 0.0 && r.window.accuracy == 0.0);
    rill_metrics_free(m);

    /* regression takes any finite value */
    m = new_metrics(RILL_METRICS_REGRESSION, 3, 0);
    assert_int_equal(rill_metrics_add(m, -1e6, 42.0), RILL_OK);
    assert_int_equal(rill_metrics_add(m, NAN, 42.0), RILL_EINVAL);
    rill_metrics_free(m);

    rill_metrics_opts bad = { .task = (rill_metrics_task)5 };
    char err[128] = "";
    m = (rill_metrics *)&m;
    assert_int_equal(rill_metrics_new(&bad, &m, err, sizeof err), RILL_EINVAL);
    assert_null(m);
    assert_true(strlen(err) > 0);
    rill_metrics_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_small_windows),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_auc_bin_centres),
        cmocka_unit_test(test_auc_default_bins),
        cmocka_unit_test(test_long_stream),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_overflow_leaves),
        cmocka_unit_test(test_undefined_and_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
