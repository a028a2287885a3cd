/* rill/learn.h — the models: liblinear prediction, an online SGD learner and
 * prequential metrics.
 *
 * Three independent pieces, each an opaque object used by one thread at a
 * time:
 *
 *   rill_linear   a model written by liblinear's `train` (or an in-memory
 *                 liblinear model), used for prediction as is.
 *   rill_sgd      an online linear learner (logistic, squared or hinge loss)
 *                 trained by stochastic gradient descent, whose whole state
 *                 can be saved to a byte blob and restored bit for bit.
 *   rill_metrics  prequential evaluation of one model: cumulative and over a
 *                 sliding window of the last N labels.
 *
 * Feature vectors are dense arrays of doubles of a fixed dimension, in the
 * order the caller declared its features. Status codes are those of
 * rill/error.h; objects keep a detailed message readable through their
 * *_errmsg() function, and constructors that fail fill a caller buffer.
 */
#ifndef RILL_LEARN_H
#define RILL_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rill/error.h"

/* ==== liblinear models ===================================================== */

typedef struct rill_linear rill_linear;

/* liblinear's model type (from <linear.h>); only a pointer to it crosses
 * this API, so callers that never wrap an in-memory model need not include
 * liblinear's header. */
struct model;

/* Load the model file at path, in the text format liblinear's `train` (and
 * save_model()) writes. dim is the dimension of the dense vectors the caller
 * will predict from; feature i of such a vector (0-based) is liblinear's
 * feature index i + 1. dim == 0 accepts the model's own nr_feature.
 *
 * On success *out is a model the caller frees with rill_linear_free().
 * On failure *out is NULL, errbuf (if not NULL) holds a message, and the
 * status is RILL_EIO (the file cannot be opened), RILL_EMODEL (liblinear
 * cannot parse it, or its nr_feature differs from dim — the message names
 * both numbers) or RILL_ENOMEM.
 * Loading goes through liblinear's load_model(), which switches the C
 * locale for the duration of the call: do not load from several threads at
 * once. */
int rill_linear_load(const char *path, size_t dim, rill_linear **out,
                     char *errbuf, size_t errlen);

typedef enum rill_linear_own {
    RILL_LINEAR_BORROW = 0, /* the caller keeps m; it must outlive the rill_linear */
    RILL_LINEAR_TAKE = 1,   /* rill_linear_free() frees m (free_and_destroy_model) */
} rill_linear_own;

/* Use an in-memory liblinear model m (from liblinear's train() or
 * load_model()) for prediction; dim as for rill_linear_load(). With
 * RILL_LINEAR_TAKE, ownership of m passes to the result on success only: on
 * failure the caller still owns m. Errors: RILL_EINVAL (m is NULL),
 * RILL_EMODEL (dimension mismatch, or a model liblinear would not accept),
 * RILL_ENOMEM. */
int rill_linear_wrap(struct model *m, size_t dim, rill_linear_own own,
                     rill_linear **out, char *errbuf, size_t errlen);

void rill_linear_free(rill_linear *m); /* accepts NULL */

/* The dimension of the vectors this model predicts from (its nr_feature). */
size_t rill_linear_dim(const rill_linear *m);
/* Number of classes (2 for a regression model, as in liblinear). */
int rill_linear_nr_class(const rill_linear *m);
/* Number of decision values a prediction yields: 1 for two-class and
 * regression models (except Crammer-Singer), else nr_class. */
int rill_linear_nr_dec(const rill_linear *m);
/* The class label of position i (0 <= i < nr_class) in decision values and
 * probabilities; the order is liblinear's (order of first appearance in the
 * training data). Regression models: 0. */
int rill_linear_label(const rill_linear *m, int i);
/* True for the solvers whose outputs are probabilities: logistic
 * regression (L2R_LR, L1R_LR, L2R_LR_DUAL). */
bool rill_linear_is_probabilistic(const rill_linear *m);
/* True for the support vector regression solvers. */
bool rill_linear_is_regression(const rill_linear *m);

/* Predict from the dense vector x of n values (n must equal the model's
 * dimension; x[i] is liblinear feature i + 1; the model's bias feature is
 * appended as liblinear's own `predict` does).
 *   *label   the predicted class label, or the value for regression.
 *   dec      (may be NULL) receives rill_linear_nr_dec() decision values.
 *   prob     (may be NULL) receives nr_class probabilities, in the label
 *            order above; only for probabilistic models.
 * No allocation: a feature buffer inside m is reused, so one model serves one
 * thread at a time. Errors (m is unchanged, rill_linear_errmsg() says why):
 * RILL_EMODEL when n differs from the dimension or prob is asked of a model
 * that is not logistic; RILL_EINVAL for a NaN or infinite value. */
int rill_linear_predict(rill_linear *m, const double *x, size_t n,
                        double *label, double *dec, double *prob);

/* Message of the last failed call on m; "" if none. Lives with m. */
const char *rill_linear_errmsg(const rill_linear *m);

