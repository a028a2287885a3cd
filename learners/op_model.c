/* learners/op_model.c — the model operator: predictions from feature
 * vectors (a liblinear model, or the online SGD learner), the label join,
 * prequential metrics, and the learner's checkpoints.
 *
 * Idea: one event-time order. Vectors and labels are queued as they arrive
 * (each queue sorted by ts, then arrival: operators/time_queue.c) and taken
 * from both queues in (ts, vectors before labels, arrival) order once the
 * operator's watermark — the minimum over both inputs — has passed their
 * time, i.e. when nothing earlier can still come. A vector is then scored and emitted, and waits in
 * a join table under its id (or its key) with the prediction and, for SGD,
 * its values; a label finds its waiting prediction there, goes to the
 * metrics with the score made at the vector's time (predict, then learn:
 * prequential) and the SGD learner learns the pair. Because every decision
 * depends only on event times and per-input arrival order, predictions and
 * weights are the same bit for bit however the inputs were cut into
 * micro-batches and interleaved (late rows aside, which are counted).
 * Predictions wait for their label for `timeout` ms of event time: an expiry
 * queue ordered by due time (vectors are taken in time order, so it is a
 * FIFO; entries read back from the state are appended and the queue sorted
 * once before use).
 *
 * State: each waiting prediction is a per-key record (the operators'
 * dirty-key checkpoint; the hot-key cache may evict them until their
 * expiry); the learner (rill_sgd_save blob), the queued vectors and labels
 * and the counters are one more record under "\0m", which no canonical key
 * can be. Restoring both continues exactly where the commit left off.
 *
 * Not done: the metrics (rill_metrics) are not saved and restart from zero
 * after a restore; labels for multi-class liblinear models; retraining the
 * liblinear model. A null value in a vector that does not come from a
 * feature-vector node counts as 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learners/op_model.h"
#include "operators/time_queue.h"

#define RECORD_VERSION 1
#define GLOBAL_VERSION 1
#define DEFAULT_TIMEOUT_MS INT64_C(3600000)
#define SPAN_MAX (INT64_C(1) << 50)
static const char GLOBAL_KEY[2] = { 0, 'm' };

enum { MODEL_LINEAR = 1, MODEL_SGD = 2 };
enum { ENTRY_NONE = 0, ENTRY_WAITING = 1, ENTRY_LABELLED = 2 };

/* ---- the recorded settings -------------------------------------------------- */

struct rill__model_cfg {
    int kind;
    char *features;
    char *path;            /* liblinear: a model file, or */
    rill_linear *borrowed; /* an in-memory model */
    rill_sgd_opts sgd;
    bool has_labels;
    char *labels, *field;
    rill_label_join join;
    int64_t timeout;
    size_t window;
    uint32_t bins;
};

void rill__model_cfg_free(rill__model_cfg *c) {
    if (!c) return;
    free(c->features);
    free(c->path);
    free(c->labels);
    free(c->field);
    free(c);
}

static int cfg_labels(rill__model_cfg *c, const rill_labels_opts *l, char *err, size_t errlen) {
    if (!l || !l->input) return RILL_OK;
    if (l->join != RILL_JOIN_BY_ID && l->join != RILL_JOIN_BY_KEY) {
        snprintf(err, errlen, "unknown label join mode %d", (int)l->join);
        return RILL_EINVAL;
    }
    if (l->timeout_ms < 0 || l->timeout_ms > SPAN_MAX) {
        snprintf(err, errlen, "label timeout_ms must be in 0..2^50");
        return RILL_EINVAL;
    }
    c->has_labels = true;
    c->labels = strdup(l->input);
    c->field = strdup(l->field ? l->field : "label");
    c->join = l->join;
    c->timeout = l->timeout_ms ? l->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->window = l->metrics_window;
    c->bins = l->auc_bins;
    if (!c->labels || !c->field) {
        snprintf(err, errlen, "out of memory");
        return RILL_ENOMEM;
    }
    return RILL_OK;
}

int rill__model_cfg_linear(const char *features, const rill_linear_node_opts *o,
                           rill__model_cfg **out, char *err, size_t errlen) {
    *out = NULL;
    if (!features || !o || !o->model_path == !o->model) {
        snprintf(err, errlen, "%s", !features ? "features is NULL" : !o ? "options are NULL"
                 : "give exactly one of model_path and model");
        return RILL_EINVAL;
    }
    rill__model_cfg *c = calloc(1, sizeof *c);
    if (!c || !(c->features = strdup(features)) || (o->model_path && !(c->path = strdup(o->model_path)))) {
        rill__model_cfg_free(c);
        snprintf(err, errlen, "out of memory");
        return RILL_ENOMEM;
    }
    c->kind = MODEL_LINEAR;
    c->borrowed = o->model;
    int rc = cfg_labels(c, &o->labels, err, errlen);
    if (rc) {
        rill__model_cfg_free(c);
        return rc;
    }
    *out = c;
    return RILL_OK;
}

