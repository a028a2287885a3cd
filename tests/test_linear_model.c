/* tests/test_linear_model.c — liblinear models (learners/linear_model.c).
 *
 * Parity with liblinear's own programs (solvers 0, 2, 6 and 7, two and three
 * classes, with and without bias): a synthetic data set is written in
 * libsvm format to a temporary directory, `train` (liblinear-train on
 * Debian) fits a model, `predict` scores the same rows, and rill, loading the
 * model file, must give the same label and the same probabilities (1e-6:
 * `predict` prints 6 significant digits) row by row. Independently, the
 * decision values are checked against w.x + bias computed here from the
 * model file's weights, so the dense-to-liblinear index mapping and the bias
 * feature are tested without liblinear in the loop.
 * Also: in-memory models (borrowed and owned), regression models, and every
 * error the API promises.
 */
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

#include "rill/learn.h"
#include "test_util.h"

#define D 6
#define N 300
#define MAXC 3


static char dir[64];
static char tool_train[512], tool_predict[512];
static double X[N][D];
static int Y2[N], Y3[N]; /* binary labels +1/-1, three-class labels 3/1/2 */

static void silent(const char *s) { (void)s; }

static void path_in(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", dir, name);
}

/* The data set: zeros here and there (liblinear files are sparse), the last
 * feature present in every row so that nr_feature is D. */
static void make_data(void) {
    tu_rng g = { 2024 };
    const double w2[D] = { 1.0, -0.7, 0.4, 0.0, 1.2, -0.5 };
    for (int k = 0; k < N; k++) {
        for (int i = 0; i < D; i++)
            X[k][i] = (i == 2 || i == 3) && tu_unif(&g) < 0.4 ? 0.0 : tu_gauss(&g);
        double f = 0.3;
        for (int i = 0; i < D; i++)
            f += w2[i] * X[k][i];
        Y2[k] = tu_unif(&g) < 1.0 / (1.0 + exp(-f)) ? 1 : -1;
        double a = X[k][0] + 0.5 * X[k][1], b = X[k][4] - X[k][5];
        Y3[k] = a > 0.5 ? 3 : b > 0.0 ? 1 : 2;
        if (tu_unif(&g) < 0.1)
            Y3[k] = 1 + (int)(tu_unif(&g) * 3);
    }
}

static void write_libsvm(const char *name, const int *y) {
    char p[256];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int k = 0; k < N; k++) {
        fprintf(f, "%+d", y[k]);
        for (int i = 0; i < D; i++)
            if (X[k][i] != 0.0)
                fprintf(f, " %d:%.17g", i + 1, X[k][i]);
        fputc('\n', f);
    }
    fclose(f);
}

static int setup(void **st) {
    (void)st;
    static const char *const trains[] = { "liblinear-train", "train", NULL };
    static const char *const predicts[] = { "liblinear-predict", "predict", NULL };
    if (tu_find_tool(trains, tool_train, sizeof tool_train) != 0 ||
        tu_find_tool(predicts, tool_predict, sizeof tool_predict) != 0) {
        fprintf(stderr, "test_linear_model: liblinear's train/predict programs are not on PATH "
                        "(Debian package liblinear-tools)\n");
        return -1;
    }
    snprintf(dir, sizeof dir, "/tmp/rill-test-linear-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    set_print_string_function(silent);
    make_data();
    write_libsvm("bin.txt", Y2);
    write_libsvm("tri.txt", Y3);
    return 0;
}

static int teardown(void **st) {
    (void)st;
    static const char *const files[] = {
        "bin.txt", "tri.txt", "m_s0_bin", "m_s0_tri", "m_s2_bin", "m_s2_tri", "o_s0_bin",
        "o_s0_tri", "o_s2_bin", "o_s2_tri", "m_s6_bin", "o_s6_bin", "m_s7_tri", "o_s7_tri",
        "garbage", NULL,
    };
    char p[256];
    for (const char *const *f = files; *f; f++) {
        path_in(p, sizeof p, *f);
        unlink(p);
    }
    return rmdir(dir) == 0 ? 0 : -1;
}

/* ---- a model file read plainly, for the decision-value oracle ----------- */

typedef struct plain_model {
    int nr_class, nr_feature, nr_w, labels[MAXC];
    double bias, w[(D + 1) * MAXC];
} plain_model;

static void read_plain(const char *path, plain_model *m) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char key[64];
    memset(m, 0, sizeof *m);
    m->bias = -1;
    char solver[64] = "";
    while (fscanf(f, "%63s", key) == 1) {
        if (!strcmp(key, "solver_type")) {
            assert_int_equal(fscanf(f, "%63s", solver), 1);
        } else if (!strcmp(key, "nr_class")) {
            assert_int_equal(fscanf(f, "%d", &m->nr_class), 1);
        } else if (!strcmp(key, "label")) {
            for (int c = 0; c < m->nr_class; c++)
                assert_int_equal(fscanf(f, "%d", &m->labels[c]), 1);
        } else if (!strcmp(key, "nr_feature")) {
            assert_int_equal(fscanf(f, "%d", &m->nr_feature), 1);
        } else if (!strcmp(key, "bias")) {
            assert_int_equal(fscanf(f, "%lf", &m->bias), 1);
        } else if (!strcmp(key, "w")) {
            break;
        }
    }
    m->nr_w = m->nr_class == 2 ? 1 : m->nr_class;
    int rows = m->nr_feature + (m->bias >= 0 ? 1 : 0);
    for (int r = 0; r < rows * m->nr_w; r++)
        assert_int_equal(fscanf(f, "%lf", &m->w[r]), 1);
    fclose(f);
}

