/* operators/operator.h — what the plan sees of a window operator (internal).
 *
 * An operator kind is a methods table chosen once at compile time from the
 * window kind and the emission mode (sliced tumbling/sliding, session,
 * global, on-event); nothing on the per-event path switches on the kind.
 * Every operator struct starts with `rill_op base`.
 *
 * Time: an operator's watermark W is the minimum of its inputs'. Events are
 * judged one at a time against W as it stood just before each event (the
 * plan hands over how to compute it), so which events are late never depends
 * on how the stream was cut into batches. Windows fire in advance(), after
 * the batch; records go into base.out, which the plan hands to sinks and
 * downstream operators once the operator has finished its part.
 */
#ifndef RILL_OPERATORS_OPERATOR_H
#define RILL_OPERATORS_OPERATOR_H

#include "engine/batch.h"
#include "engine/buf.h"
#include "operators/aggregate.h"
#include "operators/keytable.h"
#include "operators/timers.h"
#include "state/state.h"

#define RILL_OP_METHODS_VERSION 1
#define RILL_TIME_MIN INT64_MIN
#define RILL_TIME_MAX INT64_MAX

typedef struct rill_op rill_op;

/* Every operator's per-key value starts with this header. */
typedef struct rill_key_hdr {
    uint8_t dirty;    /* changed since the last checkpoint */
    uint8_t stored;   /* has a record in the state */
    uint8_t spare[6];
} rill_key_hdr;

/* One batch of input for an operator, and how its watermark moves. */
typedef struct rill_op_input {
    const rill_batch *b;
    const int64_t *ts;              /* event times (b->ts, or processing time) */
    const rill_column *const *cols; /* per aggregate: its column in b, or NULL */
    const char *input_name;
    /* Watermark of this input before the batch, and the minimum over the
     * operator's other inputs (RILL_TIME_MAX if none). */
    int64_t input_wm;
    int64_t others_wm;
    /* For a source input: W rises with each event to max ts - bound.
     * For an operator input it stays put during the batch. */
    bool advances;
    int64_t bound;
} rill_op_input;

/* The operator's watermark just before row i, kept while walking a batch. */
typedef struct rill_wm_walk {
    int64_t input_wm, others_wm, bound;
    bool advances;
} rill_wm_walk;

static inline rill_wm_walk rill__wm_walk_start(const rill_op_input *in) {
    rill_wm_walk w = { in->input_wm, in->others_wm, in->bound, in->advances };
    return w;
}
static inline int64_t rill__wm_now(const rill_wm_walk *w) {
    return w->input_wm < w->others_wm ? w->input_wm : w->others_wm;
}
/* Account for an event at ts having been seen. */
static inline void rill__wm_see(rill_wm_walk *w, int64_t ts) {
    if (w->advances) {
        int64_t cand = ts < RILL_TIME_MIN + w->bound ? RILL_TIME_MIN : ts - w->bound;
        if (cand > w->input_wm) w->input_wm = cand;
    }
}

typedef struct rill_op_methods rill_op_methods;

/* Called before each event with the watermark just before it: fire what
 * that watermark closed, so an event never lands in a window that closed
 * before it arrived, however the stream was cut into batches. */
static inline int rill__op_catch_up(rill_op *op, int64_t wm);

struct rill_op_methods {
    int version;
    /* Add the rows of in->b; late rows go to rill__op_late(). May emit
     * (on-event records, global triggers, updates of fired windows). */
    int (*process)(rill_op *op, const rill_op_input *in);
    /* The watermark moved to wm (>= the previous one): fire what closed,
     * drop what is past the allowed lateness. */
    int (*advance)(rill_op *op, int64_t wm);
    /* Bytes of key idx's record; 0 = it has no state left (the checkpoint
     * deletes its record and drops the key). */
    size_t (*record_size)(const rill_op *op, uint32_t idx);
    /* Write key idx's record (record_size bytes) to buf. */
    void (*record_encode)(const rill_op *op, uint32_t idx, char *buf);
    /* Load one key's record (a fresh key) and schedule what it has due. */
    int (*restore_key)(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen);
    /* When key idx must be back in memory if evicted now (RILL_TIME_MAX:
     * only when an event for it comes, or at the end of input). */
    int64_t (*key_due)(const rill_op *op, uint32_t idx);
    /* Free what key idx's value owns (not the key table entry). */
    void (*release_key)(rill_op *op, uint32_t idx);
    void (*destroy)(rill_op *op);
};

