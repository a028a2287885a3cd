/* bench/learn.c — throughput of the learners: SGD updates/s and
 * predictions/s, liblinear predictions/s, metrics updates/s.
 *
 * Dense vectors of 20 features drawn once from a fixed-seed generator (a
 * logistic stream), cycled through so that generation is not measured.
 * Each case runs for about RILL_BENCH_SECONDS (default 0.5) of wall time.
 * Prints a table, then one JSON line per case:
 *   {"bench":"learn","case":"...","events_per_s":...}
 * It prints figures and asserts nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rill/learn.h"

#define DIM 20
#define ROWS 4096 /* 640 KiB of features: stays in L2 */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) { /* xorshift64*, [0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) * 0x1.0p-53;
}
static double gauss(void) {
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static double X[ROWS * DIM], Y[ROWS], P[ROWS];
static double seconds = 0.5;
static volatile double sink;

typedef struct result { const char *name; double per_s; } result;
static result results[16];
static int n_results;

static void record(const char *name, double events, double dt) {
    results[n_results].name = name;
    results[n_results].per_s = events / dt;
    n_results++;
}

static void bench_sgd_learn(const char *name, const rill_sgd_opts *o, size_t chunk) {
    rill_sgd *l;
    char err[256];
    if (rill_sgd_new(DIM, o, &l, err, sizeof err) != RILL_OK) {
        fprintf(stderr, "bench-learn: %s\n", err);
        exit(1);
    }
    double events = 0, t0 = now_s(), dt;
    do {
        for (size_t r = 0; r < ROWS; r += chunk) {
            if (rill_sgd_learn(l, X + r * DIM, Y + r, chunk, NULL) != RILL_OK) {
                fprintf(stderr, "bench-learn: %s\n", rill_sgd_errmsg(l));
                exit(1);
            }
        }
        events += ROWS;
        dt = now_s() - t0;
    } while (dt < seconds);
    double w[DIM];
    rill_sgd_weights(l, w, NULL);
    sink = w[0];
    record(name, events, dt);
    rill_sgd_free(l);
}

static void bench_sgd_predict(const char *name, const rill_sgd_opts *o) {
    rill_sgd *l;
    char err[256];
    if (rill_sgd_new(DIM, o, &l, err, sizeof err) != RILL_OK) {
        fprintf(stderr, "bench-learn: %s\n", err);
        exit(1);
    }
    rill_sgd_learn(l, X, Y, ROWS, NULL);
    double events = 0, t0 = now_s(), dt, acc = 0;
    do {
        for (size_t r = 0; r < ROWS; r++)
            acc += rill_sgd_predict(l, X + r * DIM);
        events += ROWS;
        dt = now_s() - t0;
    } while (dt < seconds);
    sink = acc;
    record(name, events, dt);
    rill_sgd_free(l);
}

/* A liblinear model file in the format `train` writes, with the weights of
 * the data's generator, so the bench needs nothing but the public API. */
static void bench_liblinear(const char *name, const double *wtrue, int probability) {
    char path[] = "/tmp/rill-bench-learn-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("bench-learn: mkstemp");
        exit(1);
    }
    FILE *f = fdopen(fd, "w");
    fprintf(f, "solver_type L2R_LR\nnr_class 2\nlabel 1 0\nnr_feature %d\nbias 1\nw\n", DIM);
    for (int i = 0; i < DIM; i++)
        fprintf(f, "%.17g \n", wtrue[i]);
    fprintf(f, "%.17g \n", 0.25);
    fclose(f);
    rill_linear *m;
    char err[256];
    int rc = rill_linear_load(path, DIM, &m, err, sizeof err);
    unlink(path);
    if (rc != RILL_OK) {
        fprintf(stderr, "bench-learn: %s\n", err);
        exit(1);
    }
    double events = 0, t0 = now_s(), dt, acc = 0, label = 0, prob[2] = { 0, 0 };
    do {
        for (size_t r = 0; r < ROWS; r++) {
            rill_linear_predict(m, X + r * DIM, DIM, &label, NULL, probability ? prob : NULL);
            acc += label + prob[0] * probability;
        }
        events += ROWS;
        dt = now_s() - t0;
    } while (dt < seconds);
    sink = acc;
    record(name, events, dt);
    rill_linear_free(m);
}

