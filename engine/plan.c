/* engine/plan.c — running a compiled plan: micro-batches, watermarks,
 * delivery to sinks, commits and restore.
 *
 * One step (a push, an explicit watermark, a tick, a flush) walks the
 * operators once in topological order. Each operator first processes what
 * reached it in this step (the source batch if it reads that source, the
 * records its operator inputs emitted earlier in the walk), then moves its
 * watermark to the minimum over its inputs and fires what closed. Its
 * records then go to its sinks and become input of the operators after it.
 *
 * Source watermark = max event time seen - the source's out-of-orderness
 * bound. A source that has been idle for its idle timeout stops holding the
 * minimum back. Operator watermarks never move back.
 *
 * Commit writes, in one state write batch: every operator's changed keys,
 * every watermark and counter, and the graph fingerprint. Restore reads them
 * back; a checkpoint of another graph is refused, naming the first
 * difference.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/graph.h"

/* Event times beyond +-2^61 ms are refused: window arithmetic stays exact. */
#define TS_LIMIT (INT64_C(1) << 61)

int rill__plan_error(rill_plan *p, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

int64_t rill__now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t rill__wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

const char *rill_plan_errmsg(const rill_plan *p) { return p ? p->errmsg : "no plan"; }

void rill_plan_free(rill_plan *p) {
    if (!p) return;
    if (p->inflight) { /* the writer still reads it */
        rill__state_commit_wait(p->state);
        rill__state_batch_free(p->inflight);
    }
    for (size_t i = 0; i < p->n_sources; i++) {
        free(p->sources[i].name);
        rill_schema_free(p->sources[i].schema);
    }
    for (size_t i = 0; i < p->n_ops; i++) {
        plan_op *po = &p->ops[i];
        if (po->op) po->op->m->destroy(po->op);
        for (size_t j = 0; po->inputs && j < po->n_inputs; j++) free(po->inputs[j].agg_cols);
        free(po->inputs);
        free(po->sinks);
        free(po->cols);
    }
    for (size_t i = 0; i < p->n_blobs; i++) {
        free(p->blobs[i].name);
        free(p->blobs[i].data);
    }
    free(p->blobs);
    free(p->sources);
    free(p->ops);
    free(p->fingerprint);
    free(p->ts_scratch);
    if (p->own_state) rill_state_close(p->state);
    free(p);
}

static plan_source *find_source(rill_plan *p, const char *name, size_t *index) {
    for (size_t i = 0; name && i < p->n_sources; i++)
        if (!strcmp(p->sources[i].name, name)) {
            if (index) *index = i;
            return &p->sources[i];
        }
    return NULL;
}

static int64_t source_effective_wm(const plan_source *s) {
    return s->idle ? RILL_TIME_MAX : s->wm;
}

static int64_t input_wm(const rill_plan *p, const plan_input *in) {
    return in->from_source ? source_effective_wm(&p->sources[in->index]) : p->ops[in->index].op->wm;
}

/* Minimum watermark over po's inputs other than `skip` (SIZE_MAX: none). */
static int64_t others_wm(const rill_plan *p, const plan_op *po, size_t skip) {
    int64_t m = RILL_TIME_MAX;
    for (size_t i = 0; i < po->n_inputs; i++) {
        if (i == skip) continue;
        int64_t w = input_wm(p, &po->inputs[i]);
        if (w < m) m = w;
    }
    return m;
}

/* True when every input of po is an idle source: then its watermark holds. */
static bool all_inputs_idle(const rill_plan *p, const plan_op *po) {
    for (size_t i = 0; i < po->n_inputs; i++)
        if (!po->inputs[i].from_source || !p->sources[po->inputs[i].index].idle) return false;
    return true;
}

/* Deliver the records op emitted to its sinks. The values are the output
 * batch's fields (a window's aggregates, a feature vector's features, a
 * model's prediction). */
static void deliver(plan_op *po) {
    const rill_batch *b = po->op->out;
    if (!po->n_sinks || !b->len) return;
    size_t nv = rill_schema_len(b->schema);
    const char *names[64];
    const char **namev = nv <= 64 ? names : malloc(nv * sizeof *namev);
    rill_value vals[64];
    rill_value *valv = nv <= 64 ? vals : malloc(nv * sizeof *valv);
    if (!namev || !valv) goto done; /* cannot happen for <= 64 values */
    for (size_t a = 0; a < nv; a++) namev[a] = rill_schema_field(b->schema, a)->name;
    for (size_t r = 0; r < b->len; r++) {
        for (size_t a = 0; a < nv; a++) valv[a] = rill_batch_get(b, r, a);
        rill_record rec = {
            .op = po->op->name,
            .key = rill_batch_key(b, r),
            .start = b->win_start[r],
            .end = b->win_end[r],
            .ts = b->ts[r],
            .id = rill_batch_id(b, r),
            .flags = b->flags[r],
            .n_values = nv,
            .names = namev,
            .values = valv,
        };
        for (size_t s = 0; s < po->n_sinks; s++) po->sinks[s].fn(&rec, po->sinks[s].user);
    }
done:
    if (namev != names) free(namev);
    if (valv != vals) free(valv);
}

static int fail(rill_plan *p, int rc, const char *what, const rill_op *op) {
    p->broken = true;
    if (op && op->errmsg[0]) return rill__plan_error(p, rc, "%s: operator '%s': %s", what, op->name, op->errmsg);
    return rill__plan_error(p, rc, "%s: %s%s%s", what, rill_strerror(rc), op ? " in operator " : "",
                            op ? op->name : "");
}

/* One walk over the operators. batch/src: the source batch of this step
 * (NULL for a watermark-only step); ts: its event times; src_wm_before: the
 * source's watermark before the batch. */
static int step(rill_plan *p, const rill_batch *batch, size_t src, const int64_t *ts,
                int64_t src_wm_before) {
    for (size_t i = 0; i < p->n_ops; i++) p->ops[i].wm_before = p->ops[i].op->wm;
    for (size_t i = 0; i < p->n_ops; i++) rill_batch_clear(p->ops[i].op->out); /* rows and their bytes */
    int rc;
    for (size_t i = 0; i < p->n_ops; i++) {
        plan_op *po = &p->ops[i];
        rill_op *op = po->op;
        for (size_t j = 0; j < po->n_inputs; j++) {
            const plan_input *pi = &po->inputs[j];
            rill_op_input in = { 0 };
            if (pi->from_source) {
                if (!batch || pi->index != src || !batch->len) continue;
                in.b = batch;
                in.ts = ts;
                in.input_wm = p->sources[src].idle ? RILL_TIME_MAX : src_wm_before;
                in.advances = true;
                in.bound = p->sources[src].opts.max_out_of_orderness_ms;
                in.input_name = p->sources[src].name;
            } else {
                plan_op *up = &p->ops[pi->index];
                if (!up->op->out->len) continue;
                in.b = up->op->out;
                in.ts = up->op->out->ts;
                in.input_wm = up->wm_before;
                in.input_name = up->op->name;
            }
            in.others_wm = others_wm(p, po, j);
            for (size_t a = 0; a < op->aggs.n; a++)
                po->cols[a] = pi->agg_cols[a] == SIZE_MAX ? NULL : &in.b->cols[pi->agg_cols[a]];
            in.cols = po->cols;
            if ((rc = op->m->process(op, &in)) != RILL_OK) return fail(p, rc, "processing a batch", op);
        }
        /* advance even when the watermark stays: what this batch changed
         * behind it (an allowed-late event) may be due already */
        int64_t w = all_inputs_idle(p, po) ? op->wm : others_wm(p, po, SIZE_MAX);
        if (w < op->wm) w = op->wm;
        if ((rc = rill__op_advance(op, w)) != RILL_OK)
            return fail(p, rc, "advancing the watermark", op);
        deliver(po);
    }
    return RILL_OK;
}

/* Mark sources idle / active by the wall clock. True if anything changed. */
static bool update_idle(rill_plan *p, int64_t now) {
    bool changed = false;
    for (size_t i = 0; i < p->n_sources; i++) {
        plan_source *s = &p->sources[i];
        bool idle = s->opts.idle_timeout_ms > 0 && now - s->last_push_ms >= s->opts.idle_timeout_ms;
        if (idle != s->idle) changed = true;
        s->idle = idle;
    }
    return changed;
}

int rill_plan_push(rill_plan *p, const char *source, const rill_batch *b) {
    if (!p || !b) return RILL_EINVAL;
    if (p->broken) return rill__plan_error(p, RILL_ESTATE, "the plan stopped after an earlier error: %s", p->errmsg);
    size_t si;
    plan_source *s = find_source(p, source, &si);
    if (!s) return rill__plan_error(p, RILL_EUNKNOWN_NODE, "push: no source named '%s'", source ? source : "(null)");
    if (!rill_schema_equal(s->schema, b->schema))
        return rill__plan_error(p, RILL_EINVAL, "push: the batch's schema differs from source '%s''s", s->name);
    const int64_t *ts = b->ts;
    if (s->opts.time == RILL_TIME_PROCESSING) {
        if (b->len > p->ts_cap) {
            int64_t *q = realloc(p->ts_scratch, b->len * sizeof *q);
            if (!q) return rill__plan_error(p, RILL_ENOMEM, "push: out of memory");
            p->ts_scratch = q;
            p->ts_cap = b->len;
        }
        int64_t now = rill__wall_ms();
        for (size_t r = 0; r < b->len; r++) p->ts_scratch[r] = now;
        ts = p->ts_scratch;
    }
    int64_t max_ts = RILL_TIME_MIN;
    for (size_t r = 0; r < b->len; r++) {
        if (ts[r] > TS_LIMIT || ts[r] < -TS_LIMIT)
            return rill__plan_error(p, RILL_EINVAL, "push: row %zu of source '%s': ts %lld is out of range (+-2^61 ms)",
                                    r, s->name, (long long)ts[r]);
        if (ts[r] > max_ts) max_ts = ts[r];
    }
    int64_t now = rill__now_ms();
    s->last_push_ms = now;
    update_idle(p, now);
    /* operators walk the batch from `before` (each event judged against the
     * watermark just before it); the source is at its new watermark after */
    int64_t before = s->wm;
    if (b->len && max_ts - s->opts.max_out_of_orderness_ms > s->wm)
        s->wm = max_ts - s->opts.max_out_of_orderness_ms;
    return step(p, b, si, ts, before);
}

int rill_plan_advance(rill_plan *p, const char *source, int64_t wm) {
    if (!p) return RILL_EINVAL;
    if (p->broken) return rill__plan_error(p, RILL_ESTATE, "the plan stopped after an earlier error: %s", p->errmsg);
    plan_source *s = find_source(p, source, NULL);
    if (!s) return rill__plan_error(p, RILL_EUNKNOWN_NODE, "advance: no source named '%s'", source ? source : "(null)");
    if (wm > TS_LIMIT) wm = TS_LIMIT;
    s->last_push_ms = rill__now_ms();
    update_idle(p, s->last_push_ms);
    if (wm > s->wm) s->wm = wm;
    return step(p, NULL, 0, NULL, 0);
}

int rill_plan_tick(rill_plan *p) {
    if (!p) return RILL_EINVAL;
    if (p->broken) return rill__plan_error(p, RILL_ESTATE, "the plan stopped after an earlier error: %s", p->errmsg);
    if (!update_idle(p, rill__now_ms())) return RILL_OK;
    return step(p, NULL, 0, NULL, 0);
}

int rill_plan_flush(rill_plan *p) {
    if (!p) return RILL_EINVAL;
    if (p->broken) return rill__plan_error(p, RILL_ESTATE, "the plan stopped after an earlier error: %s", p->errmsg);
    for (size_t i = 0; i < p->n_sources; i++) p->sources[i].wm = RILL_TIME_MAX;
    return step(p, NULL, 0, NULL, 0);
}

int rill_plan_op_stats(const rill_plan *p, const char *op, rill_op_stats *out) {
    if (!p || !op || !out) return RILL_EINVAL;
    for (size_t i = 0; i < p->n_ops; i++) {
        const rill_op *o = p->ops[i].op;
        if (strcmp(o->name, op)) continue;
        out->events_in = o->events_in;
        out->late = o->late;
        out->emitted = o->emitted;
        out->keys = o->kt->count + o->cold.count;
        out->hot_keys = o->kt->count;
        out->evictions = o->evictions;
        out->reads_back = o->faults;
        out->watermark = o->wm;
        return RILL_OK;
    }
    return RILL_EUNKNOWN_NODE;
}

plan_op *rill__plan_find_op(const rill_plan *p, const char *name) {
    for (size_t i = 0; p && name && i < p->n_ops; i++)
        if (!strcmp(p->ops[i].op->name, name)) return &p->ops[i];
    return NULL;
}

int rill_plan_source_watermark(const rill_plan *p, const char *source, int64_t *out) {
    if (!p || !out) return RILL_EINVAL;
    for (size_t i = 0; source && i < p->n_sources; i++)
        if (!strcmp(p->sources[i].name, source)) {
            *out = p->sources[i].wm;
            return RILL_OK;
        }
    return RILL_EUNKNOWN_NODE;
}

/* ---- blobs ---------------------------------------------------------------- */

#define BLOB_MAX ((size_t)64 << 20)

static plan_blob *find_blob(const rill_plan *p, const char *name) {
    for (size_t i = 0; i < p->n_blobs; i++)
        if (!strcmp(p->blobs[i].name, name)) return &p->blobs[i];
    return NULL;
}

/* Store a copy of data under name; dirty says whether commit must write it. */
static int blob_store(rill_plan *p, const char *name, const void *data, size_t len, bool dirty) {
    void *copy = malloc(len ? len : 1);
    if (!copy) return RILL_ENOMEM;
    if (len) memcpy(copy, data, len);
    plan_blob *b = find_blob(p, name);
    if (!b) {
        plan_blob *q = realloc(p->blobs, (p->n_blobs + 1) * sizeof *q);
        char *nm = strdup(name);
        if (q) p->blobs = q;
        if (!q || !nm) {
            free(copy);
            free(nm);
            return RILL_ENOMEM;
        }
        b = &p->blobs[p->n_blobs++];
        b->name = nm;
        b->data = NULL;
    }
    free(b->data);
    b->data = copy;
    b->len = len;
    b->dirty = dirty;
    return RILL_OK;
}

int rill_plan_set_blob(rill_plan *p, const char *name, const void *data, size_t len) {
    if (!p || !name || !name[0] || strlen(name) > 200 || (len && !data)) return RILL_EINVAL;
    if (len > BLOB_MAX) return rill__plan_error(p, RILL_EINVAL, "blob '%s': %zu bytes is over the 64 MiB limit", name, len);
    int rc = blob_store(p, name, data, len, true);
    return rc ? rill__plan_error(p, rc, "blob '%s': out of memory", name) : RILL_OK;
}

int rill_plan_get_blob(const rill_plan *p, const char *name, const void **data, size_t *len) {
    if (!p || !name || !data || !len) return RILL_EINVAL;
    const plan_blob *b = find_blob(p, name);
    if (!b) return RILL_ENOT_FOUND;
    *data = b->data;
    *len = b->len;
    return RILL_OK;
}

/* ---- commit / restore ----------------------------------------------------- */

#define META_FINGERPRINT "fingerprint"

/* Right after a checkpoint, when every key's record is current: shrink the
 * operators' in-memory caches to their budget. park: that checkpoint is
 * still being written, keep copies of what is evicted. */
static int evict_cold(rill_plan *p, bool park) {
    for (size_t i = 0; i < p->n_ops; i++) {
        int rc = rill__op_evict(p->ops[i].op, park);
        if (rc) {
            p->broken = true;
            return rill__plan_error(p, rc, "evicting cold keys of operator '%s': %s", p->ops[i].op->name,
                                    rill_strerror(rc));
        }
    }
    return RILL_OK;
}

static int put_meta(rill_state_batch *wb, uint32_t ns, const char *prefix, const char *name,
                    const void *v, size_t vlen) {
    char key[700];
    int n = snprintf(key, sizeof key, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof key) return RILL_EINVAL;
    return rill__state_batch_put(wb, ns, key, (size_t)n, v, vlen);
}

typedef struct op_meta { int64_t wm; uint64_t events_in, late, emitted; } op_meta;

/* Collect the checkpoint (what every operator changed since the last one,
 * the watermarks, counters, blobs and the fingerprint) in one batch and
 * hand it to the state's writer; p->inflight holds it until the wait. */
static int commit_begin(rill_plan *p) {
    if (p->broken) return rill__plan_error(p, RILL_ESTATE, "the plan stopped after an earlier error: %s", p->errmsg);
    rill_state_batch *wb = rill__state_batch_new();
    if (!wb) return rill__plan_error(p, RILL_ENOMEM, "commit: out of memory");
    int rc = RILL_OK;
    for (size_t i = 0; !rc && i < p->n_ops; i++)
        rc = rill__op_checkpoint(p->ops[i].op, wb, p->ops[i].ns);
    for (size_t i = 0; !rc && i < p->n_ops; i++) /* feature vectors, models: state not per key */
        if (p->ops[i].ext && p->ops[i].ext->checkpoint)
            rc = p->ops[i].ext->checkpoint(p->ops[i].op, wb, p->ops[i].ns);
    for (size_t i = 0; !rc && i < p->n_sources; i++)
        rc = put_meta(wb, p->meta_ns, "src:", p->sources[i].name, &p->sources[i].wm, 8);
    for (size_t i = 0; !rc && i < p->n_ops; i++) {
        const rill_op *o = p->ops[i].op;
        op_meta m = { o->wm, o->events_in, o->late, o->emitted };
        rc = put_meta(wb, p->meta_ns, "op:", o->name, &m, sizeof m);
    }
    for (size_t i = 0; !rc && i < p->n_blobs; i++)
        if (p->blobs[i].dirty)
            rc = put_meta(wb, p->meta_ns, "blob:", p->blobs[i].name, p->blobs[i].data, p->blobs[i].len);
    if (!rc)
        rc = rill__state_batch_put(wb, p->meta_ns, META_FINGERPRINT, strlen(META_FINGERPRINT),
                                   p->fingerprint, strlen(p->fingerprint));
    if (!rc && (rc = rill__state_commit_start(p->state, wb)) != RILL_OK) {
        rill__state_batch_free(wb);
        p->broken = true;
        return rill__plan_error(p, rc, "commit failed: %s", rill_state_errmsg(p->state));
    }
    if (rc) {
        /* operators already handed over their changes: the plan cannot
         * continue consistently, it must be resumed from the last commit */
        rill__state_batch_free(wb);
        p->broken = true;
        return rill__plan_error(p, rc, "commit: %s", rill_strerror(rc));
    }
    p->inflight = wb;
    for (size_t i = 0; i < p->n_blobs; i++) p->blobs[i].dirty = false;
    return RILL_OK;
}

/* One commit in flight at a time, so the previous one is waited for first
 * (commits are written in the order they were started). Keys evicted now
 * keep a parked copy while the batch is written in the background. */
int rill_plan_commit_start(rill_plan *p) {
    if (!p) return RILL_EINVAL;
    int rc = rill_plan_commit_wait(p);
    if (!rc) rc = commit_begin(p);
    if (!rc) rc = evict_cold(p, rill__state_commit_in_background(p->state));
    return rc;
}

int rill_plan_commit_wait(rill_plan *p) {
    if (!p) return RILL_EINVAL;
    if (!p->inflight) return RILL_OK;
    int rc = rill__state_commit_wait(p->state);
    rill__state_batch_free(p->inflight);
    p->inflight = NULL;
    for (size_t i = 0; i < p->n_ops; i++) rill__op_commit_written(p->ops[i].op);
    if (rc) {
        p->broken = true;
        return rill__plan_error(p, rc, "commit failed: %s", rill_state_errmsg(p->state));
    }
    return RILL_OK;
}

bool rill_plan_commit_written(const rill_plan *p) {
    return !p || !p->inflight || rill__state_commit_finished(p->state);
}

/* Written before evicting: no copies to park. */
int rill_plan_commit(rill_plan *p) {
    if (!p) return RILL_EINVAL;
    int rc = rill_plan_commit_wait(p);
    if (!rc) rc = commit_begin(p);
    if (!rc) rc = rill_plan_commit_wait(p);
    if (!rc) rc = evict_cold(p, false);
    return rc;
}

/* The first line where two fingerprints differ, for the error message. */
static void first_difference(const char *a, size_t alen, const char *b, char *out, size_t outlen) {
    size_t i = 0, line_start = 0, blen = strlen(b);
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n') line_start = i + 1;
        i++;
    }
    const char *ae = memchr(a + line_start, '\n', alen - line_start);
    const char *be = strchr(b + line_start, '\n');
    int al = ae ? (int)(ae - a - line_start) : (int)(alen - line_start);
    int bl = be ? (int)(be - b - line_start) : (int)(blen - line_start);
    snprintf(out, outlen, "stored: \"%.*s\" / this graph: \"%.*s\"", al, a + line_start, bl, b + line_start);
}