/* ==== online SGD =========================================================== */

typedef struct rill_sgd rill_sgd;

typedef enum rill_sgd_loss {
    /* Binary logistic regression. Labels: 0/1 or -1/+1 (both accepted, mixed
     * freely): 1 and +1 are the positive class, 0 and -1 the negative.
     * Prediction: P(positive). */
    RILL_SGD_LOGISTIC = 0,
    /* Least squares regression: any finite label; prediction: the value. */
    RILL_SGD_SQUARED = 1,
    /* Linear SVM (hinge loss max(0, 1 - y*f)), labels as for logistic.
     * Prediction: the margin f (positive class when >= 0). */
    RILL_SGD_HINGE = 2,
} rill_sgd_loss;

typedef enum rill_sgd_schedule {
    RILL_SGD_CONSTANT = 0,   /* eta = eta0 */
    RILL_SGD_INVSCALING = 1, /* eta = eta0 / t^power, t = 1, 2, ... the step number */
    /* Per weight: eta0 / (sqrt(sum of its squared gradients) + eps); the
     * intercept has its own sum and intercept_eta0. */
    RILL_SGD_ADAGRAD = 2,
} rill_sgd_schedule;

/* Options; zero-initialise and set what differs from the defaults. */
typedef struct rill_sgd_opts {
    rill_sgd_loss loss;          /* default logistic */
    rill_sgd_schedule schedule;  /* default constant */
    double eta0;                 /* base learning rate; 0 = 0.01 */
    /* The intercept's base learning rate (scaled by the same schedule);
     * 0 = eta0. */
    double intercept_eta0;
    double power;                /* inverse scaling exponent; 0 = 0.5 */
    double adagrad_eps;          /* AdaGrad's epsilon; 0 = 1e-8 */
    double l2;                   /* L2 penalty lambda (not on the intercept); 0 = none */
    /* Gradient clipping: every component of the gradient of a step (the
     * loss part plus the L2 part, intercept included) is clipped to
     * [-clip, clip] before the learning rate is applied. 0 = no clipping. */
    double clip;
    bool no_intercept;           /* false (default): learn an intercept */
    /* Online standardisation: each feature is replaced by
     * (x - mean) / stddev, with mean and (population) variance kept by
     * Welford's method over every example learned so far. An example being
     * learned updates the statistics first and is then standardised with
     * them; predictions use the statistics as they are. A feature whose
     * variance is 0 becomes 0. */
    bool standardize;
    /* 0 or 1: one step per example (the default). N > 1: mini-batch —
     * each example's gradient is computed at the weights of the last step
     * and accumulated; after every N examples one step is taken with their
     * average (clipping applies to that average). The standardisation
     * statistics still advance with every example. Examples are counted
     * across calls, so how a stream is split into rill_sgd_learn() calls
     * never changes the result in either mode; the two modes give different
     * weights for the same stream. */
    uint32_t batch;
} rill_sgd_opts;

/* A learner for dense vectors of dim features (dim >= 1), all weights zero.
 * opts may be NULL for the defaults. Errors: RILL_EINVAL (dim is 0, or an
 * option out of range: eta0, intercept_eta0, power, adagrad_eps, l2 or
 * clip negative or not finite, unknown loss or schedule) with a message in
 * errbuf; RILL_ENOMEM. */
int rill_sgd_new(size_t dim, const rill_sgd_opts *opts, rill_sgd **out,
                 char *errbuf, size_t errlen);
void rill_sgd_free(rill_sgd *l); /* accepts NULL */

/* Learn n examples, in order: X holds n rows of dim values (row-major), y
 * their labels. If pred is not NULL, pred[i] receives the prediction of
 * example i made just before it was learned (test-then-train), exactly what
 * rill_sgd_predict() would have returned at that moment.
 * The whole call is checked first: on a NaN or infinite value, or a label
 * the loss does not accept, nothing is learned, RILL_EINVAL is returned and
 * rill_sgd_errmsg() names the row. No allocation. */
int rill_sgd_learn(rill_sgd *l, const double *X, const double *y, size_t n,
                   double *pred);

/* The decision value w.z + b of x (dim values), z = x standardised if
 * enabled. */
double rill_sgd_decision(const rill_sgd *l, const double *x);
/* The prediction for x: P(positive) for logistic, the value for squared,
 * the margin for hinge. */
double rill_sgd_predict(const rill_sgd *l, const double *x);
/* Classification: 1 when x falls in the positive class (decision >= 0,
 * i.e. P(positive) >= 0.5 for logistic), else 0. For squared loss: 1 when
 * the predicted value is >= 0.5. */
int rill_sgd_predict_label(const rill_sgd *l, const double *x);
/* rill_sgd_predict() of n rows of X into out[0..n-1]. */
void rill_sgd_predict_many(const rill_sgd *l, const double *X, size_t n, double *out);