int rill__model_cfg_sgd(const char *features, const rill_sgd_opts *sgd,
                        const rill_labels_opts *labels, rill__model_cfg **out, char *err,
                        size_t errlen) {
    *out = NULL;
    if (!features || !labels || !labels->input) {
        snprintf(err, errlen, "%s", !features ? "features is NULL"
                 : "an SGD node learns from labels: set labels->input");
        return RILL_EINVAL;
    }
    rill__model_cfg *c = calloc(1, sizeof *c);
    if (!c || !(c->features = strdup(features))) {
        rill__model_cfg_free(c);
        snprintf(err, errlen, "out of memory");
        return RILL_ENOMEM;
    }
    c->kind = MODEL_SGD;
    if (sgd) c->sgd = *sgd;
    int rc = cfg_labels(c, labels, err, errlen);
    if (rc) {
        rill__model_cfg_free(c);
        return rc;
    }
    *out = c;
    return RILL_OK;
}

char *rill__model_cfg_describe(const rill__model_cfg *c) {
    size_t cap = 512 + (c->path ? strlen(c->path) : 0) + (c->labels ? strlen(c->labels) : 0) +
                 (c->field ? strlen(c->field) : 0);
    char *s = malloc(cap);
    if (!s) return NULL;
    int n;
    if (c->kind == MODEL_LINEAR) {
        n = snprintf(s, cap, "model=liblinear %s%s", c->path ? "file=" : "in-memory", c->path ? c->path : "");
    } else {
        const rill_sgd_opts *o = &c->sgd; /* %a: exact bits */
        n = snprintf(s, cap, "model=sgd loss=%d schedule=%d eta0=%a intercept_eta0=%a power=%a eps=%a l2=%a "
                     "clip=%a no_intercept=%d standardize=%d batch=%u", (int)o->loss, (int)o->schedule,
                     o->eta0, o->intercept_eta0, o->power, o->adagrad_eps, o->l2, o->clip,
                     (int)o->no_intercept, (int)o->standardize, (unsigned)o->batch);
    }
    if (c->has_labels && n >= 0 && (size_t)n < cap)
        snprintf(s + n, cap - (size_t)n, " labels=%s field=%s join=%d timeout=%lld window=%zu bins=%u",
                 c->labels, c->field, (int)c->join, (long long)c->timeout, c->window, (unsigned)c->bins);
    return s;
}

size_t rill__model_cfg_inputs(const rill__model_cfg *c, const char **names, size_t cap) {
    size_t n = 0;
    if (n < cap) names[n] = c->features;
    n++;
    if (c->has_labels) {
        if (n < cap) names[n] = c->labels;
        n++;
    }
    return n;
}

/* ---- the operator ------------------------------------------------------------ */

typedef struct join_entry {
    rill_key_hdr h;
    int64_t ts;   /* the vector's time */
    int64_t due;  /* when it expires: ts + timeout + 1 */
    double score; /* the prediction, as the metrics take it */
    double *x;    /* SGD: the vector, until labelled */
    uint8_t state;
} join_entry;

typedef struct exp_item { int64_t due; uint32_t idx; } exp_item;

typedef struct pred { double label, decision, prob, score; } pred;

typedef struct model_op model_op;
typedef int (*predict_fn)(model_op *o, const double *x, pred *p);
typedef double (*read_fn)(const rill_column *c, size_t row);

static double read_f64(const rill_column *c, size_t row) { return c->data.f64[row]; }
static double read_i64(const rill_column *c, size_t row) { return (double)c->data.i64[row]; }
static double read_bool(const rill_column *c, size_t row) { return c->data.b[row] ? 1.0 : 0.0; }

struct model_op {
    rill_op base;
    rill_keytable kt; /* waiting (and labelled, until expiry) predictions */
    predict_fn predict;
    size_t dim;
    rill_linear *lin;
    bool own_lin, probabilistic;
    double *dec, *prob;
    int pos;          /* liblinear two-class: the positive class's position */
    double pos_label;
    rill_sgd *sgd;
    rill_metrics *metrics;
    bool regression;
    char *features_name, *labels_name;
    bool has_labels, by_key;
    size_t label_col;
    read_fn read_label;
    int64_t timeout;
    rill_tq vq, lq;   /* vectors (with their values) and labels (y) */
    uint64_t next_seq;
    exp_item *ex;     /* expiry queue, by due from ex_head */
    size_t ex_head, ex_n, ex_cap;
    bool ex_sorted;
    double *x_pool;   /* free blocks of dim doubles, linked through their first bytes */
    rill_model_stats st;
    bool gdirty;      /* the "\0m" record changed since the last checkpoint */
};

