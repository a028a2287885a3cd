/* learners/sgd.c — the online SGD learner (rill_sgd_*).
 *
 * What: a linear model f(x) = w.z + b over dense feature vectors, trained one
 * example at a time (or one mini-batch at a time) by stochastic gradient
 * descent on the logistic, squared or hinge loss, with L2, gradient clipping,
 * constant / inverse-scaling / AdaGrad learning rates and optional online
 * standardisation z = (x - mean) / stddev.
 *
 * Idea: for a loss L(f, y) the gradient of one example is dL/df * z for the
 * weights and dL/df for the intercept, so an update is a dot product, one
 * scalar derivative and one axpy-like pass over the weights. Everything that
 * depends on the options (the loss derivative, the step rule) is chosen once
 * at creation as a function pointer; the per-feature loops have no branches
 * (clipping is a min/max, a zero variance is masked arithmetically) so the
 * compiler can vectorise them. The dot product uses four partial sums in a
 * fixed order: faster than one chain and still the same bits on every run.
 * Nothing is allocated after creation: the weights, the optimiser state, the
 * scaler and the scratch vectors live in one block.
 *
 * Standardisation keeps Welford's running mean and sum of squared
 * deviations per feature (B. P. Welford, "Note on a method for calculating
 * corrected sums of squares and products", Technometrics 4(3), 1962); an
 * example being learned is added to them first, then standardised with
 * them. 1/stddev is cached per feature after each update, so prediction costs
 * no square root.
 *
 * Mini-batch (batch = N > 1): per-example gradients at the current weights
 * are summed; every N examples one step is taken with their mean. The
 * pending sum is part of the state, so a batch may span calls and the saved
 * state resumes mid-batch.
 *
 * Blob format (version 1, little-endian): "RSGD", u32 version, u64 dim,
 * u32 loss, schedule, flags, batch; f64 eta0, intercept_eta0, power,
 * adagrad_eps, l2, clip;
 * u64 seen, steps; u32 pending, u32 0; f64 b, Gb, acc_b; then dim f64 each of
 * w, G, mean, m2, acc; then u64 XXH64 (seed 0) of everything before it.
 *
 * Not here: sparse features, multi-class, feature hashing, thread safety (one
 * learner, one thread at a time).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "learners/learn_err.h"
#include "rill/learn.h"

#define SGD_MAGIC "RSGD"
#define SGD_VERSION 1u
#define SGD_HEADER 128 /* bytes before the arrays: see the format above */
#define SGD_ARRAYS 5   /* w, G, mean, m2, acc */
#define SGD_SEED 0 /* XXH64 seed */

#define FLAG_INTERCEPT 1u
#define FLAG_STANDARDIZE 2u

typedef double (*dloss_fn)(double f, double y);
typedef double (*out_fn)(double f);
typedef void (*step_fn)(rill_sgd *l, double coef, const double *src, double src_b);

struct rill_sgd {
    rill_sgd_opts o;    /* defaults resolved */
    size_t dim;
    uint64_t seen;      /* examples learned (also the scaler's count) */
    uint64_t steps;     /* optimiser steps taken */
    uint32_t batch;     /* >= 1 */
    uint32_t pending;   /* examples summed into acc since the last step */
    double b, Gb, acc_b;
    double clip;        /* INFINITY when off */
    double intercept;   /* 1 or 0: multiplies the intercept's gradient */
    double *w, *G, *mean, *m2, *acc; /* saved */
    double *inv_std, *z;             /* derived / scratch */
    double *block;
    dloss_fn dloss;
    out_fn out;
    step_fn step;
    double label_cut;   /* predict_label: decision >= label_cut is class 1 */
    char errmsg[256];
};

/* ---- losses ------------------------------------------------------------- */

static double sigmoid(double f) { return 1.0 / (1.0 + exp(-f)); }
static double identity(double f) { return f; }

