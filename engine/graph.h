/* engine/graph.h — the recorded graph and the compiled plan (internal).
 *
 * graph.c records what the user declares; compile.c validates it and builds
 * a plan; plan.c runs it. The plan keeps operators in topological order so
 * that one pass over them per batch sees every upstream output before its
 * consumer runs.
 */
#ifndef RILL_ENGINE_GRAPH_H
#define RILL_ENGINE_GRAPH_H

#include "rill/rill.h"
#include "operators/operator.h"
#include "state/state.h"

/* NODE_EXT: an operator of another kind (feature vector, model), described
 * by a methods table (see "extension nodes" below). */
typedef enum node_kind { NODE_SOURCE = 1, NODE_WINDOW, NODE_SINK, NODE_EXT } node_kind;

typedef struct rill__ext_methods rill__ext_methods;

typedef struct graph_node {
    node_kind kind;
    char *name;
    /* source */
    rill_schema *schema;
    rill_source_opts sopts;
    /* window */
    rill_window_opts wopts; /* aggs points at `aggs` below */
    rill_agg_spec *aggs;     /* names and fields owned */
    char **inputs;           /* NULL entries allowed (reported by compile) */
    size_t n_inputs;
    /* sink */
    rill_sink_fn fn;
    void *user;
    /* extension node: its kind and settings (owned, freed by ext->free_cfg) */
    const rill__ext_methods *ext;
    void *ext_cfg;
} graph_node;

struct rill_graph {
    graph_node *nodes;
    size_t n, cap;
    rill_late_fn on_late;
    void *late_user;
    char errmsg[512];
};

/* ---- the plan ---- */

typedef struct plan_source {
    char *name;
    rill_schema *schema;
    rill_source_opts opts;
    int64_t wm;              /* max ts seen - bound */
    int64_t last_push_ms;    /* monotonic clock */
    bool idle;
} plan_source;

typedef struct plan_sink { rill_sink_fn fn; void *user; } plan_sink;

typedef struct plan_input {
    bool from_source;
    size_t index;            /* into sources or ops */
    size_t *agg_cols;        /* per aggregate: column index in that input, SIZE_MAX none */
} plan_input;

typedef struct plan_op {
    rill_op *op;
    plan_input *inputs;
    size_t n_inputs;
    plan_sink *sinks;
    size_t n_sinks;
    uint32_t ns;             /* state namespace */
    int64_t wm_before;       /* watermark before the current step */
    const rill_column **cols; /* scratch: per aggregate */
    const rill__ext_methods *ext; /* extension nodes: their kind; else NULL */
} plan_op;

typedef struct plan_blob {
    char *name;
    void *data;
    size_t len;
    bool dirty;
} plan_blob;

struct rill_plan {
    plan_blob *blobs;
    size_t n_blobs;
    bool discard_mismatch;
    plan_source *sources;
    size_t n_sources;
    plan_op *ops;            /* topological order */
    size_t n_ops;
    rill_state *state;
    bool own_state;
    uint32_t meta_ns;
    char *fingerprint;
    int64_t *ts_scratch;     /* processing-time stamps */
    size_t ts_cap;
    bool broken;             /* a failed commit or allocation: stop */
    rill_state_batch *inflight; /* the background commit's batch, until waited for */
    char errmsg[512];
};

/* Format into g->errmsg and return status. */
int rill__graph_error(rill_graph *g, int status, const char *fmt, ...);
int rill__plan_error(rill_plan *p, int status, const char *fmt, ...);

/* A canonical text of the graph (what a checkpoint must match), malloc'd. */
char *rill__graph_fingerprint(const rill_graph *g);

/* Restore operators, watermarks and counters from the plan's state. */
int rill__plan_restore(rill_plan *p);

/* ---- extension nodes ------------------------------------------------------
 * Operators that are not windows (feature vectors, models: see
 * engine/graph_learn.c) plug into graph recording, validation, the
 * fingerprint, the plan's step loop and its commit through this table.
 * compile checks what every node needs (inputs exist, no duplicates, no
 * cycles) and hands the rest to build(). */

/* What compile tells an extension node about one of its inputs. */
typedef struct rill__ext_input {
    const char *name;
    const rill_schema *schema; /* the rows it delivers */
    bool is_source;
} rill__ext_input;

#define RILL_EXT_METHODS_VERSION 1

struct rill__ext_methods {
    int version;
    const char *kind; /* "feature vector", "model": for messages */
    /* Canonical text of cfg for the graph fingerprint (one line, no
     * newline); malloc'd, NULL on allocation failure. */
    char *(*describe)(const void *cfg);
    /* Check cfg against the inputs (in the node's input order) and build
     * the operator into *out. On failure a status and a message in err
     * naming the node and the field at fault; nothing is left to free. */
    int (*build)(const void *cfg, const char *name, const rill__ext_input *in, size_t n_in,
                 rill_op **out, char *err, size_t errlen);
    /* Optional: write the operator's state that is not per key into wb,
     * namespace ns (the commit calls it after the per-key records; restore
     * hands every key of ns back to the operator's restore_key). */
    int (*checkpoint)(rill_op *op, rill_state_batch *wb, uint32_t ns);
    void (*free_cfg)(void *cfg);
};

/* Record an extension node named name reading inputs (copied, in order).
 * cfg passes to the node, also on failure (then freed with m->free_cfg). */
int rill__graph_add_ext(rill_graph *g, const char *name, const rill__ext_methods *m, void *cfg,
                        const char *const *inputs, size_t n_inputs);

/* The plan operator named name, or NULL. */
plan_op *rill__plan_find_op(const rill_plan *p, const char *name);

/* Monotonic milliseconds. */
int64_t rill__now_ms(void);
int64_t rill__wall_ms(void);

#endif
