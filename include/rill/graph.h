/* rill/graph.h — defining an operator graph and compiling it into a plan.
 *
 * A graph is built from named nodes: sources (typed input streams), keyed
 * window operators (each reading one or more sources or other operators) and
 * sinks (C callbacks that receive every output record of one operator).
 * Adding nodes only records them; rill_graph_compile() validates the whole
 * graph at once and either returns a plan or a status whose message names
 * the operator and field at fault.
 */
#ifndef RILL_GRAPH_H
#define RILL_GRAPH_H

#include "rill/error.h"
#include "rill/types.h"

typedef struct rill_graph rill_graph;
typedef struct rill_plan rill_plan;
typedef struct rill_state rill_state;

/* ---- sources --------------------------------------------------------------- */

typedef enum rill_time_mode {
    RILL_TIME_EVENT = 0,      /* ts comes with each event */
    RILL_TIME_PROCESSING = 1, /* ts is replaced by the wall clock at push */
} rill_time_mode;

typedef struct rill_source_opts {
    /* How far behind the newest event time an event may arrive and still be
     * on time: watermark = max event time seen - this bound. */
    int64_t max_out_of_orderness_ms;
    rill_time_mode time;
    /* A source that received nothing for this long (wall clock) stops
     * holding back the watermark of the operators it feeds; 0 = never. */
    int64_t idle_timeout_ms;
} rill_source_opts;

/* Declare a source named name with schema s (copied). opts may be NULL for
 * the defaults (in-order event time, never idle). */
int rill_graph_source(rill_graph *g, const char *name, const rill_schema *s,
                      const rill_source_opts *opts);

/* ---- aggregates ------------------------------------------------------------ */

typedef enum rill_agg_kind {
    RILL_AGG_COUNT = 1, /* events in the window (field ignored, may be NULL)  -> i64 */
    RILL_AGG_SUM,       /* i64 field -> i64 (exact), f64/bool -> f64             */
    RILL_AGG_MEAN,      /* -> f64                                                */
    RILL_AGG_MIN,       /* i64 -> i64, f64 -> f64                                */
    RILL_AGG_MAX,
    RILL_AGG_VARIANCE,  /* sample variance (n-1), null below two values -> f64   */
    RILL_AGG_STDDEV,    /* square root of the above -> f64                       */
    RILL_AGG_FIRST,     /* value of the earliest event (ties: first arrival)     */
    RILL_AGG_LAST,      /* value of the latest event (ties: last arrival)        */
    RILL_AGG_LAST_N,    /* the param newest values, oldest first -> f64 list     */
    RILL_AGG_DISTINCT,  /* HyperLogLog estimate of distinct values -> i64;
                           param = precision p in 4..16 (default 12, ~1.6 %)     */
    RILL_AGG_RATE,      /* events per second of window length -> f64             */
    RILL_AGG_RECENCY,   /* ms between the two newest events, null below two -> i64 */
} rill_agg_kind;

/* The name of an aggregate kind ("count"); static storage. */
const char *rill_agg_kind_name(rill_agg_kind k);

typedef struct rill_agg_spec {
    rill_agg_kind kind;
    const char *field; /* input field; unused (NULL) for count and rate */
    const char *name;  /* output name, unique within the operator */
    uint32_t param;    /* N for last-N, precision for distinct; else 0 */
} rill_agg_spec;

/* ---- windows --------------------------------------------------------------- */

typedef enum rill_window_kind {
    RILL_WINDOW_TUMBLING = 1,
    RILL_WINDOW_SLIDING,
    RILL_WINDOW_SESSION,
    RILL_WINDOW_GLOBAL,
} rill_window_kind;

typedef enum rill_trigger_kind {
    RILL_TRIGGER_EVERY_EVENT = 0,
    RILL_TRIGGER_EVERY_N,  /* every trigger_every events of a key */
    RILL_TRIGGER_EVERY_MS, /* each time the watermark passes a multiple of
                              trigger_every ms, for the keys that changed */
} rill_trigger_kind;

typedef struct rill_window_spec {
    rill_window_kind kind;
    int64_t size_ms;   /* tumbling, sliding */
    int64_t slide_ms;  /* sliding */
    int64_t offset_ms; /* tumbling, sliding: windows start at offset + k*slide */
    int64_t gap_ms;    /* session */
    rill_trigger_kind trigger; /* global */
    int64_t trigger_every;     /* global: N events or T ms */
} rill_window_spec;

static inline rill_window_spec rill_tumbling(int64_t size_ms) {
    rill_window_spec w = { .kind = RILL_WINDOW_TUMBLING, .size_ms = size_ms, .slide_ms = size_ms };
    return w;
}
static inline rill_window_spec rill_sliding(int64_t size_ms, int64_t slide_ms) {
    rill_window_spec w = { .kind = RILL_WINDOW_SLIDING, .size_ms = size_ms, .slide_ms = slide_ms };
    return w;
}
static inline rill_window_spec rill_session(int64_t gap_ms) {
    rill_window_spec w = { .kind = RILL_WINDOW_SESSION, .gap_ms = gap_ms };
    return w;
}
static inline rill_window_spec rill_global(rill_trigger_kind t, int64_t every) {
    rill_window_spec w = { .kind = RILL_WINDOW_GLOBAL, .trigger = t, .trigger_every = every };
    return w;
}