static void plain_decision(const plain_model *m, const double *x, double *dec) {
    for (int j = 0; j < m->nr_w; j++) {
        double s = 0.0;
        for (int i = 0; i < m->nr_feature; i++)
            s += m->w[i * m->nr_w + j] * x[i];
        if (m->bias >= 0)
            s += m->w[m->nr_feature * m->nr_w + j] * m->bias;
        dec[j] = s;
    }
}

/* ---- parity with train / predict ----------------------------------------- */

/* Train with `train -s solver [-B 1] data model`, predict with `predict
 * [-b 1] data model out`, and compare rill on the same model row by row. */
static void parity(const char *data, const int *y, int nr_class, int solver, int bias,
                   const char *model, const char *outname) {
    char dpath[256], mpath[256], opath[256], s[8];
    path_in(dpath, sizeof dpath, data);
    path_in(mpath, sizeof mpath, model);
    path_in(opath, sizeof opath, outname);
    snprintf(s, sizeof s, "%d", solver);
    int probabilistic = solver == 0 || solver == 6 || solver == 7; /* the logistic ones */
    char *targv[] = { tool_train, "-s", s, "-B", bias ? "1" : "-1", dpath, mpath, NULL };
    assert_int_equal(tu_run_quiet(targv), 0);
    char *pargv_b[] = { tool_predict, "-b", "1", dpath, mpath, opath, NULL };
    char *pargv[] = { tool_predict, dpath, mpath, opath, NULL };
    assert_int_equal(tu_run_quiet(probabilistic ? pargv_b : pargv), 0);

    rill_linear *m = NULL;
    char err[256] = "";
    if (rill_linear_load(mpath, D, &m, err, sizeof err) != RILL_OK)
        fail_msg("load %s: %s", mpath, err);
    assert_int_equal(rill_linear_dim(m), D);
    assert_int_equal(rill_linear_nr_class(m), nr_class);
    int nr_dec = nr_class == 2 ? 1 : nr_class;
    assert_int_equal(rill_linear_nr_dec(m), nr_dec);
    assert_int_equal(rill_linear_is_probabilistic(m), probabilistic);
    assert_false(rill_linear_is_regression(m));

    plain_model pm;
    read_plain(mpath, &pm);
    assert_int_equal(pm.nr_feature, D);
    for (int c = 0; c < nr_class; c++)
        assert_int_equal(rill_linear_label(m, c), pm.labels[c]);

    FILE *f = fopen(opath, "r");
    assert_non_null(f);
    if (probabilistic) {
        /* "labels l1 l2 ...": the probability columns' order */
        char word[16];
        assert_int_equal(fscanf(f, "%15s", word), 1);
        assert_string_equal(word, "labels");
        for (int c = 0; c < nr_class; c++) {
            int lab;
            assert_int_equal(fscanf(f, "%d", &lab), 1);
            assert_int_equal(lab, rill_linear_label(m, c));
        }
    }
    int agree_truth = 0;
    for (int k = 0; k < N; k++) {
        double want_label, want_prob[MAXC];
        assert_int_equal(fscanf(f, "%lf", &want_label), 1);
        for (int c = 0; probabilistic && c < nr_class; c++)
            assert_int_equal(fscanf(f, "%lf", &want_prob[c]), 1);

        double label, dec[MAXC], prob[MAXC];
        assert_int_equal(rill_linear_predict(m, X[k], D, &label, dec,
                                             probabilistic ? prob : NULL), RILL_OK);
        if (label != want_label)
            fail_msg("-s %d, row %d: rill says %g, predict says %g", solver, k, label,
                     want_label);
        for (int c = 0; probabilistic && c < nr_class; c++)
            if (fabs(prob[c] - want_prob[c]) > 1e-6)
                fail_msg("-s %d, row %d, class %d: rill says %.9f, predict says %.9f", solver,
                         k, c, prob[c], want_prob[c]);
        /* decision values from the file's weights */
        double pd[MAXC];
        plain_decision(&pm, X[k], pd);
        for (int j = 0; j < nr_dec; j++)
            assert_true(fabs(dec[j] - pd[j]) <= 1e-9 * (1.0 + fabs(pd[j])));
        /* and the label they imply */
        int best = 0;
        for (int j = 1; j < nr_dec; j++)
            if (pd[j] > pd[best])
                best = j;
        double implied = nr_dec == 1 ? (pd[0] > 0 ? pm.labels[0] : pm.labels[1])
                                     : pm.labels[best];
        assert_true(label == implied);
        agree_truth += (int)label == y[k];
    }
    fclose(f);
    print_message("-s %d%s, %d classes: %d rows identical to liblinear's predict "
                  "(training accuracy %.3f)\n", solver, bias ? " -B 1" : "", nr_class, N,
                  (double)agree_truth / N);
    /* the model learned something, so the comparison is not vacuous */
    assert_true(agree_truth > N * 6 / 10);
    rill_linear_free(m);
}

