/* operators/operator.c — what every window operator shares: set-up of the
 * base fields, emitting a record into the output batch, reporting a late
 * event, and the hot-key cache.
 *
 * The output batch has one column per aggregate, named and typed as its
 * result, so a downstream operator can read it like any source.
 *
 * Hot-key cache: an operator keeps its keys' state in memory and writes what
 * changed at each commit. With max_hot_keys set, right after a checkpoint
 * (when every key's record is current) keys not used since the clock hand
 * last passed are evicted until the budget holds: their memory is
 * released and only their key and the time they are due back (a window end)
 * stay, in a compact cold table with its own timers. An event for a cold
 * key, or the watermark reaching its due time, reads its record back from
 * the state. So state larger than memory works, at the price of one state
 * read per key brought back. When the checkpoint is written in the
 * background, the state may not hold an evicted key's record yet, so a copy
 * of it is parked in one buffer until that commit is written, and a key
 * brought back meanwhile is read from there.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/operator.h"

int rill__op_init(rill_op *op, const rill_op_methods *m, const char *name, rill_agg_set *aggs,
                  const rill_window_opts *o, char *err, size_t errlen) {
    op->m = m;
    op->win = o->window;
    op->emit = o->emit;
    op->lateness = o->allowed_lateness_ms;
    op->wm = RILL_TIME_MIN;
    if (rill__kt_init(&op->cold, sizeof(rill_cold_key)) != RILL_OK) {
        snprintf(err, errlen, "operator '%s': out of memory", name);
        return RILL_ENOMEM;
    }
    op->aggs = *aggs;
    memset(aggs, 0, sizeof *aggs); /* moved in */
    op->name = strdup(name);
    op->values = calloc(op->aggs.n ? op->aggs.n : 1, sizeof *op->values);
    rill_field *fields = calloc(op->aggs.n ? op->aggs.n : 1, sizeof *fields);
    if (!op->name || !op->values || !fields) goto fail_nomem;
    for (size_t i = 0; i < op->aggs.n; i++) {
        fields[i].name = op->aggs.aggs[i].name;
        fields[i].type = op->aggs.aggs[i].out_type;
    }
    rill_schema *s = rill_schema_new(fields, op->aggs.n);
    free(fields);
    fields = NULL;
    if (!s) goto fail_nomem;
    op->out = rill__batch_new_output(s, 256);
    rill_schema_free(s);
    if (!op->out) goto fail_nomem;
    return RILL_OK;
fail_nomem:
    free(fields);
    rill__op_fini(op);
    snprintf(err, errlen, "operator '%s': out of memory", name);
    return RILL_ENOMEM;
}

void rill__op_fini(rill_op *op) {
    free(op->dirty);
    op->dirty = NULL;
    rill__kt_free(&op->cold);
    rill__timers_free(&op->cold_timers);
    rill__buf_free(&op->parked.bytes);
    free(op->parked.spans);
    free(op->name);
    free(op->values);
    rill_batch_free(op->out);
    rill__agg_set_free(&op->aggs);
    op->name = NULL;
    op->values = NULL;
    op->out = NULL;
}

int rill__op_emit(rill_op *op, const void *key, size_t klen, uint64_t hash, int64_t start,
                  int64_t end, int64_t ts, const void *block, uint32_t flags,
                  const void *id, size_t idlen) {
    rill_batch *b = op->out;
    int rc = rill__batch_append_raw(b, ts, key, klen, hash);
    if (rc) return rc;
    size_t r = b->len - 1;
    b->win_start[r] = start;
    b->win_end[r] = end;
    b->flags[r] = (uint8_t)flags;
    if (idlen && (rc = rill__batch_arena_put(b, id, idlen, &b->id[r])) != RILL_OK) goto fail;
    rill__agg_block_result(&op->aggs, block, start, end, op->values);
    for (size_t i = 0; i < op->aggs.n; i++)
        if ((rc = rill_batch_set(b, i, op->values[i])) != RILL_OK) goto fail;
    op->emitted++;
    return RILL_OK;
fail:
    rill__batch_pop(b);
    return rc;
}