/* y arrives as -1, 0 or 1; (y > 0) is the positive class. */
static double dloss_logistic(double f, double y) { return sigmoid(f) - (double)(y > 0.0); }
static double dloss_squared(double f, double y) { return f - y; }
static double dloss_hinge(double f, double y) {
    double ys = y > 0.0 ? 1.0 : -1.0;
    return ys * f < 1.0 ? -ys : 0.0;
}

/* ---- the per-feature loops ---------------------------------------------- */

/* w.z + b with four partial sums in a fixed order (deterministic). */
static inline double dot(const double *restrict w, const double *restrict z, size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += w[i] * z[i];
        s1 += w[i + 1] * z[i + 1];
        s2 += w[i + 2] * z[i + 2];
        s3 += w[i + 3] * z[i + 3];
    }
    for (; i < n; i++)
        s0 += w[i] * z[i];
    return (s0 + s1) + (s2 + s3);
}

/* The same over standardised x, without writing z. */
static inline double dot_std(const double *restrict w, const double *restrict x,
                             const double *restrict mean, const double *restrict is,
                             size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += w[i] * ((x[i] - mean[i]) * is[i]);
        s1 += w[i + 1] * ((x[i + 1] - mean[i + 1]) * is[i + 1]);
        s2 += w[i + 2] * ((x[i + 2] - mean[i + 2]) * is[i + 2]);
        s3 += w[i + 3] * ((x[i + 3] - mean[i + 3]) * is[i + 3]);
    }
    for (; i < n; i++)
        s0 += w[i] * ((x[i] - mean[i]) * is[i]);
    return (s0 + s1) + (s2 + s3);
}

static inline double clampd(double g, double c) {
    g = g < -c ? -c : g;
    return g > c ? c : g;
}

/* Welford update with x (the count becomes l->seen + 1), refresh 1/stddev,
 * and write the standardised x into l->z. */
static void scaler_learn(rill_sgd *l, const double *restrict x) {
    double *restrict mean = l->mean, *restrict m2 = l->m2;
    double *restrict is = l->inv_std, *restrict z = l->z;
    double inv_n = 1.0 / (double)(l->seen + 1);
    for (size_t i = 0; i < l->dim; i++) {
        double d = x[i] - mean[i];
        double mu = mean[i] + d * inv_n;
        double s2 = m2[i] + d * (x[i] - mu);
        double sd = sqrt(s2 * inv_n);
        /* 0 for a zero variance, without a branch or a division by 0 */
        double nz = sd > 0.0 ? 1.0 : 0.0;
        double r = nz / (sd + (1.0 - nz));
        mean[i] = mu;
        m2[i] = s2;
        is[i] = r;
        z[i] = (x[i] - mu) * r;
    }
}

static void refresh_inv_std(rill_sgd *l) {
    double inv_n = l->seen ? 1.0 / (double)l->seen : 0.0;
    for (size_t i = 0; i < l->dim; i++) {
        double sd = sqrt(l->m2[i] * inv_n);
        double nz = sd > 0.0 ? 1.0 : 0.0;
        l->inv_std[i] = nz / (sd + (1.0 - nz));
    }
}

/* One plain step: g = clip(coef * src + l2 * w); w -= eta * g; the
 * intercept likewise with gradient clip(coef * src_b) and rate eta_b. */
static inline void step_plain(rill_sgd *l, double eta, double eta_b, double coef,
                              const double *restrict src, double src_b) {
    double *restrict w = l->w;
    const double l2 = l->o.l2, c = l->clip;
    for (size_t i = 0; i < l->dim; i++) {
        double g = clampd(coef * src[i] + l2 * w[i], c);
        w[i] -= eta * g;
    }
    double gb = clampd(coef * src_b, c) * l->intercept;
    l->b -= eta_b * gb;
}

static void step_constant(rill_sgd *l, double coef, const double *src, double src_b) {
    step_plain(l, l->o.eta0, l->o.intercept_eta0, coef, src, src_b);
}

