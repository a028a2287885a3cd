/* rill/pipeline.h — features into models: feature-vector nodes, model nodes
 * (liblinear prediction and the online SGD learner), the label join, and the
 * prequential figures of a running plan.
 *
 *   source ─▶ windows ─▶ feature vector ─▶ model ─▶ predictions (records)
 *                                            ▲
 *   labels (a source: label, id or key) ─────┘  join ─▶ learn + metrics
 *
 * A feature vector and a model are operators like windows: sinks read their
 * records (rill_graph_sink), the engine publishes them under their name, and
 * their state is part of every commit.
 *
 * Time: everything is event time. A vector for a trigger at t uses, per
 * feature, the latest value of the key whose record time is <= t (never a
 * later one, whatever order the records arrived in). A model predicts and
 * learns in one merged event-time order of vectors and labels, so that the
 * same streams give the same predictions and weights bit for bit however
 * they are cut into micro-batches and interleaved (see rill_graph_sgd).
 */
#ifndef RILL_PIPELINE_H
#define RILL_PIPELINE_H

#include "rill/graph.h"
#include "rill/learn.h"
#include "rill/plan.h"

/* ==== feature vectors ====================================================== */

typedef struct rill_feature {
    const char *input;    /* source or operator whose records carry the value */
    const char *value;    /* the field (source) or output name (operator) in them */
    const char *name;     /* its name in the vector; NULL = value */
    double default_value; /* used when the key has no value at or before t */
} rill_feature;

typedef struct rill_features_opts {
    /* A source or operator: one vector per row of it (per event of a source,
     * per record of a window), for the row's key, at the row's ts, carrying
     * its id. */
    const char *trigger;
    const rill_feature *features; /* in vector order */
    size_t n_features;
} rill_features_opts;

/* Declare a feature vector named name. Its records have one f64 value per
 * feature, named and ordered as declared, and the trigger row's key, ts and
 * id (start = ts, end = ts + 1). Strings are copied.
 *
 * Per key and per feature input it keeps the records' values with their
 * times: a short history, pruned as the watermark passes, so a record that
 * arrived before the trigger but is later in event time is not used. A
 * value of a type other than f64 is converted (i64, bool); a null value or
 * a key without a record at or before t takes the feature's default, and is
 * counted (rill_plan_features_stats).
 *
 * A vector for a trigger at t is emitted when the watermark passes t (when
 * no record at or before t can still come from an on-time event), in order
 * of (t, trigger arrival). Records at the same ms as the trigger count.
 * A trigger row behind the watermark is late: counted and handed to the
 * late callback, no vector. An update of a window already emitted
 * (allowed lateness) counts for the vectors emitted after it arrived.
 *
 * compile checks: the trigger and every feature input exist; the value
 * exists there (RILL_EUNKNOWN_FIELD) and is f64, i64 or bool
 * (RILL_EFIELD_TYPE); names are unique (RILL_EDUP_NAME) and not one of a
 * record's own entries (op, key, start, end, ts, id, update), defaults are
 * finite (RILL_EINVAL). */
int rill_graph_features(rill_graph *g, const char *name, const rill_features_opts *o);

typedef struct rill_features_stats {
    uint64_t triggers;  /* trigger rows read (late ones included) */
    uint64_t late;      /* of which were behind the watermark: no vector */
    uint64_t pending;   /* triggers waiting for the watermark now */
    uint64_t vectors;   /* vectors emitted */
    uint64_t complete;  /* vectors where no feature took its default */
    uint64_t defaulted; /* values that took their default, over all features */
} rill_features_stats;

/* Counters of the feature vector name (kept across commit and restore).
 * RILL_EUNKNOWN_NODE when p has no feature vector of that name. */
int rill_plan_features_stats(const rill_plan *p, const char *name, rill_features_stats *out);
/* How often each feature took its default: out[i] for feature i, n must be
 * the number of features (RILL_EINVAL otherwise). */
int rill_plan_features_missing(const rill_plan *p, const char *name, uint64_t *out, size_t n);

/* ==== models =============================================================== */

typedef enum rill_label_join {
    /* A label row's id is the id of the trigger row whose vector it labels. */
    RILL_JOIN_BY_ID = 0,
    /* Label rows have no id: a label labels the latest vector of its key at
     * or before it; a newer vector replaces an unlabelled older one. */
    RILL_JOIN_BY_KEY = 1,
} rill_label_join;

/* Where a model's labels come from. Zero-initialise; `input` NULL means no
 * labels (a liblinear node then only predicts). */
typedef struct rill_labels_opts {
    const char *input;     /* source (or operator) of label rows */
    const char *field;     /* the label's field in them (f64, i64 or bool); NULL = "label" */
    rill_label_join join;
    /* A prediction waits this long (event time) for its label; a label that
     * comes more than timeout_ms after its vector finds none. 0 = 1 hour. */
    int64_t timeout_ms;
    size_t metrics_window; /* the sliding window of the metrics; 0 = 1000 labels */
    uint32_t auc_bins;     /* see rill_metrics_opts; 0 = 4096 */
} rill_labels_opts;

