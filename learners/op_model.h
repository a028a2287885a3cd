/* learners/op_model.h — the model operator: liblinear prediction or online
 * SGD on feature vectors, with the label join and prequential metrics
 * (internal).
 *
 * The graph records a model node's settings as a rill__model_cfg; compile
 * builds the operator from it and the schemas of its inputs. See op_model.c
 * for how it works and rill/pipeline.h for what it promises.
 */
#ifndef RILL_LEARNERS_OP_MODEL_H
#define RILL_LEARNERS_OP_MODEL_H

#include "operators/operator.h"
#include "rill/pipeline.h"

typedef struct rill__model_cfg rill__model_cfg;

/* Copies of the settings of a liblinear node / an SGD node reading the
 * operator features. RILL_EINVAL with a message in err for what can be
 * checked without the graph (NULL pointers, both or neither of a model path
 * and a model, an SGD node without labels, a negative timeout, an unknown
 * join mode), RILL_ENOMEM. */
int rill__model_cfg_linear(const char *features, const rill_linear_node_opts *o,
                           rill__model_cfg **out, char *err, size_t errlen);
int rill__model_cfg_sgd(const char *features, const rill_sgd_opts *sgd,
                        const rill_labels_opts *labels, rill__model_cfg **out, char *err,
                        size_t errlen);
void rill__model_cfg_free(rill__model_cfg *c); /* accepts NULL */
/* A canonical one-line text of c (fingerprints); malloc'd, NULL on ENOMEM. */
char *rill__model_cfg_describe(const rill__model_cfg *c);
/* The node's inputs in order: the features, then the labels if any.
 * Writes up to cap names (pointers into c); returns how many there are. */
size_t rill__model_cfg_inputs(const rill__model_cfg *c, const char **names, size_t cap);

/* Build the operator (loading a model file, creating the learner and the
 * metrics). On failure a status (RILL_EFIELD_TYPE, RILL_EUNKNOWN_FIELD,
 * RILL_EMODEL, RILL_EIO, RILL_EINVAL, RILL_ENOMEM) and a message naming
 * the node in err. */
int rill__op_new_model(const rill__model_cfg *c, const char *name, const char *const *in_names,
                       const rill_schema *const *in_schemas, size_t n_in, rill_op **out,
                       char *err, size_t errlen);

/* The operator's state that is not per key (the learner, queued vectors
 * and labels, counters), written by every commit under a key no per-key
 * record can have. */
int rill__model_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns);

void rill__model_stats(const rill_op *op, rill_model_stats *out);
void rill__model_metrics(const rill_op *op, rill_metrics_report *out);
/* RILL_EINVAL when op is not an SGD node or n is not its dimension. */
int rill__model_weights(const rill_op *op, double *w, size_t n, double *intercept);

#endif