typedef struct restore_ctx { rill_plan *p; rill_op *op; } restore_ctx;

static int blob_visit(void *user, const void *key, size_t klen, const void *val, size_t vlen) {
    rill_plan *p = user;
    char name[256];
    if (klen < 5 || klen - 5 >= sizeof name || memcmp(key, "blob:", 5)) return RILL_OK;
    memcpy(name, (const char *)key + 5, klen - 5);
    name[klen - 5] = 0;
    return blob_store(p, name, val, vlen, false);
}

/* Delete everything the checkpoint of another graph left: the plan's own
 * namespace and that of every operator its fingerprint names. */
static int discard_old_state(rill_plan *p, const char *old, size_t oldlen) {
    rill_state_batch *wb = rill__state_batch_new();
    if (!wb) return RILL_ENOMEM;
    static const char lo[1] = { 0 }, hi[1] = { (char)0xff };
    int rc = rill__state_batch_delete_range(wb, p->meta_ns, lo, 0, hi, 1);
    for (const char *line = old; !rc && line < old + oldlen;) {
        const char *nl = memchr(line, '\n', (size_t)(old + oldlen - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(old + oldlen - line);
        if (n > 9 && !memcmp(line, "operator ", 9)) {
            const char *sp = memchr(line + 9, ' ', n - 9);
            char ns[600];
            int len = snprintf(ns, sizeof ns, "op:%.*s", (int)((sp ? sp : line + n) - line - 9), line + 9);
            uint32_t id;
            if (len > 0 && (size_t)len < sizeof ns && (rc = rill__state_ns_open(p->state, ns, &id)) == RILL_OK)
                rc = rill__state_batch_delete_range(wb, id, lo, 0, hi, 1);
        }
        line += n + 1;
    }
    if (!rc) rc = rill__state_commit(p->state, wb);
    rill__state_batch_free(wb);
    return rc;
}

static int restore_visit(void *user, const void *key, size_t klen, const void *val, size_t vlen) {
    restore_ctx *c = user;
    return c->op->m->restore_key(c->op, key, klen, val, vlen);
}

int rill__plan_restore(rill_plan *p) {
    void *fp = NULL;
    size_t fplen = 0;
    int rc = rill__state_get(p->state, p->meta_ns, META_FINGERPRINT, strlen(META_FINGERPRINT), &fp, &fplen);
    if (rc == RILL_ENOT_FOUND) return RILL_OK; /* a fresh state */
    if (rc) return rill__plan_error(p, rc, "reading the checkpoint: %s", rill_state_errmsg(p->state));
    if ((fplen != strlen(p->fingerprint) || memcmp(fp, p->fingerprint, fplen)) && p->discard_mismatch) {
        rc = discard_old_state(p, fp, fplen);
        free(fp);
        if (rc) return rill__plan_error(p, rc, "discarding the old graph's state: %s", rill_state_errmsg(p->state));
        return RILL_OK;
    }
    if (fplen != strlen(p->fingerprint) || memcmp(fp, p->fingerprint, fplen)) {
        char diff[400];
        first_difference(fp, fplen, p->fingerprint, diff, sizeof diff);
        free(fp);
        return rill__plan_error(p, RILL_ESTATE_MISMATCH,
                                "the state holds a checkpoint of a different graph; first difference: %s", diff);
    }
    free(fp);
    static const char blob_lo[] = "blob:", blob_hi[] = "blob;"; /* ';' follows ':' */
    rc = rill__state_scan(p->state, p->meta_ns, blob_lo, 5, blob_hi, 5, blob_visit, p);
    if (rc) return rill__plan_error(p, rc, "restoring blobs: %s", rill_strerror(rc));
    for (size_t i = 0; i < p->n_sources; i++) {
        char key[700];
        void *v;
        size_t vlen;
        snprintf(key, sizeof key, "src:%s", p->sources[i].name);
        rc = rill__state_get(p->state, p->meta_ns, key, strlen(key), &v, &vlen);
        if (rc == RILL_ENOT_FOUND) continue;
        if (rc) return rill__plan_error(p, rc, "reading the checkpoint: %s", rill_state_errmsg(p->state));
        if (vlen == 8) memcpy(&p->sources[i].wm, v, 8);
        free(v);
        if (vlen != 8) return rill__plan_error(p, RILL_ECORRUPT, "checkpoint: bad watermark of source '%s'", p->sources[i].name);
    }
    for (size_t i = 0; i < p->n_ops; i++) {
        rill_op *op = p->ops[i].op;
        char key[700];
        void *v;
        size_t vlen;
        snprintf(key, sizeof key, "op:%s", op->name);
        rc = rill__state_get(p->state, p->meta_ns, key, strlen(key), &v, &vlen);
        if (rc == RILL_OK) {
            op_meta m;
            bool ok = vlen == sizeof m;
            if (ok) memcpy(&m, v, sizeof m);
            free(v);
            if (!ok) return rill__plan_error(p, RILL_ECORRUPT, "checkpoint: bad header of operator '%s'", op->name);
            op->wm = m.wm;
            op->events_in = m.events_in;
            op->late = m.late;
            op->emitted = m.emitted;
        } else if (rc != RILL_ENOT_FOUND) {
            return rill__plan_error(p, rc, "reading the checkpoint: %s", rill_state_errmsg(p->state));
        }
        restore_ctx c = { p, op };
        rc = rill__state_scan(p->state, p->ops[i].ns, NULL, 0, NULL, 0, restore_visit, &c);
        if (rc) return rill__plan_error(p, rc, "restoring operator '%s': %s", op->name,
                                        rc == RILL_ECORRUPT ? "a key's record is corrupt" : rill_strerror(rc));
    }
    return evict_cold(p, false);
}