static void test_parity_s0_binary(void **st) {
    (void)st;
    parity("bin.txt", Y2, 2, 0, 1, "m_s0_bin", "o_s0_bin");
}
static void test_parity_s0_three(void **st) {
    (void)st;
    parity("tri.txt", Y3, 3, 0, 0, "m_s0_tri", "o_s0_tri");
}
static void test_parity_s2_binary(void **st) {
    (void)st;
    parity("bin.txt", Y2, 2, 2, 0, "m_s2_bin", "o_s2_bin");
}
static void test_parity_s2_three(void **st) {
    (void)st;
    parity("tri.txt", Y3, 3, 2, 1, "m_s2_tri", "o_s2_tri");
}

/* the other logistic solvers: L1R_LR and L2R_LR_DUAL */
static void test_parity_s6_binary(void **st) {
    (void)st;
    parity("bin.txt", Y2, 2, 6, 1, "m_s6_bin", "o_s6_bin");
}
static void test_parity_s7_three(void **st) {
    (void)st;
    parity("tri.txt", Y3, 3, 7, 0, "m_s7_tri", "o_s7_tri");
}

/* ---- errors ------------------------------------------------------------- */

static void test_load_errors(void **st) {
    (void)st;
    char mpath[256], gpath[256], err[256];
    path_in(mpath, sizeof mpath, "m_s2_bin");
    if (access(mpath, R_OK) != 0) {
        char dpath[256];
        path_in(dpath, sizeof dpath, "bin.txt");
        char *targv[] = { tool_train, "-s", "2", dpath, mpath, NULL };
        assert_int_equal(tu_run_quiet(targv), 0);
    }
    rill_linear *m = (rill_linear *)&m;

    /* a model of 6 features read as 7 or 5: both numbers in the message */
    assert_int_equal(rill_linear_load(mpath, D + 1, &m, err, sizeof err), RILL_EMODEL);
    assert_null(m);
    assert_non_null(strstr(err, "nr_feature 6"));
    assert_non_null(strstr(err, "7 values"));
    assert_int_equal(rill_linear_load(mpath, D - 1, &m, err, sizeof err), RILL_EMODEL);
    assert_non_null(strstr(err, "5 values"));

    path_in(gpath, sizeof gpath, "missing-model");
    assert_int_equal(rill_linear_load(gpath, D, &m, err, sizeof err), RILL_EIO);
    assert_null(m);
    assert_non_null(strstr(err, "missing-model"));

    path_in(gpath, sizeof gpath, "garbage");
    FILE *f = fopen(gpath, "w");
    assert_non_null(f);
    fputs("this is not a model\n", f);
    fclose(f);
    assert_int_equal(rill_linear_load(gpath, D, &m, err, sizeof err), RILL_EMODEL);
    assert_null(m);

    /* dim 0 takes the model's own */
    assert_int_equal(rill_linear_load(mpath, 0, &m, err, sizeof err), RILL_OK);
    assert_int_equal(rill_linear_dim(m), D);
    double x[D + 1] = { 0 }, label, prob[2];
    assert_int_equal(rill_linear_predict(m, x, D + 1, &label, NULL, NULL), RILL_EMODEL);
    assert_non_null(strstr(rill_linear_errmsg(m), "7 values"));
    assert_int_equal(rill_linear_predict(m, x, D, &label, NULL, prob), RILL_EMODEL);
    assert_non_null(strstr(rill_linear_errmsg(m), "L2R_L2LOSS_SVC"));
    x[3] = NAN;
    assert_int_equal(rill_linear_predict(m, x, D, &label, NULL, NULL), RILL_EINVAL);
    x[3] = -INFINITY;
    assert_int_equal(rill_linear_predict(m, x, D, &label, NULL, NULL), RILL_EINVAL);
    x[3] = 0.0;
    assert_int_equal(rill_linear_predict(m, x, D, &label, NULL, NULL), RILL_OK);
    rill_linear_free(m);
    rill_linear_free(NULL);
}

