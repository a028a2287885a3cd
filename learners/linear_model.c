/* learners/linear_model.c — prediction with liblinear models (rill_linear_*).
 *
 * What: a model file written by liblinear's `train` (or an in-memory
 * liblinear model) used for prediction from dense feature vectors, through
 * liblinear's own predict_values()/predict_probability(), so the numbers are
 * exactly those of liblinear's `predict` program.
 *
 * Idea: liblinear reads sparse vectors of (index, value) nodes, 1-based and
 * terminated by index -1, with the model's bias appended as one more feature
 * (index nr_feature + 1) when the model has one. A dense vector x of dim
 * values maps onto that as x[i] -> index i + 1. The node array (dim + 2
 * nodes) is allocated once with the model and only its values are rewritten
 * per prediction, so predicting allocates nothing. A two-class logistic
 * model's probability and decision come from one predict_values() call: its
 * predict_probability() is that call followed by p = 1 / (1 + exp(-dec)),
 * 1 - p for the other class, which is repeated here operation for operation
 * (the same bits; the tests compare against predict_probability() and the
 * `predict -b 1` program). The dimension check is
 * strict: a model trained on a different number of features is refused at
 * load (liblinear itself would silently ignore extra features and treat
 * missing ones as zero, which hides a wiring error).
 *
 * Not here: training (liblinear's train() is called by whoever retrains),
 * sparse input, thread safety (the node buffer is per model: one thread at
 * a time). This is the only file that includes <linear.h>.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linear.h>

#include "learners/learn_err.h"
#include "rill/learn.h"

struct rill_linear {
    struct model *m;
    rill_linear_own own;
    size_t dim;
    int nr_dec;
    bool probabilistic;         /* check_probability_model(), asked once */
    struct feature_node *nodes; /* dim feature nodes, [bias node], terminator */
    double *dec_scratch;        /* nr_class values: predict_probability writes nr_class */
    char errmsg[256];
};

static const char *solver_name(int s) {
    switch (s) {
    case L2R_LR: return "L2R_LR";
    case L2R_L2LOSS_SVC_DUAL: return "L2R_L2LOSS_SVC_DUAL";
    case L2R_L2LOSS_SVC: return "L2R_L2LOSS_SVC";
    case L2R_L1LOSS_SVC_DUAL: return "L2R_L1LOSS_SVC_DUAL";
    case MCSVM_CS: return "MCSVM_CS";
    case L1R_L2LOSS_SVC: return "L1R_L2LOSS_SVC";
    case L1R_LR: return "L1R_LR";
    case L2R_LR_DUAL: return "L2R_LR_DUAL";
    case L2R_L2LOSS_SVR: return "L2R_L2LOSS_SVR";
    case L2R_L2LOSS_SVR_DUAL: return "L2R_L2LOSS_SVR_DUAL";
    case L2R_L1LOSS_SVR_DUAL: return "L2R_L1LOSS_SVR_DUAL";
    default: return "unknown";
    }
}

/* Check m and build the wrapper around it. Does not take m on failure. */
static int wrap(struct model *m, size_t dim, rill_linear_own own, const char *what,
                rill_linear **out, char *errbuf, size_t errlen) {
    int solver = m->param.solver_type;
    if (!strcmp(solver_name(solver), "unknown"))
        return rill__learn_err(errbuf, errlen, RILL_EMODEL, "%s: unknown liblinear solver_type %d",
                       what, solver);
    /* regression models carry no labels */
    if (m->nr_class < 2 || m->nr_feature < 0 || !m->w ||
        (!m->label && !check_regression_model(m)))
        return rill__learn_err(errbuf, errlen, RILL_EMODEL,
                       "%s: not a usable liblinear model (nr_class %d, nr_feature %d)",
                       what, m->nr_class, m->nr_feature);
    if (dim == 0)
        dim = (size_t)m->nr_feature;
    if ((size_t)m->nr_feature != dim)
        return rill__learn_err(errbuf, errlen, RILL_EMODEL,
                       "%s: the model has nr_feature %d but the feature vector has %zu values",
                       what, m->nr_feature, dim);
    if (dim == 0)
        return rill__learn_err(errbuf, errlen, RILL_EMODEL, "%s: the model has no features", what);

    rill_linear *r = calloc(1, sizeof *r);
    if (!r)
        goto fail_alloc;
    r->nodes = malloc((dim + 2) * sizeof *r->nodes);
    if (!r->nodes)
        goto fail_nodes;
    r->dec_scratch = malloc((size_t)m->nr_class * sizeof *r->dec_scratch);
    if (!r->dec_scratch)
        goto fail_scratch;
    r->m = m;
    r->own = own;
    r->dim = dim;
    r->nr_dec = (m->nr_class == 2 && solver != MCSVM_CS) ? 1 : m->nr_class;
    r->probabilistic = check_probability_model(m) != 0;
    for (size_t i = 0; i < dim; i++) {
        r->nodes[i].index = (int)(i + 1);
        r->nodes[i].value = 0.0;
    }
    size_t end = dim;
    if (m->bias >= 0) {
        r->nodes[end].index = (int)(dim + 1);
        r->nodes[end].value = m->bias;
        end++;
    }
    r->nodes[end].index = -1;
    r->nodes[end].value = 0.0;
    *out = r;
    return RILL_OK;

fail_scratch:
    free(r->nodes);
fail_nodes:
    free(r);
fail_alloc:
    return rill__learn_err(errbuf, errlen, RILL_ENOMEM, "%s: out of memory", what);
}