size_t rill_sgd_dim(const rill_sgd *l);
/* Examples learned so far; steps taken so far (equal unless mini-batch). */
uint64_t rill_sgd_seen(const rill_sgd *l);
uint64_t rill_sgd_steps(const rill_sgd *l);
/* The current weights: w receives dim values (in the standardised space when
 * standardisation is on); *intercept (may be NULL) the intercept. */
void rill_sgd_weights(const rill_sgd *l, double *w, double *intercept);
/* Forget everything learned (weights, optimiser state, scaler, counters);
 * the options stay. */
void rill_sgd_reset(rill_sgd *l);

/* Serialise the whole state (options, weights, optimiser state, scaler
 * statistics, the pending mini-batch, counters) into a versioned,
 * checksummed little-endian blob. On success *buf is malloc'd (the caller
 * frees it with free()) and *len is its size; on RILL_ENOMEM nothing is
 * returned. */
int rill_sgd_save(const rill_sgd *l, void **buf, size_t *len);

/* A learner restored from a blob made by rill_sgd_save() (the blob is only
 * read). It continues exactly as the saved one would have: same
 * predictions, same weights after the same examples, bit for bit.
 * Errors: RILL_ECORRUPT (wrong magic, unknown version, size or checksum
 * mismatch, invalid content) with a message in errbuf; RILL_ENOMEM. */
int rill_sgd_load(const void *buf, size_t len, rill_sgd **out,
                  char *errbuf, size_t errlen);

/* Message of the last failed call on l; "" if none. Lives with l. */
const char *rill_sgd_errmsg(const rill_sgd *l);

/* ==== prequential metrics ================================================== */

typedef struct rill_metrics rill_metrics;

typedef enum rill_metrics_task {
    RILL_METRICS_CLASSIFICATION = 0, /* binary: accuracy, log loss, AUC, precision, recall */
    RILL_METRICS_REGRESSION = 1,     /* MAE, RMSE */
} rill_metrics_task;

typedef struct rill_metrics_opts {
    rill_metrics_task task;
    /* The sliding window: the last `window` labels; 0 = 1000. */
    size_t window;
    /* Cumulative AUC: scores are counted in this many equal bins over
     * [0, 1]; 0 = 4096. See rill_metric_values.auc_err. */
    uint32_t auc_bins;
} rill_metrics_opts;

/* One set of figures. A figure that is undefined so far (no example, AUC
 * without both classes, precision without a predicted positive, recall
 * without a positive) is NaN. Fields of the other task are NaN. */
typedef struct rill_metric_values {
    uint64_t n;          /* examples counted */
    uint64_t positives;  /* classification: labels in the positive class */
    double accuracy;     /* predicted class = score >= 0.5 */
    double log_loss;     /* mean of -log p(true class), p clipped to [1e-15, 1 - 1e-15] */
    /* ROC AUC: the probability that a positive scores above a negative,
     * ties counting one half (Mann-Whitney U / (P * N)).
     * Window: exact. Cumulative: scores are binned (auc_bins equal bins over
     * [0, 1], scores outside clamped) and pairs within one bin count as
     * ties; auc_err is a bound on |auc - exact AUC|, namely half the share of
     * positive-negative pairs that fall in the same bin (0 for the window). */
    double auc;
    double auc_err;
    double precision;    /* TP / (TP + FP) */
    double recall;       /* TP / (TP + FN) */
    double mae;          /* regression: mean |y - prediction| */
    double rmse;         /* regression: sqrt(mean (y - prediction)^2) */
} rill_metric_values;

typedef struct rill_metrics_report {
    rill_metric_values cumulative; /* everything since creation (or reset) */
    rill_metric_values window;     /* the last `window` examples */
} rill_metrics_report;

/* Metrics for one model. opts may be NULL for the defaults (classification,
 * window 1000, 4096 bins). Errors: RILL_EINVAL (bad task) with a message in
 * errbuf, RILL_ENOMEM. Memory is allocated here only: O(window + bins). */
int rill_metrics_new(const rill_metrics_opts *opts, rill_metrics **out,
                     char *errbuf, size_t errlen);
void rill_metrics_free(rill_metrics *m); /* accepts NULL */

/* Count one labelled prediction, in label order.
 * Classification: y is the true label (1 or +1 positive; 0 or -1 negative),
 * score the predicted P(positive) in [0, 1].
 * Regression: y is the true value, score the prediction.
 * RILL_EINVAL (nothing counted) for a NaN or infinite value, a label outside
 * {-1, 0, 1} or a score outside [0, 1] in classification.
 * O(1), no allocation. */
int rill_metrics_add(rill_metrics *m, double y, double score);

/* The figures now; O(window log window + bins): the AUCs are summed here,
 * so read once per report, not per label. */
void rill_metrics_read(const rill_metrics *m, rill_metrics_report *out);

/* Forget everything counted (options stay). */
void rill_metrics_reset(rill_metrics *m);

/* Message of the last failed call on m; "" if none. Lives with m. */
const char *rill_metrics_errmsg(const rill_metrics *m);

#endif