static double *x_get(model_op *o) {
    double *x = o->x_pool;
    if (!x) return malloc(o->dim * sizeof *x);
    memcpy(&o->x_pool, x, sizeof(double *)); /* the next free block */
    return x;
}

static void x_put(model_op *o, double *x) {
    if (!x) return;
    memcpy(x, &o->x_pool, sizeof(double *));
    o->x_pool = x;
}

/* ---- predictors, one picked at build time ---- */

static int predict_sgd_logistic(model_op *o, const double *x, pred *p) {
    double d = rill_sgd_decision(o->sgd, x);
    p->decision = d;
    p->prob = 1.0 / (1.0 + exp(-d)); /* what rill_sgd_predict() computes */
    p->label = d >= 0.0 ? 1.0 : 0.0;
    p->score = p->prob;
    return RILL_OK;
}

static int predict_sgd_hinge(model_op *o, const double *x, pred *p) {
    double d = rill_sgd_decision(o->sgd, x);
    p->decision = d;
    p->prob = NAN;
    p->label = d >= 0.0 ? 1.0 : 0.0;
    p->score = p->label;
    return RILL_OK;
}

static int predict_sgd_squared(model_op *o, const double *x, pred *p) {
    double d = rill_sgd_decision(o->sgd, x);
    p->decision = p->label = p->score = d;
    p->prob = NAN;
    return RILL_OK;
}

static int predict_linear(model_op *o, const double *x, pred *p) {
    double label;
    int rc = rill_linear_predict(o->lin, x, o->dim, &label, o->dec, o->probabilistic ? o->prob : NULL);
    if (rc) {
        snprintf(o->base.errmsg, sizeof o->base.errmsg, "%s", rill_linear_errmsg(o->lin));
        return rc;
    }
    int nc = rill_linear_nr_class(o->lin), at = 0;
    for (int i = 0; i < nc; i++)
        if (rill_linear_label(o->lin, i) == label) at = i;
    p->label = label;
    p->decision = rill_linear_nr_dec(o->lin) == 1 ? o->dec[0] : o->dec[at];
    p->prob = !o->probabilistic ? NAN : nc == 2 ? o->prob[o->pos] : o->prob[at];
    p->score = o->regression ? label : o->probabilistic && nc == 2 ? p->prob : label == o->pos_label;
    return RILL_OK;
}

/* ---- the join ---- */