typedef enum rill_emit_mode {
    /* The final value of each window when the watermark passes its end, and
     * again (flagged RILL_RECORD_UPDATE) when an allowed-late event changes it. */
    RILL_EMIT_ON_CLOSE = 0,
    /* One record per input event, as of that event, once the watermark
     * reaches its time: sliding = the trailing window (ts - size, ts];
     * tumbling = its window so far [start, ts]; session = its session so far.
     * Events at the same ms count in arrival order. Global windows emit by
     * their trigger and ignore this. */
    RILL_EMIT_ON_EVENT = 1,
} rill_emit_mode;

typedef struct rill_window_opts {
    rill_window_spec window;
    const rill_agg_spec *aggs;
    size_t n_aggs;
    rill_emit_mode emit;
    /* How long after a window's end (in watermark time) a late event is
     * still added and the window fires again; later ones go to the late
     * output. Not used by on-event emission, where an event behind the
     * watermark is always late. */
    int64_t allowed_lateness_ms;
} rill_window_opts;

/* Declare a keyed window operator named name reading from input (a source or
 * another operator; NULL is allowed here and reported by compile). The
 * aggregate list and its strings are copied. */
int rill_graph_window(rill_graph *g, const char *name, const char *input,
                      const rill_window_opts *opts);

/* Give operator op one more input (the inputs are unioned; every field its
 * aggregates use must exist with the same type in each). */
int rill_graph_add_input(rill_graph *g, const char *op, const char *input);

/* ---- sinks ----------------------------------------------------------------- */

#define RILL_RECORD_UPDATE 1u /* a late event changed an already-emitted window */

/* One output record. Everything it points to lives until the callback returns. */
typedef struct rill_record {
    const char *op;      /* operator name */
    rill_value key;
    int64_t start, end;  /* window [start, end) in event time */
    int64_t ts;          /* record time: end - 1 on close, the event's ts on event */
    rill_value id;       /* on-event: the event's id (or null) */
    uint32_t flags;      /* RILL_RECORD_* */
    size_t n_values;
    const char *const *names; /* aggregate output names, in declared order */
    const rill_value *values;
} rill_record;

typedef void (*rill_sink_fn)(const rill_record *r, void *user);

/* Deliver every output record of op (an operator) to fn. */
int rill_graph_sink(rill_graph *g, const char *name, const char *op,
                    rill_sink_fn fn, void *user);

/* An event that arrived behind the allowed lateness of an operator. */
typedef struct rill_late_event {
    const char *op;
    const char *input;  /* the source or operator it came from */
    int64_t ts;
    int64_t watermark;  /* the operator's watermark when it arrived */
    rill_value key;
    rill_value id;
} rill_late_event;
typedef void (*rill_late_fn)(const rill_late_event *e, void *user);

/* Receive every late event of every operator (they are always counted too). */
int rill_graph_on_late(rill_graph *g, rill_late_fn fn, void *user);

/* ---- the graph ----------------------------------------------------------- */

rill_graph *rill_graph_new(void); /* NULL on allocation failure */
void rill_graph_free(rill_graph *g); /* accepts NULL; plans compiled from it live on */
/* The message of the last failed call on g; "" if none. Lives with g. */
const char *rill_graph_errmsg(const rill_graph *g);

typedef struct rill_plan_opts {
    /* Where operator state is checkpointed; NULL = a private in-memory state.
     * Borrowed: it must outlive the plan. If it holds a checkpoint of this
     * graph, the plan resumes from it. */
    rill_state *state;
    /* When the state holds a checkpoint of a different graph: false (the
     * default) refuses it with RILL_ESTATE_MISMATCH; true deletes the old
     * graph's state and starts afresh. */
    bool discard_mismatched_state;
    /* Keep at most this many keys of each operator in memory (0 = all).
     * After each commit the least recently used keys beyond it are evicted:
     * only their key and next due time stay in memory, and their state is
     * read back from the state store when an event or the watermark needs
     * it. This is how state larger than memory works (use RocksDB). */
    size_t max_hot_keys;
} rill_plan_opts;

/* Validate g and prepare it for running. On success *out is a plan the
 * caller frees with rill_plan_free(). On failure *out is NULL, the status
 * says what kind of error and rill_graph_errmsg(g) names the culprit. */
int rill_graph_compile(rill_graph *g, const rill_plan_opts *opts, rill_plan **out);

/* ---- introspection (used by the engine to wire sources and outputs) ------ */

/* The number of operators declared in g (windows, and the feature vectors
 * and models of rill/pipeline.h), and the name of the i-th in declaration
 * order (NULL when i is out of range; the string lives with g). */
size_t rill_graph_op_count(const rill_graph *g);
const char *rill_graph_op_name(const rill_graph *g, size_t i);

/* The schema and options of the source named name. RILL_EUNKNOWN_NODE when g
 * has no such source. *schema (may be NULL: not wanted) lives with g; *opts
 * (may be NULL) is a copy. */
int rill_graph_source_info(const rill_graph *g, const char *name,
                           const rill_schema **schema, rill_source_opts *opts);

#endif