static void step_invscaling(rill_sgd *l, double coef, const double *src, double src_b) {
    double t = (double)l->steps;
    double p = l->o.power;
    double scale = p == 0.5 ? 1.0 / sqrt(t) : p == 1.0 ? 1.0 / t : 1.0 / pow(t, p);
    step_plain(l, l->o.eta0 * scale, l->o.intercept_eta0 * scale, coef, src, src_b);
}

static void step_adagrad(rill_sgd *l, double coef, const double *src, double src_b) {
    double *restrict w = l->w, *restrict G = l->G;
    const double l2 = l->o.l2, c = l->clip, eta = l->o.eta0, eps = l->o.adagrad_eps;
    for (size_t i = 0; i < l->dim; i++) {
        double g = clampd(coef * src[i] + l2 * w[i], c);
        double gi = G[i] + g * g;
        G[i] = gi;
        w[i] -= eta * g / (sqrt(gi) + eps);
    }
    double gb = clampd(coef * src_b, c) * l->intercept;
    l->Gb += gb * gb;
    l->b -= l->o.intercept_eta0 * gb / (sqrt(l->Gb) + eps);
}

/* ---- creation ------------------------------------------------------------ */

static int resolve_opts(const rill_sgd_opts *in, rill_sgd_opts *o, char *errbuf, size_t errlen) {
    *o = in ? *in : (rill_sgd_opts){0};
    if (o->loss != RILL_SGD_LOGISTIC && o->loss != RILL_SGD_SQUARED && o->loss != RILL_SGD_HINGE)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "unknown loss %d", (int)o->loss);
    if (o->schedule != RILL_SGD_CONSTANT && o->schedule != RILL_SGD_INVSCALING &&
        o->schedule != RILL_SGD_ADAGRAD)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "unknown schedule %d", (int)o->schedule);
    struct { const char *name; double v; } num[] = {
        { "eta0", o->eta0 }, { "intercept_eta0", o->intercept_eta0 }, { "power", o->power }, { "adagrad_eps", o->adagrad_eps },
        { "l2", o->l2 }, { "clip", o->clip },
    };
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (!isfinite(num[i].v) || num[i].v < 0.0)
            return rill__learn_err(errbuf, errlen, RILL_EINVAL,
                           "option %s must be finite and >= 0 (got %g)", num[i].name, num[i].v);
    if (o->eta0 == 0.0)
        o->eta0 = 0.01;
    if (o->intercept_eta0 == 0.0)
        o->intercept_eta0 = o->eta0;
    if (o->power == 0.0)
        o->power = 0.5;
    if (o->adagrad_eps == 0.0)
        o->adagrad_eps = 1e-8;
    if (o->batch == 0)
        o->batch = 1;
    return RILL_OK;
}

static void bind_methods(rill_sgd *l) {
    static const dloss_fn dl[] = { dloss_logistic, dloss_squared, dloss_hinge };
    static const out_fn out[] = { sigmoid, identity, identity };
    static const step_fn st[] = { step_constant, step_invscaling, step_adagrad };
    l->dloss = dl[l->o.loss];
    l->out = out[l->o.loss];
    l->step = st[l->o.schedule];
    l->label_cut = l->o.loss == RILL_SGD_SQUARED ? 0.5 : 0.0;
    l->clip = l->o.clip > 0.0 ? l->o.clip : INFINITY;
    l->intercept = l->o.no_intercept ? 0.0 : 1.0;
    l->batch = l->o.batch;
}

/* dim is checked by the caller against overflow. */
static rill_sgd *alloc_learner(size_t dim, const rill_sgd_opts *o) {
    rill_sgd *l = calloc(1, sizeof *l);
    if (!l)
        goto fail_alloc;
    l->block = calloc(dim * (SGD_ARRAYS + 2), sizeof(double));
    if (!l->block)
        goto fail_block;
    l->o = *o;
    l->dim = dim;
    l->w = l->block;
    l->G = l->w + dim;
    l->mean = l->G + dim;
    l->m2 = l->mean + dim;
    l->acc = l->m2 + dim;
    l->inv_std = l->acc + dim;
    l->z = l->inv_std + dim;
    bind_methods(l);
    return l;

fail_block:
    free(l);
fail_alloc:
    return NULL;
}