static int ex_push(model_op *o, int64_t due, uint32_t idx) {
    if (o->ex_n == o->ex_cap) {
        size_t cap = o->ex_cap ? o->ex_cap * 2 : 256;
        exp_item *q = realloc(o->ex, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        o->ex = q;
        o->ex_cap = cap;
    }
    if (o->ex_n > o->ex_head && due < o->ex[o->ex_n - 1].due) o->ex_sorted = false;
    o->ex[o->ex_n++] = (exp_item){ due, idx };
    return RILL_OK;
}

static int ex_cmp(const void *a, const void *b) {
    const exp_item *x = a, *y = b;
    if (x->due != y->due) return x->due < y->due ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Forget the entry at idx: at once if the state never had it, else at the
 * next checkpoint (which deletes its record). */
static int entry_clear(model_op *o, uint32_t idx) {
    join_entry *e = rill__kt_value(&o->kt, idx);
    x_put(o, e->x);
    e->x = NULL;
    e->state = ENTRY_NONE;
    if (!e->h.stored) {
        rill__op_drop_key(&o->base, idx);
        return RILL_OK;
    }
    return rill__op_mark_dirty(&o->base, idx);
}

static int emit_pred(model_op *o, const rill_tq_item *it, const pred *p) {
    rill_batch *b = o->base.out;
    int rc = rill__tq_emit(&o->vq, it, b);
    if (rc) return rc;
    size_t r = b->len - 1;
    b->cols[0].data.f64[r] = p->label;
    b->cols[0].valid[r] = 1;
    b->cols[1].data.f64[r] = p->decision;
    b->cols[1].valid[r] = 1;
    b->cols[2].data.f64[r] = isnan(p->prob) ? 0.0 : p->prob;
    b->cols[2].valid[r] = !isnan(p->prob);
    o->base.emitted++;
    return RILL_OK;
}

static int do_vector(model_op *o, const rill_tq_item *it) {
    pred p;
    const double *x = rill__tq_vals(&o->vq, it);
    int rc = o->predict(o, x, &p);
    if (rc || (rc = emit_pred(o, it, &p)) != RILL_OK) return rc;
    o->st.vectors++;
    if (!o->has_labels) return RILL_OK;
    if (!o->by_key && !it->ilen) {
        o->st.unjoinable++;
        return RILL_OK;
    }
    const char *jk = o->by_key ? rill__tq_key(&o->vq, it) : rill__tq_id(&o->vq, it);
    uint32_t jl = o->by_key ? it->klen : it->ilen;
    bool created;
    uint32_t idx = rill__op_upsert(&o->base, jk, jl, it->jhash, &created, &rc);
    if (idx == RILL_KT_NONE) return rc;
    join_entry *e = rill__kt_value(&o->kt, idx);
    if (!created && e->state == ENTRY_WAITING) {
        o->st.replaced++;
        o->st.waiting--;
    }
    x_put(o, e->x);
    e->x = NULL;
    if (o->sgd) {
        if (!(e->x = x_get(o))) return RILL_ENOMEM;
        memcpy(e->x, x, o->dim * sizeof *e->x);
    }
    e->state = ENTRY_WAITING;
    e->ts = it->ts;
    e->due = rill__time_add(rill__time_add(it->ts, o->timeout), 1);
    e->score = p.score;
    o->st.waiting++;
    if ((rc = ex_push(o, e->due, idx)) != RILL_OK) return rc;
    return rill__op_mark_dirty(&o->base, idx);
}

static int do_label(model_op *o, const rill_tq_item *it) {
    double y = it->y;
    if (isnan(y) || (!o->regression && y != 0.0 && y != 1.0 && y != -1.0)) {
        o->st.invalid++;
        return RILL_OK;
    }
    if (!o->by_key && !it->ilen) {
        o->st.unmatched++;
        return RILL_OK;
    }
    const char *jk = o->by_key ? rill__tq_key(&o->lq, it) : rill__tq_id(&o->lq, it);
    uint32_t jl = o->by_key ? it->klen : it->ilen;
    bool created;
    int rc;
    uint32_t idx = rill__op_upsert(&o->base, jk, jl, it->jhash, &created, &rc);
    if (idx == RILL_KT_NONE) return rc;
    join_entry *e = rill__kt_value(&o->kt, idx);
    if (created) {
        rill__op_drop_key(&o->base, idx);
        o->st.unmatched++;
        return RILL_OK;
    }
    if (e->state == ENTRY_NONE) {
        o->st.unmatched++;
        return RILL_OK;
    }
    if (it->ts - e->ts > o->timeout) { /* its prediction expired before it came */
        if (e->state == ENTRY_WAITING) {
            o->st.expired++;
            o->st.waiting--;
        }
        o->st.unmatched++;
        return entry_clear(o, idx);
    }
    if (e->state == ENTRY_LABELLED) {
        o->st.duplicates++;
        return RILL_OK;
    }
    if (o->sgd) {
        if ((rc = rill_sgd_learn(o->sgd, e->x, &y, 1, NULL)) != RILL_OK) {
            snprintf(o->base.errmsg, sizeof o->base.errmsg, "learning: %s", rill_sgd_errmsg(o->sgd));
            return rc;
        }
        o->st.learned++;
    }
    if (o->metrics) rill_metrics_add(o->metrics, y, e->score); /* y and score are checked */
    o->st.matched++;
    o->st.waiting--;
    e->state = ENTRY_LABELLED;
    x_put(o, e->x);
    e->x = NULL;
    return rill__op_mark_dirty(&o->base, idx);
}

static int md_process(rill_op *op, const rill_op_input *in) {
    model_op *o = (model_op *)op;
    bool vectors = !strcmp(in->input_name, o->features_name);
    if (!vectors && !(o->has_labels && !strcmp(in->input_name, o->labels_name))) return RILL_OK;
    const rill_batch *b = in->b;
    op->events_in += b->len;
    o->gdirty = true;
    rill_wm_walk walk = rill__wm_walk_start(in);
    for (size_t row = 0; row < b->len; row++) {
        int64_t ts = in->ts[row];
        int64_t wm = rill__wm_now(&walk);
        rill__wm_see(&walk, ts);
        if (!vectors) o->st.labels++;
        if (ts < wm) { /* what is queued before it may have been taken already */
            o->st.late++;
            rill__op_late(op, in, row, wm);
            continue;
        }
        const char *key = rill__batch_bytes(b, b->key[row]);
        const char *id = rill__batch_bytes(b, b->id[row]);
        uint32_t klen = b->key[row].len, ilen = b->id[row].len;
        rill_tq_item *t;
        int rc = rill__tq_push(vectors ? &o->vq : &o->lq, ts, key, klen, id, ilen, &t);
        if (rc) return rc;
        t->seq = o->next_seq++;
        t->khash = b->key_hash[row];
        t->jhash = o->by_key ? t->khash : ilen ? rill__key_hash(id, ilen) : 0;
        t->y = NAN;
        if (vectors) {
            double *x = rill__tq_vals(&o->vq, t);
            for (size_t f = 0; f < o->dim; f++)
                x[f] = b->cols[f].valid[row] ? b->cols[f].data.f64[row] : 0.0;
        } else {
            const rill_column *c = &b->cols[o->label_col];
            if (c->valid[row]) t->y = o->read_label(c, row);
        }
    }
    return RILL_OK;
}

static int md_advance(rill_op *op, int64_t wm) {
    model_op *o = (model_op *)op;
    op->wm = wm;
    if (!rill__tq_len(&o->vq) && !rill__tq_len(&o->lq) && o->ex_head == o->ex_n) return RILL_OK;
    o->gdirty = true;
    int rc;
    for (;;) {
        const rill_tq_item *v = rill__tq_due(&o->vq, wm), *l = rill__tq_due(&o->lq, wm);
        if (!v && !l) break;
        if (v && (!l || v->ts <= l->ts)) { /* at the same ms: predict, then learn */
            rc = do_vector(o, v);
            o->vq.head++;
        } else {
            rc = do_label(o, l);
            o->lq.head++;
        }
        if (rc) return rc;
    }
    if ((rc = rill__tq_compact(&o->vq)) != RILL_OK || (rc = rill__tq_compact(&o->lq)) != RILL_OK) return rc;
    if (!o->ex_sorted) {
        qsort(o->ex + o->ex_head, o->ex_n - o->ex_head, sizeof *o->ex, ex_cmp);
        o->ex_sorted = true;
    }
    for (; o->ex_head < o->ex_n && o->ex[o->ex_head].due <= wm; o->ex_head++) {
        exp_item x = o->ex[o->ex_head];
        if (!rill__kt_entry(&o->kt, x.idx)->live) continue;
        join_entry *e = rill__kt_value(&o->kt, x.idx);
        if (e->state == ENTRY_NONE || e->due != x.due) continue; /* superseded */
        if (e->state == ENTRY_WAITING) {
            o->st.expired++;
            o->st.waiting--;
        }
        if ((rc = entry_clear(o, x.idx)) != RILL_OK) return rc;
    }
    if (o->ex_head == o->ex_n) {
        o->ex_head = o->ex_n = 0;
    } else if (o->ex_head >= 4096 && o->ex_head * 2 >= o->ex_n) {
        memmove(o->ex, o->ex + o->ex_head, (o->ex_n - o->ex_head) * sizeof *o->ex);
        o->ex_n -= o->ex_head;
        o->ex_head = 0;
    }
    return RILL_OK;
}

/* ---- state ---- */

/* Per-key record: version | state | ts | due | score | has_x | [dim doubles]. */
static size_t md_record_size(const rill_op *op, uint32_t idx) {
    const model_op *o = (const model_op *)op;
    const join_entry *e = rill__kt_value(&o->kt, idx);
    if (e->state == ENTRY_NONE) return 0;
    return 3 + 24 + (e->x ? 8 * o->dim : 0);
}

static void md_record_encode(const rill_op *op, uint32_t idx, char *buf) {
    const model_op *o = (const model_op *)op;
    const join_entry *e = rill__kt_value(&o->kt, idx);
    buf[0] = RECORD_VERSION;
    buf[1] = (char)e->state;
    memcpy(buf + 2, &e->ts, 8);
    memcpy(buf + 10, &e->due, 8);
    memcpy(buf + 18, &e->score, 8);
    buf[26] = e->x != NULL;
    if (e->x) memcpy(buf + 27, e->x, 8 * o->dim);
}

/* Append to a growable buffer; *fail on allocation failure. */
typedef struct wbuf { char *p; size_t len, cap; bool fail; } wbuf;

static void put(wbuf *w, const void *p, size_t len) {
    if (w->fail) return;
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + len) cap *= 2;
        char *q = realloc(w->p, cap);
        if (!q) {
            w->fail = true;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    if (len) memcpy(w->p + w->len, p, len);
    w->len += len;
}

static void put_queue(wbuf *w, const rill_tq *q) {
    uint64_t n = rill__tq_len(q);
    put(w, &n, 8);
    for (size_t i = q->head; i < q->n; i++) {
        const rill_tq_item *t = &q->it[i];
        put(w, &t->ts, 8);
        put(w, &t->seq, 8);
        put(w, &t->y, 8);
        put(w, &t->klen, 4);
        put(w, q->bytes + t->koff, t->klen);
        put(w, &t->ilen, 4);
        put(w, q->bytes + t->ioff, t->ilen);
        if (q->width) put(w, rill__tq_vals(q, t), q->width * 8);
    }
}

/* The "\0m" record: version | n_stats (4) | stats | next_seq | vectors
 * queue | labels queue | sgd blob length | sgd blob. A queue: n | per item
 * ts | seq | y | klen (4) | key | ilen (4) | id | [dim doubles]. */
int rill__model_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns) {
    model_op *o = (model_op *)op;
    if (!o->gdirty) return RILL_OK;
    wbuf w = { 0 };
    uint8_t v = GLOBAL_VERSION;
    uint32_t nst = sizeof o->st / 8;
    put(&w, &v, 1);
    put(&w, &nst, 4);
    put(&w, &o->st, sizeof o->st);
    put(&w, &o->next_seq, 8);
    put_queue(&w, &o->vq);
    put_queue(&w, &o->lq);
    void *blob = NULL;
    size_t blen = 0;
    if (o->sgd && rill_sgd_save(o->sgd, &blob, &blen) != RILL_OK) w.fail = true;
    uint64_t b64 = blen;
    put(&w, &b64, 8);
    put(&w, blob, blen);
    free(blob);
    int rc = w.fail ? RILL_ENOMEM : rill__state_batch_put(wb, ns, GLOBAL_KEY, sizeof GLOBAL_KEY, w.p, w.len);
    free(w.p);
    if (!rc) o->gdirty = false;
    return rc;
}

typedef struct rbuf { const char *p, *end; bool bad; } rbuf;

static void get(rbuf *r, void *out, size_t len) {
    if (r->bad || (size_t)(r->end - r->p) < len) {
        r->bad = true;
        memset(out, 0, len);
        return;
    }
    memcpy(out, r->p, len);
    r->p += len;
}

static int get_queue(model_op *o, rbuf *r, rill_tq *q) {
    const size_t dim = q->width;
    uint64_t n;
    get(r, &n, 8);
    for (uint64_t i = 0; i < n && !r->bad; i++) {
        int64_t ts;
        uint64_t seq;
        double y;
        uint32_t klen, ilen;
        get(r, &ts, 8);
        get(r, &seq, 8);
        get(r, &y, 8);
        get(r, &klen, 4);
        if (r->bad || klen > RILL_KEY_ENC_MAX || (size_t)(r->end - r->p) < klen) return RILL_ECORRUPT;
        const char *key = r->p;
        r->p += klen;
        get(r, &ilen, 4);
        if (r->bad || ilen > RILL_KEY_ENC_MAX || (size_t)(r->end - r->p) < ilen + dim * 8) return RILL_ECORRUPT;
        const char *id = r->p;
        r->p += ilen;
        rill_tq_item *t;
        int rc = rill__tq_push(q, ts, key, klen, id, ilen, &t);
        if (rc) return rc;
        t->seq = seq;
        t->y = y;
        t->khash = rill__key_hash(key, klen);
        t->jhash = o->by_key ? t->khash : ilen ? rill__key_hash(id, ilen) : 0;
        if (dim) memcpy(rill__tq_vals(q, t), r->p, dim * 8);
        r->p += dim * 8;
    }
    return r->bad ? RILL_ECORRUPT : RILL_OK;
}

static int restore_global(model_op *o, const char *p, size_t len) {
    rbuf r = { p, p + len, false };
    uint8_t v;
    uint32_t nst;
    get(&r, &v, 1);
    get(&r, &nst, 4);
    if (r.bad || v != GLOBAL_VERSION || nst != sizeof o->st / 8) return RILL_ECORRUPT;
    get(&r, &o->st, sizeof o->st);
    get(&r, &o->next_seq, 8);
    int rc = get_queue(o, &r, &o->vq);
    if (!rc) rc = get_queue(o, &r, &o->lq);
    if (rc) return rc;
    uint64_t blen;
    get(&r, &blen, 8);
    if (r.bad || (uint64_t)(r.end - r.p) != blen || (!o->sgd) != (blen == 0)) return RILL_ECORRUPT;
    if (o->sgd) {
        rill_sgd *l;
        char err[256];
        if ((rc = rill_sgd_load(r.p, blen, &l, err, sizeof err)) != RILL_OK) {
            snprintf(o->base.errmsg, sizeof o->base.errmsg, "restoring the learner: %.200s", err);
            return rc;
        }
        if (rill_sgd_dim(l) != o->dim) {
            rill_sgd_free(l);
            return RILL_ECORRUPT;
        }
        rill_sgd_free(o->sgd);
        o->sgd = l;
    }
    return RILL_OK;
}

static int md_restore_key(rill_op *op, const void *key, size_t klen, const void *val, size_t vlen) {
    model_op *o = (model_op *)op;
    if (klen == sizeof GLOBAL_KEY && !memcmp(key, GLOBAL_KEY, klen)) return restore_global(o, val, vlen);
    const char *p = val;
    if (vlen < 27 || p[0] != RECORD_VERSION || (p[1] != ENTRY_WAITING && p[1] != ENTRY_LABELLED) ||
        vlen != 27 + (p[26] ? 8 * o->dim : 0) || (p[26] && !o->sgd))
        return RILL_ECORRUPT;
    uint32_t idx;
    int src = rill__op_restore_slot(&o->base, key, klen, &idx);
    if (src) return src;
    join_entry *e = rill__kt_value(&o->kt, idx);
    e->state = (uint8_t)p[1];
    memcpy(&e->ts, p + 2, 8);
    memcpy(&e->due, p + 10, 8);
    memcpy(&e->score, p + 18, 8);
    if (p[26]) {
        if (!(e->x = x_get(o))) {
            rill__op_drop_key(op, idx);
            return RILL_ENOMEM;
        }
        memcpy(e->x, p + 27, 8 * o->dim);
    }
    return ex_push(o, e->due, idx);
}

static int64_t md_key_due(const rill_op *op, uint32_t idx) {
    const model_op *o = (const model_op *)op;
    const join_entry *e = rill__kt_value(&o->kt, idx);
    return e->state == ENTRY_NONE ? RILL_TIME_MAX : e->due;
}

static void md_release_key(rill_op *op, uint32_t idx) {
    model_op *o = (model_op *)op;
    join_entry *e = rill__kt_value(&o->kt, idx);
    x_put(o, e->x);
    e->x = NULL;
}

static void md_destroy(rill_op *op) {
    model_op *o = (model_op *)op;
    rill__op_release_keys(op);
    rill__kt_free(&o->kt);
    while (o->x_pool) {
        double *x = o->x_pool;
        memcpy(&o->x_pool, x, sizeof(double *)); /* the next free block */
        free(x);
    }
    rill__tq_free(&o->vq);
    rill__tq_free(&o->lq);
    free(o->ex);
    free(o->dec);
    free(o->prob);
    free(o->features_name);
    free(o->labels_name);
    if (o->own_lin) rill_linear_free(o->lin);
    rill_sgd_free(o->sgd);
    rill_metrics_free(o->metrics);
    rill__op_fini(op);
    free(o);
}

static const rill_op_methods md_methods = {
    .version = RILL_OP_METHODS_VERSION,
    .process = md_process,
    .advance = md_advance,
    .record_size = md_record_size,
    .record_encode = md_record_encode,
    .restore_key = md_restore_key,
    .key_due = md_key_due,
    .release_key = md_release_key,
    .destroy = md_destroy,
};

/* ---- building ---- */

static int bind_linear(model_op *o, const rill__model_cfg *c, const char *name, char *err, size_t errlen) {
    char e2[300] = "";
    int rc;
    if (c->path) {
        if ((rc = rill_linear_load(c->path, o->dim, &o->lin, e2, sizeof e2)) != RILL_OK) {
            snprintf(err, errlen, "model '%s': %s", name, e2);
            return rc;
        }
        o->own_lin = true;
    } else {
        o->lin = c->borrowed;
        if (rill_linear_dim(o->lin) != o->dim) {
            snprintf(err, errlen, "model '%s': the liblinear model has nr_feature %zu but '%s' gives %zu "
                     "values", name, rill_linear_dim(o->lin), c->features, o->dim);
            return RILL_EMODEL;
        }
    }
    int nc = rill_linear_nr_class(o->lin);
    o->probabilistic = rill_linear_is_probabilistic(o->lin);
    o->regression = rill_linear_is_regression(o->lin);
    o->dec = calloc((size_t)nc, sizeof *o->dec);
    o->prob = calloc((size_t)nc, sizeof *o->prob);
    if (!o->dec || !o->prob) {
        snprintf(err, errlen, "model '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    o->pos = 0;
    for (int i = 0; i < nc && !o->regression; i++)
        if (rill_linear_label(o->lin, i) == 1) o->pos = i;
    o->pos_label = o->regression ? 0 : rill_linear_label(o->lin, o->pos);
    if (c->has_labels && !o->regression) {
        int other = rill_linear_label(o->lin, 1 - o->pos);
        if (nc != 2 || o->pos_label != 1 || (other != 0 && other != -1)) {
            snprintf(err, errlen, "model '%s': labels are joined only for two-class models with classes 1 "
                     "and 0 or -1 (and for regression); this one has %d classes", name, nc);
            return RILL_EMODEL;
        }
    }
    o->predict = predict_linear;
    return RILL_OK;
}

int rill__op_new_model(const rill__model_cfg *c, const char *name, const char *const *in_names,
                       const rill_schema *const *in_schemas, size_t n_in, rill_op **out,
                       char *err, size_t errlen) {
    *out = NULL;
    model_op *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "model '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    o->base.m = &md_methods;
    o->base.wm = RILL_TIME_MIN;
    o->base.kt = &o->kt;
    o->ex_sorted = true;
    o->has_labels = c->has_labels;
    o->by_key = c->join == RILL_JOIN_BY_KEY;
    o->timeout = c->timeout;
    int rc = RILL_ENOMEM;
    o->base.name = strdup(name);
    o->features_name = strdup(in_names[0]);
    o->labels_name = n_in > 1 ? strdup(in_names[1]) : NULL;
    if (rill__kt_init(&o->base.cold, sizeof(rill_cold_key)) || rill__kt_init(&o->kt, sizeof(join_entry)) ||
        !o->base.name || !o->features_name || (n_in > 1 && !o->labels_name))
        goto fail_nomem;
    /* the vector: every value of the first input, in order */
    const rill_schema *fs = in_schemas[0];
    o->dim = rill_schema_len(fs);
    for (size_t f = 0; f < o->dim; f++)
        if (rill_schema_field(fs, f)->type != RILL_F64) {
            snprintf(err, errlen, "model '%s': '%s' value '%s' is %s; a model reads f64 vectors (a feature "
                     "vector node)", name, in_names[0], rill_schema_field(fs, f)->name,
                     rill_type_name(rill_schema_field(fs, f)->type));
            rc = RILL_EFIELD_TYPE;
            goto fail;
        }
    if (!o->dim) {
        snprintf(err, errlen, "model '%s': '%s' has no values to read a vector from", name, in_names[0]);
        rc = RILL_EFIELD_TYPE;
        goto fail;
    }
    rill__tq_init(&o->vq, o->dim);
    rill__tq_init(&o->lq, 0);
    if (c->has_labels) {
        if (rill_schema_index(in_schemas[1], c->field, &o->label_col) != RILL_OK) {
            snprintf(err, errlen, "model '%s': labels input '%s' has no field '%s'", name, in_names[1], c->field);
            rc = RILL_EUNKNOWN_FIELD;
            goto fail;
        }
        rill_type t = rill_schema_field(in_schemas[1], o->label_col)->type;
        if (t != RILL_F64 && t != RILL_I64 && t != RILL_BOOL) {
            snprintf(err, errlen, "model '%s': label field '%s' of '%s' is %s (f64, i64 or bool expected)",
                     name, c->field, in_names[1], rill_type_name(t));
            rc = RILL_EFIELD_TYPE;
            goto fail;
        }
        o->read_label = t == RILL_F64 ? read_f64 : t == RILL_I64 ? read_i64 : read_bool;
    }
    if (c->kind == MODEL_LINEAR) {
        if ((rc = bind_linear(o, c, name, err, errlen)) != RILL_OK) goto fail;
    } else {
        char e2[300] = "";
        if ((rc = rill_sgd_new(o->dim, &c->sgd, &o->sgd, e2, sizeof e2)) != RILL_OK) {
            snprintf(err, errlen, "model '%s': %s", name, e2);
            goto fail;
        }
        o->regression = c->sgd.loss == RILL_SGD_SQUARED;
        o->predict = c->sgd.loss == RILL_SGD_LOGISTIC ? predict_sgd_logistic
                   : c->sgd.loss == RILL_SGD_HINGE ? predict_sgd_hinge : predict_sgd_squared;
    }
    if (c->has_labels) {
        rill_metrics_opts mo = { .task = o->regression ? RILL_METRICS_REGRESSION : RILL_METRICS_CLASSIFICATION,
                                 .window = c->window, .auc_bins = c->bins };
        char e2[300] = "";
        if ((rc = rill_metrics_new(&mo, &o->metrics, e2, sizeof e2)) != RILL_OK) {
            snprintf(err, errlen, "model '%s': metrics: %s", name, e2);
            goto fail;
        }
    }
    rill_field fields[] = { { "label", RILL_F64 }, { "decision", RILL_F64 }, { "probability", RILL_F64 } };
    rill_schema *s = rill_schema_new(fields, 3);
    if (!s || !(o->base.out = rill__batch_new_output(s, 256))) {
        rill_schema_free(s);
        goto fail_nomem;
    }
    rill_schema_free(s);
    *out = &o->base;
    return RILL_OK;
fail_nomem:
    snprintf(err, errlen, "model '%s': out of memory", name);
    rc = RILL_ENOMEM;
fail:
    md_destroy(&o->base);
    return rc;
}

void rill__model_stats(const rill_op *op, rill_model_stats *out) { *out = ((const model_op *)op)->st; }

void rill__model_metrics(const rill_op *op, rill_metrics_report *out) {
    const model_op *o = (const model_op *)op;
    if (o->metrics) {
        rill_metrics_read(o->metrics, out);
        return;
    }
    rill_metric_values none = { .accuracy = NAN, .log_loss = NAN, .auc = NAN, .auc_err = NAN,
                                .precision = NAN, .recall = NAN, .mae = NAN, .rmse = NAN };
    out->cumulative = out->window = none;
}

int rill__model_weights(const rill_op *op, double *w, size_t n, double *intercept) {
    const model_op *o = (const model_op *)op;
    if (!o->sgd || n != o->dim) return RILL_EINVAL;
    rill_sgd_weights(o->sgd, w, intercept);
    return RILL_OK;
}
