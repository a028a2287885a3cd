/* operators/feature_vector.h — the feature-vector operator (internal).
 *
 * The graph records a feature vector's settings as a rill__fv_cfg (copied
 * from the user's rill_features_opts); compile builds the operator from it
 * and the schemas of its inputs. See feature_vector.c for how it works and
 * rill/pipeline.h for what it promises.
 */
#ifndef RILL_OPERATORS_FEATURE_VECTOR_H
#define RILL_OPERATORS_FEATURE_VECTOR_H

#include "operators/operator.h"
#include "rill/pipeline.h"

typedef struct rill__fv_cfg rill__fv_cfg;

/* A copy of o (strings included) in *out. RILL_EINVAL with a message in err
 * for what can be checked without the graph (NULL pointers, no features),
 * RILL_ENOMEM. */
int rill__fv_cfg_new(const rill_features_opts *o, rill__fv_cfg **out, char *err, size_t errlen);
void rill__fv_cfg_free(rill__fv_cfg *c); /* accepts NULL */
/* A canonical one-line text of c (fingerprints); malloc'd, NULL on ENOMEM. */
char *rill__fv_cfg_describe(const rill__fv_cfg *c);
/* The node's inputs in order: the trigger, then each feature input not
 * named before. Writes up to cap names (pointers into c) and returns how
 * many there are. */
size_t rill__fv_cfg_inputs(const rill__fv_cfg *c, const char **names, size_t cap);

/* Build the operator for c named name, reading inputs in_names[i] whose rows
 * have schema in_schemas[i] (the order of rill__fv_cfg_inputs()). On
 * failure a status (RILL_EUNKNOWN_FIELD, RILL_EFIELD_TYPE, RILL_EDUP_NAME,
 * RILL_EINVAL, RILL_ENOMEM) and a message naming the feature in err. */
int rill__op_new_features(const rill__fv_cfg *c, const char *name, const char *const *in_names,
                          const rill_schema *const *in_schemas, size_t n_in, rill_op **out,
                          char *err, size_t errlen);

/* The operator's state that is not per key (pending triggers, counters),
 * written by every commit under a key no per-key record can have. */
int rill__features_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns);

void rill__features_stats(const rill_op *op, rill_features_stats *out);
size_t rill__features_count(const rill_op *op);
void rill__features_missing(const rill_op *op, uint64_t *out); /* count() values */

#endif