static size_t max_dim(void) {
    return (SIZE_MAX - SGD_HEADER - 8) / (8 * (SGD_ARRAYS + 2));
}

int rill_sgd_new(size_t dim, const rill_sgd_opts *opts, rill_sgd **out,
                 char *errbuf, size_t errlen) {
    *out = NULL;
    if (dim == 0 || dim > max_dim())
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "dimension %zu out of range", dim);
    rill_sgd_opts o;
    int rc = resolve_opts(opts, &o, errbuf, errlen);
    if (rc != RILL_OK)
        return rc;
    rill_sgd *l = alloc_learner(dim, &o);
    if (!l)
        return rill__learn_err(errbuf, errlen, RILL_ENOMEM, "out of memory for a learner of %zu features",
                       dim);
    *out = l;
    return RILL_OK;
}

void rill_sgd_free(rill_sgd *l) {
    if (!l)
        return;
    free(l->block);
    free(l);
}

void rill_sgd_reset(rill_sgd *l) {
    memset(l->block, 0, l->dim * (SGD_ARRAYS + 2) * sizeof(double));
    l->seen = l->steps = 0;
    l->pending = 0;
    l->b = l->Gb = l->acc_b = 0.0;
    l->errmsg[0] = '\0';
}

/* ---- prediction ---------------------------------------------------------- */

double rill_sgd_decision(const rill_sgd *l, const double *x) {
    if (l->o.standardize)
        return l->b + dot_std(l->w, x, l->mean, l->inv_std, l->dim);
    return l->b + dot(l->w, x, l->dim);
}

double rill_sgd_predict(const rill_sgd *l, const double *x) {
    return l->out(rill_sgd_decision(l, x));
}

int rill_sgd_predict_label(const rill_sgd *l, const double *x) {
    return rill_sgd_decision(l, x) >= l->label_cut;
}

void rill_sgd_predict_many(const rill_sgd *l, const double *X, size_t n, double *out) {
    for (size_t k = 0; k < n; k++)
        out[k] = rill_sgd_predict(l, X + k * l->dim);
}

/* ---- learning ------------------------------------------------------------ */

/* Check every value and label of a call before learning any of it. */
static int check_input(rill_sgd *l, const double *X, const double *y, size_t n) {
    size_t total = n * l->dim;
    /* x * 0 is 0 for every finite x and NaN otherwise: one sum tests all. */
    double poison = 0.0;
    for (size_t i = 0; i < total; i++)
        poison += X[i] * 0.0;
    if (poison != 0.0) {
        for (size_t i = 0; i < total; i++)
            if (!isfinite(X[i]))
                return rill__learn_err(l->errmsg, sizeof l->errmsg, RILL_EINVAL,
                               "row %zu, feature %zu is %g: features must be finite",
                               i / l->dim, i % l->dim, X[i]);
    }
    bool classify = l->o.loss != RILL_SGD_SQUARED;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(y[k]))
            return rill__learn_err(l->errmsg, sizeof l->errmsg, RILL_EINVAL,
                           "row %zu: label %g is not finite", k, y[k]);
        if (classify && y[k] != 0.0 && y[k] != 1.0 && y[k] != -1.0)
            return rill__learn_err(l->errmsg, sizeof l->errmsg, RILL_EINVAL,
                           "row %zu: label %g is not a class label (0/1 or -1/+1)", k, y[k]);
    }
    return RILL_OK;
}