void rill__op_late(rill_op *op, const rill_op_input *in, size_t row, int64_t wm) {
    op->late++;
    if (!op->on_late) return;
    const rill_batch *b = in->b;
    rill_late_event e = {
        .op = op->name,
        .input = in->input_name,
        .ts = in->ts[row],
        .watermark = wm,
        .key = rill_batch_key(b, row),
        .id = rill_batch_id(b, row),
    };
    op->on_late(&e, op->late_user);
}

/* ---- the hot-key cache ---------------------------------------------------- */

/* Read cold key c back into the operator: from its parked copy if the
 * commit that holds its record is still being written, else from the state.
 * The cold entry goes first, while its slot is still in cache from the
 * lookup (a state read walks through megabytes); if the read fails the
 * plan stops, so the lost entry does not matter. */
static int fault_in(rill_op *op, uint32_t c) {
    const rill_kt_entry *e = rill__kt_entry(&op->cold, c);
    unsigned char key[RILL_KEY_ENC_MAX];
    size_t klen = e->klen;
    memcpy(key, rill__kt_key(e), klen);
    rill_cold_key ck = *(const rill_cold_key *)rill__kt_value(&op->cold, c);
    rill__kt_remove(&op->cold, c);
    int rc;
    if (op->parked.live && ck.parked_gen == op->parked.gen) {
        const struct rill_parked_span *sp = &op->parked.spans[ck.parked_span];
        rc = op->m->restore_key(op, key, klen, op->parked.bytes.data + sp->off, sp->len);
    } else {
        void *val = NULL;
        size_t vlen = 0;
        rc = rill__state_get(op->state, op->ns, key, klen, &val, &vlen);
        if (rc == RILL_OK) {
            rc = op->m->restore_key(op, key, klen, val, vlen);
            free(val);
        }
    }
    if (rc) {
        snprintf(op->errmsg, sizeof op->errmsg, "reading back an evicted key: %s",
                 rc == RILL_ENOT_FOUND ? "its record is missing from the state" : rill_strerror(rc));
        return rc == RILL_ENOT_FOUND ? RILL_ECORRUPT : rc;
    }
    op->faults++;
    return RILL_OK;
}

/* Keep a copy of key idx's record (its checkpoint is still being written):
 * *span is where. */
