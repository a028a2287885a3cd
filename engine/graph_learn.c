/* engine/graph_learn.c — feature-vector and model nodes in a graph, and
 * their figures in a plan (the public API of rill/pipeline.h).
 *
 * Both are extension nodes (engine/graph.h): this file records their
 * settings (the operators' own cfg objects), lists their inputs, and hands
 * compile a methods table whose build() makes the operator from
 * operators/feature_vector.c or learners/op_model.c. The plan's accessors
 * find the operator by name and check its kind through that table.
 *
 * Not here: anything about how vectors are assembled or models run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "learners/op_model.h"
#include "operators/feature_vector.h"

/* Split the compile's input descriptions into the arrays the operators take. */
typedef int (*op_builder)(const void *cfg, const char *name, const char *const *names,
                          const rill_schema *const *schemas, size_t n, rill_op **out, char *err,
                          size_t errlen);

static int build_with(op_builder b, const void *cfg, const char *name, const rill__ext_input *in,
                      size_t n_in, rill_op **out, char *err, size_t errlen) {
    const char **names = calloc(n_in, sizeof *names);
    const rill_schema **schemas = calloc(n_in, sizeof *schemas);
    int rc = RILL_ENOMEM;
    if (names && schemas) {
        for (size_t i = 0; i < n_in; i++) {
            names[i] = in[i].name;
            schemas[i] = in[i].schema;
        }
        rc = b(cfg, name, names, schemas, n_in, out, err, errlen);
    } else {
        snprintf(err, errlen, "'%s': out of memory", name);
    }
    free(names);
    free(schemas);
    return rc;
}

/* ---- feature vectors ---------------------------------------------------------- */

static char *fv_describe(const void *cfg) { return rill__fv_cfg_describe(cfg); }
static void fv_free(void *cfg) { rill__fv_cfg_free(cfg); }

static int fv_new(const void *cfg, const char *name, const char *const *names,
                  const rill_schema *const *schemas, size_t n, rill_op **out, char *err, size_t errlen) {
    return rill__op_new_features(cfg, name, names, schemas, n, out, err, errlen);
}

static int fv_build(const void *cfg, const char *name, const rill__ext_input *in, size_t n_in,
                    rill_op **out, char *err, size_t errlen) {
    return build_with(fv_new, cfg, name, in, n_in, out, err, errlen);
}

static const rill__ext_methods features_ext = {
    .version = RILL_EXT_METHODS_VERSION,
    .kind = "features",
    .describe = fv_describe,
    .build = fv_build,
    .checkpoint = rill__features_checkpoint,
    .free_cfg = fv_free,
};

int rill_graph_features(rill_graph *g, const char *name, const rill_features_opts *o) {
    if (!g) return RILL_EINVAL;
    rill__fv_cfg *c;
    char err[300];
    int rc = rill__fv_cfg_new(o, &c, err, sizeof err);
    if (rc) return rill__graph_error(g, rc, "feature vector '%s': %s", name ? name : "?", err);
    size_t n = rill__fv_cfg_inputs(c, NULL, 0);
    const char **inputs = calloc(n, sizeof *inputs);
    if (!inputs) {
        rill__fv_cfg_free(c);
        return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name ? name : "?");
    }
    rill__fv_cfg_inputs(c, inputs, n);
    rc = rill__graph_add_ext(g, name, &features_ext, c, inputs, n);
    free(inputs);
    return rc;
}

/* ---- models --------------------------------------------------------------------- */

static char *md_describe(const void *cfg) { return rill__model_cfg_describe(cfg); }
static void md_free(void *cfg) { rill__model_cfg_free(cfg); }

static int md_new(const void *cfg, const char *name, const char *const *names,
                  const rill_schema *const *schemas, size_t n, rill_op **out, char *err, size_t errlen) {
    return rill__op_new_model(cfg, name, names, schemas, n, out, err, errlen);
}

static int md_build(const void *cfg, const char *name, const rill__ext_input *in, size_t n_in,
                    rill_op **out, char *err, size_t errlen) {
    return build_with(md_new, cfg, name, in, n_in, out, err, errlen);
}

static const rill__ext_methods model_ext = {
    .version = RILL_EXT_METHODS_VERSION,
    .kind = "model",
    .describe = md_describe,
    .build = md_build,
    .checkpoint = rill__model_checkpoint,
    .free_cfg = md_free,
};

static int add_model(rill_graph *g, const char *name, rill__model_cfg *c) {
    const char *inputs[2];
    size_t n = rill__model_cfg_inputs(c, inputs, 2);
    return rill__graph_add_ext(g, name, &model_ext, c, inputs, n);
}

int rill_graph_predict_linear(rill_graph *g, const char *name, const char *features,
                              const rill_linear_node_opts *o) {
    if (!g) return RILL_EINVAL;
    rill__model_cfg *c;
    char err[300];
    int rc = rill__model_cfg_linear(features, o, &c, err, sizeof err);
    if (rc) return rill__graph_error(g, rc, "model '%s': %s", name ? name : "?", err);
    return add_model(g, name, c);
}

int rill_graph_sgd(rill_graph *g, const char *name, const char *features, const rill_sgd_opts *sgd,
                   const rill_labels_opts *labels) {
    if (!g) return RILL_EINVAL;
    rill__model_cfg *c;
    char err[300];
    int rc = rill__model_cfg_sgd(features, sgd, labels, &c, err, sizeof err);
    if (rc) return rill__graph_error(g, rc, "model '%s': %s", name ? name : "?", err);
    return add_model(g, name, c);
}

/* ---- figures of a running plan ----------------------------------------------------- */

static const rill_op *find_kind(const rill_plan *p, const char *name, const rill__ext_methods *kind) {
    const plan_op *po = rill__plan_find_op(p, name);
    return po && po->ext == kind ? po->op : NULL;
}

int rill_plan_features_stats(const rill_plan *p, const char *name, rill_features_stats *out) {
    if (!p || !out) return RILL_EINVAL;
    const rill_op *op = find_kind(p, name, &features_ext);
    if (!op) return RILL_EUNKNOWN_NODE;
    rill__features_stats(op, out);
    return RILL_OK;
}

int rill_plan_features_missing(const rill_plan *p, const char *name, uint64_t *out, size_t n) {
    if (!p || !out) return RILL_EINVAL;
    const rill_op *op = find_kind(p, name, &features_ext);
    if (!op) return RILL_EUNKNOWN_NODE;
    if (n != rill__features_count(op)) return RILL_EINVAL;
    rill__features_missing(op, out);
    return RILL_OK;
}

int rill_plan_model_metrics(const rill_plan *p, const char *model, rill_metrics_report *metrics,
                            rill_model_stats *stats) {
    if (!p) return RILL_EINVAL;
    const rill_op *op = find_kind(p, model, &model_ext);
    if (!op) return RILL_EUNKNOWN_NODE;
    if (metrics) rill__model_metrics(op, metrics);
    if (stats) rill__model_stats(op, stats);
    return RILL_OK;
}

int rill_plan_model_weights(const rill_plan *p, const char *model, double *w, size_t n,
                            double *intercept) {
    if (!p || !w) return RILL_EINVAL;
    const rill_op *op = find_kind(p, model, &model_ext);
    if (!op) return RILL_EUNKNOWN_NODE;
    return rill__model_weights(op, w, n, intercept);
}
