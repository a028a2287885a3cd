/* operators/operator.c — what every window operator shares: set-up of the
 * base fields, emitting a record into the output batch, reporting a late
 * event. The output batch has one column per aggregate, named and typed as
 * its result, so a downstream operator can read it like any source.
 */
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