/* ---- in-memory models ----------------------------------------------------- */

typedef struct problem_buf {
    struct feature_node nodes[N][D + 2];
    struct feature_node *rows[N];
    double y[N];
    struct problem prob;
} problem_buf;

static void make_problem(problem_buf *p, const double *y, double bias) {
    for (int k = 0; k < N; k++) {
        int j = 0;
        for (int i = 0; i < D; i++)
            if (X[k][i] != 0.0)
                p->nodes[k][j++] = (struct feature_node){ i + 1, X[k][i] };
        if (bias >= 0)
            p->nodes[k][j++] = (struct feature_node){ D + 1, bias };
        p->nodes[k][j] = (struct feature_node){ -1, 0.0 };
        p->rows[k] = p->nodes[k];
        p->y[k] = y[k];
    }
    p->prob = (struct problem){ .l = N, .n = bias >= 0 ? D + 1 : D, .y = p->y, .x = p->rows,
                                .bias = bias };
}

/* liblinear's logistic regression trained on X with these labels (bias 1). */
static struct model *train_lr(problem_buf *pb, const int *labels) {
    double y[N];
    for (int k = 0; k < N; k++)
        y[k] = labels[k];
    make_problem(pb, y, 1.0);
    struct parameter par = { .solver_type = L2R_LR, .eps = 0.01, .C = 1.0 };
    struct model *lm = train(&pb->prob, &par);
    assert_non_null(lm);
    return lm;
}

static void test_wrap(void **st) {
    (void)st;
    static problem_buf pb;
    struct model *lm = train_lr(&pb, Y3);

    /* borrowed: liblinear's predict_probability on the sparse rows is the
     * reference */
    rill_linear *m = NULL;
    char err[256];
    assert_int_equal(rill_linear_wrap(lm, D, RILL_LINEAR_BORROW, &m, err, sizeof err), RILL_OK);
    for (int k = 0; k < N; k++) {
        double want[3], got[3], label;
        double want_label = predict_probability(lm, pb.rows[k], want);
        assert_int_equal(rill_linear_predict(m, X[k], D, &label, NULL, got), RILL_OK);
        assert_true(label == want_label);
        for (int c = 0; c < 3; c++)
            assert_true(fabs(got[c] - want[c]) <= 1e-12);
    }
    rill_linear_free(m); /* lm is still ours */
    assert_int_equal(get_nr_feature(lm), D);

    /* a mismatch does not take the model, even with TAKE */
    assert_int_equal(rill_linear_wrap(lm, D + 2, RILL_LINEAR_TAKE, &m, err, sizeof err),
                     RILL_EMODEL);
    assert_null(m);
    assert_non_null(strstr(err, "8 values"));
    assert_int_equal(rill_linear_wrap(NULL, D, RILL_LINEAR_TAKE, &m, err, sizeof err),
                     RILL_EINVAL);

    /* taken: freed by rill_linear_free (the sanitizer checks) */
    assert_int_equal(rill_linear_wrap(lm, D, RILL_LINEAR_TAKE, &m, err, sizeof err), RILL_OK);
    rill_linear_free(m);
}