static int park_record(rill_op *op, uint32_t idx, uint32_t *span) {
    size_t need = op->m->record_size(op, idx);
    if (op->parked.n_spans == op->parked.spans_cap) {
        size_t cap = op->parked.spans_cap ? op->parked.spans_cap * 2 : 256;
        if (cap > UINT32_MAX) return RILL_ENOMEM;
        struct rill_parked_span *q = realloc(op->parked.spans, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        op->parked.spans = q;
        op->parked.spans_cap = cap;
    }
    rill_buf *b = &op->parked.bytes;
    if (rill__buf_reserve(b, need) != RILL_OK) return RILL_ENOMEM;
    op->m->record_encode(op, idx, b->data + b->len);
    *span = (uint32_t)op->parked.n_spans;
    op->parked.spans[op->parked.n_spans++] = (struct rill_parked_span){ b->len, need };
    b->len += need;
    return RILL_OK;
}

void rill__op_commit_written(rill_op *op) {
    op->parked.live = false;
    rill__buf_clear(&op->parked.bytes);
    op->parked.n_spans = 0;
}

int rill__op_advance(rill_op *op, int64_t wm) {
    rill_timer t;
    if (wm == RILL_TIME_MAX) /* end of input: every key has something to say */
        for (uint32_t c = 0; op->cold.count && c < op->cold.n_entries; c++)
            if (rill__kt_entry(&op->cold, c)->live) {
                int rc = fault_in(op, c);
                if (rc) return rc;
            }
    while (op->cold.count && rill__timers_pop_due(&op->cold_timers, wm, &t)) {
        rill_kt_entry *e = rill__kt_entry(&op->cold, t.key);
        if (!e->live || ((rill_cold_key *)rill__kt_value(&op->cold, t.key))->due != t.time) continue;
        int rc = fault_in(op, t.key);
        if (rc) return rc;
    }
    return op->m->advance(op, wm);
}

uint32_t rill__op_upsert(rill_op *op, const void *key, size_t klen, uint64_t hash, bool *created,
                         int *status) {
    *status = RILL_OK;
    if (op->cold.count) {
        uint32_t c = rill__kt_find(&op->cold, key, klen, hash);
        if (c != RILL_KT_NONE) {
            if ((*status = fault_in(op, c)) != RILL_OK) return RILL_KT_NONE;
            *created = false;
            uint32_t idx = rill__kt_find(op->kt, key, klen, hash);
            if (idx == RILL_KT_NONE) *status = RILL_ECORRUPT;
            return idx;
        }
    }
    uint32_t idx = rill__kt_upsert(op->kt, key, klen, hash, created);
    if (idx == RILL_KT_NONE) *status = RILL_ENOMEM;
    return idx;
}

int rill__op_evict(rill_op *op, bool park) {
    if (!op->max_hot_keys || op->kt->count <= op->max_hot_keys) return RILL_OK;
    if (park) { /* a new round: copies of an earlier one are void */
        rill__op_commit_written(op);
        op->parked.gen++;
        op->parked.live = true;
    }
    /* two turns of the clock at most: the first clears the used marks */
    size_t steps = 2 * op->kt->n_entries;
    while (op->kt->count > op->max_hot_keys && steps--) {
        if (op->clock_hand >= op->kt->n_entries) op->clock_hand = 0;
        uint32_t idx = (uint32_t)op->clock_hand++;
        /* the slot of a key a few steps on: removing it will not wait */
        if (op->clock_hand + 8 < op->kt->n_entries)
            rill__kt_prefetch_slot(op->kt, rill__kt_entry(op->kt, (uint32_t)op->clock_hand + 8)->hash);
        rill_kt_entry *e = rill__kt_entry(op->kt, idx);
        if (!e->live) continue;
        if (e->used) {
            e->used = 0;
            continue;
        }
        unsigned char key[RILL_KEY_ENC_MAX];
        size_t klen = e->klen;
        uint64_t hash = e->hash;
        memcpy(key, rill__kt_key(e), klen);
        assert(((rill_key_hdr *)rill__kt_value(op->kt, idx))->stored); /* only after a checkpoint */
        rill_cold_key ck = { .due = op->m->key_due(op, idx) };
        int rc;
        if (park) {
            if ((rc = park_record(op, idx, &ck.parked_span)) != RILL_OK) return rc;
            ck.parked_gen = op->parked.gen;
        }
        rill__op_drop_key(op, idx);
        bool created;
        uint32_t c = rill__kt_upsert(&op->cold, key, klen, hash, &created);
        if (c == RILL_KT_NONE) return RILL_ENOMEM;
        *(rill_cold_key *)rill__kt_value(&op->cold, c) = ck;
        if (ck.due != RILL_TIME_MAX && (rc = rill__timers_push(&op->cold_timers, ck.due, c)) != RILL_OK)
            return rc;
        op->evictions++;
    }
    return RILL_OK;
}

/* ---- dirty keys and checkpoints -------------------------------------------- */

int rill__op_restore_slot(rill_op *op, const void *key, size_t klen, uint32_t *idx) {
    bool created;
    *idx = rill__kt_upsert(op->kt, key, klen, rill__key_hash(key, klen), &created);
    if (*idx == RILL_KT_NONE) return RILL_ENOMEM;
    if (!created) return RILL_ECORRUPT;
    ((rill_key_hdr *)rill__kt_value(op->kt, *idx))->stored = 1;
    return RILL_OK;
}

/* Keys that came and went since the last checkpoint leave stale entries in
 * the dirty list (a plan that never commits would grow it without end):
 * keep one entry per live dirty key. */
static void compact_dirty(rill_op *op) {
    size_t n = 0;
    for (size_t d = 0; d < op->n_dirty; d++) {
        uint32_t idx = op->dirty[d];
        if (!rill__kt_entry(op->kt, idx)->live) continue;
        rill_key_hdr *h = rill__kt_value(op->kt, idx);
        if (h->dirty != 1) continue; /* clean, or already kept (2) */
        h->dirty = 2;
        op->dirty[n++] = idx;
    }
    for (size_t d = 0; d < n; d++) ((rill_key_hdr *)rill__kt_value(op->kt, op->dirty[d]))->dirty = 1;
    op->n_dirty = n;
}

int rill__op_mark_dirty(rill_op *op, uint32_t idx) {
    rill_key_hdr *h = rill__kt_value(op->kt, idx);
    if (h->dirty) return RILL_OK;
    if (op->n_dirty == op->dirty_cap && op->n_dirty > 2 * op->kt->count + 1024) compact_dirty(op);
    if (op->n_dirty == op->dirty_cap) {
        size_t cap = op->dirty_cap ? op->dirty_cap * 2 : 256;
        uint32_t *q = realloc(op->dirty, cap * sizeof *q);
        if (!q) return RILL_ENOMEM;
        op->dirty = q;
        op->dirty_cap = cap;
    }
    op->dirty[op->n_dirty++] = idx;
    h->dirty = 1;
    return RILL_OK;
}

void rill__op_drop_key(rill_op *op, uint32_t idx) {
    op->m->release_key(op, idx);
    rill__kt_remove(op->kt, idx);
}

int rill__op_checkpoint(rill_op *op, rill_state_batch *wb, uint32_t ns) {
    char *buf = NULL;
    size_t cap = 0;
    int rc = RILL_OK;
    /* An index can be listed twice when its key was dropped and the index
     * reused: writing the same record twice is harmless. */
    for (size_t d = 0; d < op->n_dirty && !rc; d++) {
        uint32_t idx = op->dirty[d];
        rill_kt_entry *e = rill__kt_entry(op->kt, idx);
        if (!e->live) continue;
        size_t need = op->m->record_size(op, idx);
        if (!need) {
            rc = rill__state_batch_delete(wb, ns, rill__kt_key(e), e->klen);
            continue;
        }
        if (need > cap) {
            char *q = realloc(buf, need);
            if (!q) {
                rc = RILL_ENOMEM;
                break;
            }
            buf = q;
            cap = need;
        }
        op->m->record_encode(op, idx, buf);
        rc = rill__state_batch_put(wb, ns, rill__kt_key(e), e->klen, buf, need);
    }
    free(buf);
    if (rc) return rc;
    /* the batch holds everything; now forget the bookkeeping */
    for (size_t d = 0; d < op->n_dirty; d++) {
        uint32_t idx = op->dirty[d];
        if (!rill__kt_entry(op->kt, idx)->live) continue;
        rill_key_hdr *h = rill__kt_value(op->kt, idx);
        h->dirty = 0;
        h->stored = 1;
        if (!op->m->record_size(op, idx)) rill__op_drop_key(op, idx);
    }
    op->n_dirty = 0;
    return RILL_OK;
}

void rill__op_fini_keyed(rill_op *op, rill_timer_heap *timers) {
    rill__op_release_keys(op);
    rill__kt_free(op->kt);
    rill__timers_free(timers);
    rill__op_fini(op);
}

void rill__op_release_keys(rill_op *op) {
    for (size_t i = 0; op->kt && i < op->kt->n_entries; i++)
        if (rill__kt_entry(op->kt, (uint32_t)i)->live) op->m->release_key(op, (uint32_t)i);
}