/* Every model node emits, per vector, one record with the vector's key, ts
 * and id and three values:
 *   label        the predicted class (SGD logistic and hinge: 0 or 1), or
 *                the predicted value (regression);
 *   decision     the decision value: SGD w.z + b; liblinear's first decision
 *                value (positive for its first label, rill_linear_label(m,
 *                0)), or for more than two classes that of the predicted one;
 *   probability  P(positive class) for probabilistic two-class models (SGD
 *                logistic; liblinear logistic, positive = label 1 if the
 *                model has it, else its first label); for more than two
 *                classes the probability of the predicted one; null when the
 *                model gives none.
 *
 * The label join (when labels are given): vectors and labels are taken in
 * one event-time order (ts, vectors before labels at the same ms, then
 * arrival), each once the watermark of both inputs passed it — so a
 * prediction at t is made by the model trained on exactly the labels with
 * ts < t. A label
 * joins the waiting prediction of its id (or key) made at most timeout_ms
 * before it; then, prequentially, the prediction made at the vector's time
 * and the label go to the model's metrics, and an SGD model learns the
 * vector with that label. Nothing is dropped silently; each label or
 * prediction that does not make a pair is counted in rill_model_stats:
 * a label behind the watermark (late, also to the late callback), without a
 * waiting prediction (unmatched: unknown id, expired, or earlier than its
 * vector), for a prediction already labelled (duplicate), with a null value
 * or a class outside {-1, 0, 1} (invalid); a prediction whose timeout passed
 * without a label (expired; at the end of input every waiting prediction
 * expires), replaced by a newer vector of its id or key (replaced), or
 * without an id when joining by id (unjoinable).
 *
 * Set an idle timeout on a label source that may go quiet: the model waits
 * for the labels' watermark before it predicts. */

typedef struct rill_linear_node_opts {
    /* Exactly one of: a model file in the format liblinear's `train`
     * writes, loaded by each compile; or an in-memory model, borrowed (it
     * must outlive every plan compiled from the graph, and those plans must
     * not run at the same time: prediction reuses a buffer inside it). */
    const char *model_path;
    rill_linear *model;
    /* Optional labels: they feed the model's metrics (it does not learn).
     * Only for two-class models with labels 1 and 0 or -1, and regression. */
    rill_labels_opts labels;
} rill_linear_node_opts;

/* Declare a liblinear model node reading the feature vector (or any
 * operator whose values are all f64) named features: its values in order
 * are liblinear features 1..n. compile refuses a model whose dimension
 * differs from the number of values (RILL_EMODEL, naming both), an
 * unreadable file (RILL_EIO) or a model liblinear cannot parse
 * (RILL_EMODEL). */
int rill_graph_predict_linear(rill_graph *g, const char *name, const char *features,
                              const rill_linear_node_opts *o);

/* Declare an online SGD model node reading features (as above), learning
 * from labels (required: labels->input). sgd may be NULL for the defaults
 * (rill_sgd_opts). Classification losses take labels 1 / 0 or -1; squared
 * loss any value. The learner (weights, optimiser state, scaler, pending
 * mini-batch), the waiting predictions and the counters are written by
 * every commit and restored by compile from a checkpoint: a restarted plan
 * predicts exactly what one that never stopped would have. The metrics
 * restart from zero after a restore (rill_metrics has no saved form). */
int rill_graph_sgd(rill_graph *g, const char *name, const char *features,
                   const rill_sgd_opts *sgd, const rill_labels_opts *labels);

typedef struct rill_model_stats {
    uint64_t vectors;     /* vectors scored (= prediction records) */
    uint64_t labels;      /* label rows read (every kind below included) */
    uint64_t matched;     /* labels joined with their prediction */
    uint64_t learned;     /* examples the SGD learner learned (= matched) */
    uint64_t late;        /* labels behind the watermark */
    uint64_t unmatched;   /* labels that found no waiting prediction */
    uint64_t duplicates;  /* labels for a prediction already labelled */
    uint64_t invalid;     /* labels null, or not 1, 0, -1 for classification */
    uint64_t expired;     /* predictions never labelled within the timeout */
    uint64_t replaced;    /* unlabelled predictions replaced by a newer one */
    uint64_t unjoinable;  /* vectors without an id, joining by id */
    uint64_t waiting;     /* predictions waiting for a label now */
} rill_model_stats;

/* The prequential metrics (cumulative and over the last metrics_window
 * labels; all NaN with n = 0 for a model without labels) and the counters
 * of the model node model. Either out-parameter may be NULL.
 * RILL_EUNKNOWN_NODE when p has no model of that name. */
int rill_plan_model_metrics(const rill_plan *p, const char *model, rill_metrics_report *metrics,
                            rill_model_stats *stats);

/* The current weights of the SGD node model (as rill_sgd_weights; n must be
 * the dimension). RILL_EUNKNOWN_NODE when p has no SGD node of that name,
 * RILL_EINVAL for a wrong n. */
int rill_plan_model_weights(const rill_plan *p, const char *model, double *w, size_t n,
                            double *intercept);

#endif