int rill_sgd_learn(rill_sgd *l, const double *X, const double *y, size_t n, double *pred) {
    if (n == 0)
        return RILL_OK;
    if (n > SIZE_MAX / l->dim)
        return rill__learn_err(l->errmsg, sizeof l->errmsg, RILL_EINVAL, "too many rows (%zu)", n);
    int rc = check_input(l, X, y, n);
    if (rc != RILL_OK)
        return rc;
    const size_t dim = l->dim;
    for (size_t k = 0; k < n; k++) {
        const double *x = X + k * dim;
        if (pred)
            pred[k] = rill_sgd_predict(l, x);
        const double *z = x;
        if (l->o.standardize) {
            scaler_learn(l, x);
            z = l->z;
        }
        double f = l->b + dot(l->w, z, dim);
        double dl = l->dloss(f, y[k]);
        l->seen++;
        if (l->batch == 1) {
            l->steps++;
            l->step(l, dl, z, 1.0);
            continue;
        }
        double *restrict acc = l->acc;
        for (size_t i = 0; i < dim; i++)
            acc[i] += dl * z[i];
        l->acc_b += dl;
        if (++l->pending == l->batch) {
            l->steps++;
            l->step(l, 1.0 / (double)l->batch, acc, l->acc_b);
            memset(acc, 0, dim * sizeof *acc);
            l->acc_b = 0.0;
            l->pending = 0;
        }
    }
    return RILL_OK;
}

/* ---- inspection ---------------------------------------------------------- */

size_t rill_sgd_dim(const rill_sgd *l) { return l->dim; }
uint64_t rill_sgd_seen(const rill_sgd *l) { return l->seen; }
uint64_t rill_sgd_steps(const rill_sgd *l) { return l->steps; }
const char *rill_sgd_errmsg(const rill_sgd *l) { return l->errmsg; }

void rill_sgd_weights(const rill_sgd *l, double *w, double *intercept) {
    memcpy(w, l->w, l->dim * sizeof *w);
    if (intercept)
        *intercept = l->b;
}

/* ---- save / load --------------------------------------------------------- */

static unsigned char *put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}
static unsigned char *put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}
static unsigned char *put_f64(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return put_u64(p, v);
}
static const unsigned char *get_u32(const unsigned char *p, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++)
        *v |= (uint32_t)p[i] << (8 * i);
    return p + 4;
}
static const unsigned char *get_u64(const unsigned char *p, uint64_t *v) {
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)p[i] << (8 * i);
    return p + 8;
}
static const unsigned char *get_f64(const unsigned char *p, double *d) {
    uint64_t v;
    p = get_u64(p, &v);
    memcpy(d, &v, sizeof v);
    return p;
}

int rill_sgd_save(const rill_sgd *l, void **buf, size_t *len) {
    size_t n = SGD_HEADER + SGD_ARRAYS * l->dim * 8 + 8;
    unsigned char *b = malloc(n);
    if (!b)
        return RILL_ENOMEM;
    unsigned char *p = b;
    memcpy(p, SGD_MAGIC, 4);
    p += 4;
    p = put_u32(p, SGD_VERSION);
    p = put_u64(p, l->dim);
    p = put_u32(p, (uint32_t)l->o.loss);
    p = put_u32(p, (uint32_t)l->o.schedule);
    p = put_u32(p, (l->o.no_intercept ? 0u : FLAG_INTERCEPT) |
                   (l->o.standardize ? FLAG_STANDARDIZE : 0u));
    p = put_u32(p, l->o.batch);
    p = put_f64(p, l->o.eta0);
    p = put_f64(p, l->o.intercept_eta0);
    p = put_f64(p, l->o.power);
    p = put_f64(p, l->o.adagrad_eps);
    p = put_f64(p, l->o.l2);
    p = put_f64(p, l->o.clip);
    p = put_u64(p, l->seen);
    p = put_u64(p, l->steps);
    p = put_u32(p, l->pending);
    p = put_u32(p, 0);
    p = put_f64(p, l->b);
    p = put_f64(p, l->Gb);
    p = put_f64(p, l->acc_b);
    const double *arr[SGD_ARRAYS] = { l->w, l->G, l->mean, l->m2, l->acc };
    for (int a = 0; a < SGD_ARRAYS; a++)
        for (size_t i = 0; i < l->dim; i++)
            p = put_f64(p, arr[a][i]);
    assert((size_t)(p - b) == n - 8);
    p = put_u64(p, XXH64(b, n - 8, SGD_SEED));
    *buf = b;
    *len = n;
    return RILL_OK;
}