struct rill_op {
    const rill_op_methods *m;
    char *name;
    rill_agg_set aggs;
    rill_window_spec win;
    rill_emit_mode emit;
    int64_t lateness;
    int64_t wm;            /* watermark after the last advance */
    rill_batch *out;       /* records emitted and not yet delivered */
    rill_value *values;    /* scratch, one per aggregate */
    rill_late_fn on_late;
    void *late_user;
    uint64_t events_in, late, emitted;
    char errmsg[256];
    /* The hot-key cache (see operator.c): the operator's own key table, the
     * keys evicted to the state with when each is due back, and where the
     * state is. */
    rill_keytable *kt;
    uint32_t *dirty;       /* keys changed since the last checkpoint */
    size_t n_dirty, dirty_cap;
    rill_state *state;
    uint32_t ns;
    size_t max_hot_keys;   /* 0 = keep every key in memory */
    rill_keytable cold;    /* value: rill_cold_key */
    rill_timer_heap cold_timers;
    size_t clock_hand;
    uint64_t evictions, faults;
    /* Records of keys evicted while the commit that holds them is still
     * being written in the background: a read-back takes them from here, as
     * the state may not have them yet. Dropped once that commit is written. */
    struct {
        rill_buf bytes;    /* the records, one after another */
        struct rill_parked_span { size_t off, len; } *spans;
        size_t n_spans, spans_cap;
        uint32_t gen;      /* which eviction round the copies belong to */
        bool live;
    } parked;
};

/* What the cold table keeps of an evicted key. */
typedef struct rill_cold_key {
    int64_t due;           /* when it must be back (first: the timers compare it) */
    uint32_t parked_gen;   /* == parked.gen while parked.live: its record is */
    uint32_t parked_span;  /* parked.spans[parked_span] */
} rill_cold_key;

/* Move the watermark to wm: bring back evicted keys due by then, then let
 * the operator fire what closed. */
int rill__op_advance(rill_op *op, int64_t wm);

static inline int rill__op_catch_up(rill_op *op, int64_t wm) {
    return wm > op->wm ? rill__op_advance(op, wm) : 0;
}

/* The index of key in the operator's table: found, brought back from the
 * state if it was evicted (*created = false), or new and empty
 * (*created = true). RILL_KT_NONE on failure, with *status set. */
uint32_t rill__op_upsert(rill_op *op, const void *key, size_t klen, uint64_t hash, bool *created,
                         int *status);

/* Right after a checkpoint (every key clean): evict keys not used lately
 * until at most max_hot_keys stay in memory. park: the checkpoint is being
 * written in the background, so keep a copy of each evicted record until
 * rill__op_commit_written. */
int rill__op_evict(rill_op *op, bool park);
/* The commit is written (or failed: the plan stops): drop parked copies. */
void rill__op_commit_written(rill_op *op);

/* The table index for a key being restored from its record: a new entry,
 * marked stored, in *idx. RILL_ECORRUPT if the key is already there (two
 * records for one key), RILL_ENOMEM. */
int rill__op_restore_slot(rill_op *op, const void *key, size_t klen, uint32_t *idx);

/* Note that key idx changed: the next checkpoint writes it. */
int rill__op_mark_dirty(rill_op *op, uint32_t idx);

/* Write every changed key to wb in namespace ns (a put of its record, or a
 * delete when it has no state left), then mark them clean and stored and
 * drop the empty ones. On failure nothing is marked. */
int rill__op_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns);

/* Release key idx and remove it from the key table. */
void rill__op_drop_key(rill_op *op, uint32_t idx);

/* Release every key (before the operator is freed). */
/* The end of a window operator that keeps its keys in op->kt: every key's
 * value, the key table, the timers and the base fields (not the struct). */
void rill__op_fini_keyed(rill_op *op, rill_timer_heap *timers);
void rill__op_release_keys(rill_op *op);

/* Common set-up of base fields (name copied, aggs moved in, output batch for
 * the schema of the aggregates' outputs). On failure frees what it took. */
int rill__op_init(rill_op *op, const rill_op_methods *m, const char *name, rill_agg_set *aggs,
                  const rill_window_opts *o, char *err, size_t errlen);
void rill__op_fini(rill_op *op);

/* Append one record for key (canonical bytes) with the results of block. */
int rill__op_emit(rill_op *op, const void *key, size_t klen, uint64_t hash, int64_t start,
                  int64_t end, int64_t ts, const void *block, uint32_t flags,
                  const void *id, size_t idlen);

/* Report row `row` of in as late (counted, handed to the late callback). */
void rill__op_late(rill_op *op, const rill_op_input *in, size_t row, int64_t wm);

/* Constructors, one per operator kind (window_*.c). */
int rill__op_new_sliced(const char *name, rill_agg_set *aggs, const rill_window_opts *o,
                        rill_op **out, char *err, size_t errlen);
int rill__op_new_session(const char *name, rill_agg_set *aggs, const rill_window_opts *o,
                         rill_op **out, char *err, size_t errlen);
int rill__op_new_global(const char *name, rill_agg_set *aggs, const rill_window_opts *o,
                        rill_op **out, char *err, size_t errlen);
int rill__op_new_on_event(const char *name, rill_agg_set *aggs, const rill_window_opts *o,
                          rill_op **out, char *err, size_t errlen);

/* Saturating time arithmetic (windows near the ends of time must not wrap). */
static inline int64_t rill__time_add(int64_t a, int64_t b) {
    if (b > 0 && a > RILL_TIME_MAX - b) return RILL_TIME_MAX;
    if (b < 0 && a < RILL_TIME_MIN - b) return RILL_TIME_MIN;
    return a + b;
}
/* floor(a / b) for b > 0. */
static inline int64_t rill__floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

#endif