int rill_linear_load(const char *path, size_t dim, rill_linear **out,
                     char *errbuf, size_t errlen) {
    *out = NULL;
    if (!path)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "model path is NULL");
    /* liblinear reports an unreadable file and a malformed one alike (NULL);
     * open it first so the user learns which. */
    FILE *f = fopen(path, "r");
    if (!f)
        return rill__learn_err(errbuf, errlen, RILL_EIO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    struct model *m = load_model(path);
    if (!m)
        return rill__learn_err(errbuf, errlen, RILL_EMODEL,
                       "%s: not a liblinear model file (liblinear could not parse it)", path);
    int rc = wrap(m, dim, RILL_LINEAR_TAKE, path, out, errbuf, errlen);
    if (rc != RILL_OK)
        free_and_destroy_model(&m);
    return rc;
}

int rill_linear_wrap(struct model *m, size_t dim, rill_linear_own own,
                     rill_linear **out, char *errbuf, size_t errlen) {
    *out = NULL;
    if (!m)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "model is NULL");
    if (own != RILL_LINEAR_BORROW && own != RILL_LINEAR_TAKE)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "bad ownership mode %d", (int)own);
    return wrap(m, dim, own, "in-memory model", out, errbuf, errlen);
}

void rill_linear_free(rill_linear *r) {
    if (!r)
        return;
    if (r->own == RILL_LINEAR_TAKE)
        free_and_destroy_model(&r->m);
    free(r->dec_scratch);
    free(r->nodes);
    free(r);
}

size_t rill_linear_dim(const rill_linear *r) { return r->dim; }
int rill_linear_nr_class(const rill_linear *r) { return r->m->nr_class; }
int rill_linear_nr_dec(const rill_linear *r) { return r->nr_dec; }

int rill_linear_label(const rill_linear *r, int i) {
    if (i < 0 || i >= r->m->nr_class || check_regression_model(r->m))
        return 0;
    return r->m->label[i];
}

bool rill_linear_is_probabilistic(const rill_linear *r) { return r->probabilistic; }

bool rill_linear_is_regression(const rill_linear *r) {
    return check_regression_model(r->m) != 0;
}

int rill_linear_predict(rill_linear *r, const double *x, size_t n,
                        double *label, double *dec, double *prob) {
    if (n != r->dim)
        return rill__learn_err(r->errmsg, sizeof r->errmsg, RILL_EMODEL,
                       "the model has nr_feature %zu but the feature vector has %zu values",
                       r->dim, n);
    if (prob && !r->probabilistic)
        return rill__learn_err(r->errmsg, sizeof r->errmsg, RILL_EMODEL,
                       "probabilities need a logistic model (L2R_LR, L1R_LR or L2R_LR_DUAL); "
                       "this one is %s", solver_name(r->m->param.solver_type));
    /* x * 0 is 0 for every finite x and NaN otherwise: one test for all. */
    double poison = 0.0;
    for (size_t i = 0; i < n; i++)
        poison += x[i] * 0.0;
    if (poison != 0.0) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                return rill__learn_err(r->errmsg, sizeof r->errmsg, RILL_EINVAL,
                               "feature %zu is %g", i, x[i]);
    }
    for (size_t i = 0; i < n; i++)
        r->nodes[i].value = x[i];
    double lab;
    if (prob && r->m->nr_class == 2) {
        /* predict_probability() for two classes, without its second pass */
        lab = predict_values(r->m, r->nodes, r->dec_scratch);
        double p = 1 / (1 + exp(-r->dec_scratch[0]));
        prob[0] = p;
        prob[1] = 1. - p;
        if (dec)
            dec[0] = r->dec_scratch[0];
    } else if (prob) {
        lab = predict_probability(r->m, r->nodes, prob);
        if (dec) {
            /* predict_probability turned its decision values into
             * probabilities in place; recompute them (cheap, no allocation). */
            predict_values(r->m, r->nodes, r->dec_scratch);
            memcpy(dec, r->dec_scratch, (size_t)r->nr_dec * sizeof *dec);
        }
    } else {
        lab = predict_values(r->m, r->nodes, r->dec_scratch);
        if (dec)
            memcpy(dec, r->dec_scratch, (size_t)r->nr_dec * sizeof *dec);
    }
    if (label)
        *label = lab;
    return RILL_OK;
}

const char *rill_linear_errmsg(const rill_linear *r) { return r->errmsg; }