int rill_sgd_load(const void *buf, size_t len, rill_sgd **out, char *errbuf, size_t errlen) {
    *out = NULL;
    const unsigned char *b = buf, *p = b;
    if (!buf || len < SGD_HEADER + 8)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT, "SGD state: %zu bytes is too short", len);
    if (memcmp(p, SGD_MAGIC, 4) != 0)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT, "SGD state: bad magic");
    p += 4;
    uint32_t version, loss, schedule, flags, batch, pending, zero;
    uint64_t dim, seen, steps, sum;
    p = get_u32(p, &version);
    if (version != SGD_VERSION)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT,
                       "SGD state: version %u, this build reads version %u", version, SGD_VERSION);
    p = get_u64(p, &dim);
    if (dim == 0 || dim > max_dim() || len != SGD_HEADER + SGD_ARRAYS * dim * 8 + 8)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT,
                       "SGD state: %zu bytes does not fit dimension %llu", len,
                       (unsigned long long)dim);
    get_u64(b + len - 8, &sum);
    if (sum != XXH64(b, len - 8, SGD_SEED))
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT, "SGD state: checksum mismatch");

    rill_sgd_opts o = {0};
    p = get_u32(p, &loss);
    p = get_u32(p, &schedule);
    p = get_u32(p, &flags);
    p = get_u32(p, &batch);
    p = get_f64(p, &o.eta0);
    p = get_f64(p, &o.intercept_eta0);
    p = get_f64(p, &o.power);
    p = get_f64(p, &o.adagrad_eps);
    p = get_f64(p, &o.l2);
    p = get_f64(p, &o.clip);
    p = get_u64(p, &seen);
    p = get_u64(p, &steps);
    p = get_u32(p, &pending);
    p = get_u32(p, &zero);
    if (loss > RILL_SGD_HINGE || schedule > RILL_SGD_ADAGRAD ||
        (flags & ~(FLAG_INTERCEPT | FLAG_STANDARDIZE)) || batch == 0 || pending >= batch ||
        zero != 0 || steps > seen)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT, "SGD state: invalid header fields");
    o.loss = (rill_sgd_loss)loss;
    o.schedule = (rill_sgd_schedule)schedule;
    o.no_intercept = !(flags & FLAG_INTERCEPT);
    o.standardize = (flags & FLAG_STANDARDIZE) != 0;
    o.batch = batch;
    char why[128];
    rill_sgd_opts resolved;
    if (resolve_opts(&o, &resolved, why, sizeof why) != RILL_OK || o.eta0 == 0.0 ||
        o.intercept_eta0 == 0.0 || o.power == 0.0 || o.adagrad_eps == 0.0)
        return rill__learn_err(errbuf, errlen, RILL_ECORRUPT, "SGD state: invalid options");

    rill_sgd *l = alloc_learner((size_t)dim, &resolved);
    if (!l)
        return rill__learn_err(errbuf, errlen, RILL_ENOMEM, "out of memory for a learner of %llu features",
                       (unsigned long long)dim);
    l->seen = seen;
    l->steps = steps;
    l->pending = pending;
    p = get_f64(p, &l->b);
    p = get_f64(p, &l->Gb);
    p = get_f64(p, &l->acc_b);
    double *arr[SGD_ARRAYS] = { l->w, l->G, l->mean, l->m2, l->acc };
    for (int a = 0; a < SGD_ARRAYS; a++)
        for (size_t i = 0; i < l->dim; i++)
            p = get_f64(p, &arr[a][i]);
    refresh_inv_std(l);
    *out = l;
    return RILL_OK;
}