static void bench_metrics(const char *name) {
    rill_metrics *m;
    char err[256];
    if (rill_metrics_new(NULL, &m, err, sizeof err) != RILL_OK) {
        fprintf(stderr, "bench-learn: %s\n", err);
        exit(1);
    }
    double events = 0, t0 = now_s(), dt;
    do {
        for (size_t r = 0; r < ROWS; r++)
            rill_metrics_add(m, Y[r], P[r]);
        events += ROWS;
        dt = now_s() - t0;
    } while (dt < seconds);
    rill_metrics_report rep;
    rill_metrics_read(m, &rep);
    sink = rep.window.auc;
    record(name, events, dt);
    rill_metrics_free(m);
}

int main(void) {
    const char *s = getenv("RILL_BENCH_SECONDS");
    if (s && atof(s) > 0)
        seconds = atof(s);
    double wtrue[DIM];
    for (int i = 0; i < DIM; i++)
        wtrue[i] = gauss();
    for (int r = 0; r < ROWS; r++) {
        double f = 0.25;
        for (int i = 0; i < DIM; i++) {
            X[r * DIM + i] = gauss();
            f += wtrue[i] * X[r * DIM + i];
        }
        P[r] = 1.0 / (1.0 + exp(-f));
        Y[r] = uniform() < P[r] ? 1.0 : 0.0;
    }

    bench_sgd_learn("sgd_update_logistic_constant", &(rill_sgd_opts){ .eta0 = 0.01 }, ROWS);
    bench_sgd_learn("sgd_update_logistic_constant_1_per_call", &(rill_sgd_opts){ .eta0 = 0.01 }, 1);
    bench_sgd_learn("sgd_update_squared_constant",
                    &(rill_sgd_opts){ .loss = RILL_SGD_SQUARED, .eta0 = 0.001 }, ROWS);
    bench_sgd_learn("sgd_update_hinge_invscaling_l2",
                    &(rill_sgd_opts){ .loss = RILL_SGD_HINGE, .schedule = RILL_SGD_INVSCALING,
                                      .l2 = 1e-4 }, ROWS);
    bench_sgd_learn("sgd_update_logistic_adagrad",
                    &(rill_sgd_opts){ .schedule = RILL_SGD_ADAGRAD, .eta0 = 0.1 }, ROWS);
    bench_sgd_learn("sgd_update_logistic_standardize",
                    &(rill_sgd_opts){ .eta0 = 0.005, .standardize = true }, ROWS);
    bench_sgd_learn("sgd_update_logistic_std_adagrad_l2_clip",
                    &(rill_sgd_opts){ .schedule = RILL_SGD_ADAGRAD, .eta0 = 0.1, .l2 = 1e-4,
                                      .clip = 1.0, .standardize = true }, ROWS);
    bench_sgd_learn("sgd_update_logistic_minibatch32",
                    &(rill_sgd_opts){ .eta0 = 0.01, .batch = 32 }, ROWS);
    bench_sgd_predict("sgd_predict_logistic", &(rill_sgd_opts){ .eta0 = 0.01 });
    bench_sgd_predict("sgd_predict_logistic_standardize",
                      &(rill_sgd_opts){ .eta0 = 0.005, .standardize = true });
    bench_liblinear("liblinear_predict_label", wtrue, 0);
    bench_liblinear("liblinear_predict_probability", wtrue, 1);
    bench_metrics("metrics_add_classification");

    printf("%-42s %14s %10s\n", "case (20 dense features)", "events/s", "ns/event");
    for (int i = 0; i < n_results; i++)
        printf("%-42s %14.0f %10.1f\n", results[i].name, results[i].per_s,
               1e9 / results[i].per_s);
    for (int i = 0; i < n_results; i++)
        printf("{\"bench\":\"learn\",\"case\":\"%s\",\"events_per_s\":%.0f}\n", results[i].name,
               results[i].per_s);
    return 0;
}