/* Two classes: the probabilities and the decision value come from one
 * predict_values() call with predict_probability()'s arithmetic repeated;
 * they must be liblinear's bit for bit, on its training rows and on
 * extreme vectors (exp overflowing and underflowing). */
static void test_binary_bits(void **st) {
    (void)st;
    static problem_buf pb;
    struct model *lm = train_lr(&pb, Y2);
    rill_linear *m = NULL;
    char err[256];
    assert_int_equal(rill_linear_wrap(lm, D, RILL_LINEAR_BORROW, &m, err, sizeof err), RILL_OK);
    struct feature_node nodes[D + 2];
    tu_rng g = { 77 };
    for (int k = 0; k < N + 200; k++) {
        double x[D];
        for (int i = 0; i < D; i++) {
            double scale = k < N ? 1.0 : k < N + 100 ? 1e3 : 1e-300; /* then |dec| up to ~1e3, ~0 */
            x[i] = k < N ? X[k][i] : scale * tu_gauss(&g);
            nodes[i] = (struct feature_node){ i + 1, x[i] };
        }
        nodes[D] = (struct feature_node){ D + 1, lm->bias };
        nodes[D + 1] = (struct feature_node){ -1, 0.0 };
        double want_prob[2], want_dec[2], got_prob[2], got_dec[2], label;
        double want_label = predict_probability(lm, nodes, want_prob);
        predict_values(lm, nodes, want_dec);
        assert_int_equal(rill_linear_predict(m, x, D, &label, got_dec, got_prob), RILL_OK);
        assert_true(label == want_label);
        assert_memory_equal(got_prob, want_prob, sizeof got_prob);
        assert_memory_equal(got_dec, want_dec, sizeof got_dec[0]);
    }
    rill_linear_free(m);
    free_and_destroy_model(&lm);
}

static void test_regression(void **st) {
    (void)st;
    static problem_buf pb;
    double y[N];
    for (int k = 0; k < N; k++)
        y[k] = 2.0 * X[k][0] - X[k][4] + 0.5;
    make_problem(&pb, y, 1.0);
    struct parameter par = { .solver_type = L2R_L2LOSS_SVR, .eps = 0.001, .C = 10.0, .p = 0.01 };
    struct model *lm = train(&pb.prob, &par);
    assert_non_null(lm);
    rill_linear *m = NULL;
    char err[256];
    assert_int_equal(rill_linear_wrap(lm, D, RILL_LINEAR_TAKE, &m, err, sizeof err), RILL_OK);
    assert_true(rill_linear_is_regression(m));
    assert_false(rill_linear_is_probabilistic(m));
    assert_int_equal(rill_linear_nr_dec(m), 1);
    assert_int_equal(rill_linear_label(m, 0), 0);
    double worst = 0.0;
    for (int k = 0; k < N; k++) {
        double v, dec;
        assert_int_equal(rill_linear_predict(m, X[k], D, &v, &dec, NULL), RILL_OK);
        assert_true(v == dec);
        if (fabs(v - y[k]) > worst)
            worst = fabs(v - y[k]);
    }
    /* a noiseless linear target is fitted closely */
    assert_true(worst < 0.1);
    rill_linear_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parity_s0_binary),
        cmocka_unit_test(test_parity_s0_three),
        cmocka_unit_test(test_parity_s2_binary),
        cmocka_unit_test(test_parity_s2_three),
        cmocka_unit_test(test_parity_s6_binary),
        cmocka_unit_test(test_parity_s7_three),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_binary_bits),
        cmocka_unit_test(test_regression),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
