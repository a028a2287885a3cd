/* engine/compile.c — validating a graph and building its plan.
 *
 * Every rule about how nodes fit together is checked here, before anything
 * runs, and each failure names the node and field at fault:
 *   names unique across sources, operators and sinks;   RILL_EDUP_NAME
 *   an operator has at least one input;                   RILL_ENO_INPUT
 *   inputs and sink targets exist (sinks: operators);     RILL_EUNKNOWN_NODE
 *   no cycles among operators;                            RILL_ECYCLE
 *   sizes, gaps and triggers positive, slide <= size;     RILL_EBAD_SIZE / RILL_EBAD_SLIDE
 *   aggregates: fields exist, are numeric where needed,
 *   output names unique and not those of a record's own
 *   entries (op, key, start, end, ts, id, update);                                  RILL_EUNKNOWN_FIELD /
 *                                                         RILL_EFIELD_TYPE / RILL_EBAD_AGG /
 *                                                         RILL_EDUP_NAME
 * The operator implementation is picked here, once, from the window kind
 * and emission mode. Feature vectors and models (extension nodes) get the
 * same input checks here; their build() method checks the rest.
 */
#include <stdio.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"

/* Spans beyond this (about 35 000 years in ms) are refused, which keeps all
 * window arithmetic on valid event times far from overflow. */
#define SPAN_MAX (INT64_C(1) << 50)

static graph_node *find_node(rill_graph *g, const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
    return NULL;
}

static const char *kind_word(node_kind k) {
    return k == NODE_SOURCE ? "source" : k == NODE_WINDOW || k == NODE_EXT ? "operator" : "sink";
}

/* Windows and extension nodes (feature vectors, models) are operators. */
static bool is_op(const graph_node *n) { return n->kind == NODE_WINDOW || n->kind == NODE_EXT; }

static int check_names(rill_graph *g) {
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->nodes[i].name, g->nodes[j].name))
                return rill__graph_error(g, RILL_EDUP_NAME, "%s '%s': the name is already used by a %s",
                                         kind_word(g->nodes[i].kind), g->nodes[i].name,
                                         kind_word(g->nodes[j].kind));
    return RILL_OK;
}

static int check_source(rill_graph *g, const graph_node *n) {
    const rill_source_opts *o = &n->sopts;
    if (o->max_out_of_orderness_ms < 0 || o->max_out_of_orderness_ms > SPAN_MAX)
        return rill__graph_error(g, RILL_EINVAL, "source '%s': max_out_of_orderness_ms must be in 0..2^50", n->name);
    if (o->idle_timeout_ms < 0)
        return rill__graph_error(g, RILL_EINVAL, "source '%s': idle_timeout_ms must not be negative", n->name);
    if (o->time != RILL_TIME_EVENT && o->time != RILL_TIME_PROCESSING)
        return rill__graph_error(g, RILL_EINVAL, "source '%s': unknown time mode %d", n->name, (int)o->time);
    return RILL_OK;
}

static int check_window(rill_graph *g, graph_node *n) {
    rill_window_spec *w = &n->wopts.window;
    const char *nm = n->name;
    switch (w->kind) {
    case RILL_WINDOW_TUMBLING:
        if (w->size_ms <= 0 || w->size_ms > SPAN_MAX)
            return rill__graph_error(g, RILL_EBAD_SIZE, "operator '%s': tumbling size %lld ms must be in 1..2^50",
                                     nm, (long long)w->size_ms);
        w->slide_ms = w->size_ms;
        break;
    case RILL_WINDOW_SLIDING:
        if (w->size_ms <= 0 || w->size_ms > SPAN_MAX)
            return rill__graph_error(g, RILL_EBAD_SIZE, "operator '%s': sliding size %lld ms must be in 1..2^50",
                                     nm, (long long)w->size_ms);
        if (w->slide_ms <= 0 || w->slide_ms > w->size_ms)
            return rill__graph_error(g, RILL_EBAD_SLIDE,
                                     "operator '%s': slide %lld ms must be positive and not larger than size %lld ms",
                                     nm, (long long)w->slide_ms, (long long)w->size_ms);
        break;
    case RILL_WINDOW_SESSION:
        if (w->gap_ms <= 0 || w->gap_ms > SPAN_MAX)
            return rill__graph_error(g, RILL_EBAD_SIZE, "operator '%s': session gap %lld ms must be in 1..2^50",
                                     nm, (long long)w->gap_ms);
        if (n->wopts.emit == RILL_EMIT_ON_EVENT) w->size_ms = w->gap_ms;
        break;
    case RILL_WINDOW_GLOBAL:
        if (w->trigger != RILL_TRIGGER_EVERY_EVENT && w->trigger != RILL_TRIGGER_EVERY_N &&
            w->trigger != RILL_TRIGGER_EVERY_MS)
            return rill__graph_error(g, RILL_EINVAL, "operator '%s': unknown trigger %d", nm, (int)w->trigger);
        if (w->trigger != RILL_TRIGGER_EVERY_EVENT && (w->trigger_every <= 0 || w->trigger_every > SPAN_MAX))
            return rill__graph_error(g, RILL_EBAD_SIZE, "operator '%s': trigger_every %lld must be in 1..2^50",
                                     nm, (long long)w->trigger_every);
        break;
    default:
        return rill__graph_error(g, RILL_EINVAL, "operator '%s': unknown window kind %d", nm, (int)w->kind);
    }
    if (w->kind == RILL_WINDOW_TUMBLING || w->kind == RILL_WINDOW_SLIDING) {
        if (w->offset_ms < -SPAN_MAX || w->offset_ms > SPAN_MAX)
            return rill__graph_error(g, RILL_EBAD_SIZE, "operator '%s': offset out of range", nm);
        w->offset_ms = ((w->offset_ms % w->slide_ms) + w->slide_ms) % w->slide_ms;
    }
    if (n->wopts.emit != RILL_EMIT_ON_CLOSE && n->wopts.emit != RILL_EMIT_ON_EVENT)
        return rill__graph_error(g, RILL_EINVAL, "operator '%s': unknown emission mode %d", nm, (int)n->wopts.emit);
    if (n->wopts.allowed_lateness_ms < 0 || n->wopts.allowed_lateness_ms > SPAN_MAX)
        return rill__graph_error(g, RILL_EINVAL, "operator '%s': allowed_lateness_ms must be in 0..2^50", nm);
    if (n->wopts.n_aggs == 0)
        return rill__graph_error(g, RILL_EBAD_AGG, "operator '%s': no aggregates", nm);
    /* output records carry these entries themselves (see the wire format) */
    static const char *const reserved[] = { "op", "key", "start", "end", "ts", "id", "update" };
    for (size_t a = 0; a < n->wopts.n_aggs; a++)
        for (size_t r = 0; n->aggs[a].name && r < sizeof reserved / sizeof reserved[0]; r++)
            if (!strcmp(n->aggs[a].name, reserved[r]))
                return rill__graph_error(g, RILL_EBAD_AGG, "operator '%s': aggregate output name '%s' is "
                                         "reserved (op, key, start, end, ts, id, update)", nm, reserved[r]);
    if (n->n_inputs == 0 || !n->inputs[0])
        return rill__graph_error(g, RILL_ENO_INPUT, "operator '%s' has no input", nm);
    for (size_t i = 0; i < n->n_inputs; i++) {
        graph_node *in = find_node(g, n->inputs[i]);
        if (!in || in->kind == NODE_SINK)
            return rill__graph_error(g, RILL_EUNKNOWN_NODE,
                                     "operator '%s': input '%s' is not a source or operator", nm, n->inputs[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(n->inputs[i], n->inputs[j]))
                return rill__graph_error(g, RILL_EDUP_NAME, "operator '%s': input '%s' is given twice", nm, n->inputs[i]);
    }
    return RILL_OK;
}

static int check_sink(rill_graph *g, const graph_node *n) {
    if (n->n_inputs == 0 || !n->inputs[0])
        return rill__graph_error(g, RILL_ENO_INPUT, "sink '%s' has no operator to read", n->name);
    graph_node *in = find_node(g, n->inputs[0]);
    if (!in || !is_op(in))
        return rill__graph_error(g, RILL_EUNKNOWN_NODE, "sink '%s': '%s' is not an operator", n->name, n->inputs[0]);
    return RILL_OK;
}

/* Operators in an order where each comes after its operator inputs (Kahn).
 * order[] receives node indices. */
static int topo_order(rill_graph *g, size_t *order, size_t *n_order) {
    size_t n = g->n, k = 0;
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    if (!indeg) return rill__graph_error(g, RILL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!is_op(&g->nodes[i])) continue;
        for (size_t j = 0; j < g->nodes[i].n_inputs; j++)
            indeg[i] += is_op(find_node(g, g->nodes[i].inputs[j]));
    }
    bool progress = true;
    bool *done = calloc(n ? n : 1, sizeof *done);
    if (!done) { free(indeg); return rill__graph_error(g, RILL_ENOMEM, "out of memory"); }
    while (progress) {
        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (!is_op(&g->nodes[i]) || done[i] || indeg[i]) continue;
            done[i] = true;
            order[k++] = i;
            progress = true;
            for (size_t c = 0; c < n; c++) { /* consumers of i */
                if (!is_op(&g->nodes[c])) continue;
                for (size_t j = 0; j < g->nodes[c].n_inputs; j++)
                    if (!strcmp(g->nodes[c].inputs[j], g->nodes[i].name)) indeg[c]--;
            }
        }
    }
    int rc = RILL_OK;
    for (size_t i = 0; i < n; i++)
        if (is_op(&g->nodes[i]) && !done[i]) {
            rc = rill__graph_error(g, RILL_ECYCLE, "operator '%s' is part of a cycle (it depends on its own output)",
                                   g->nodes[i].name);
            break;
        }
    free(indeg);
    free(done);
    *n_order = k;
    return rc;
}

/* Where the fields of each aggregate are in input schema s; the first input's
 * binding decides the types every other input must match. */
static int map_input(rill_graph *g, const graph_node *n, const rill_agg_set *set, const char *input,
                     const rill_schema *s, size_t *cols) {
    for (size_t a = 0; a < set->n; a++) {
        const rill_agg *ag = &set->aggs[a];
        cols[a] = SIZE_MAX;
        if (!ag->field || ag->in_type == RILL_NULL) continue;
        size_t idx;
        if (rill_schema_index(s, ag->field, &idx) != RILL_OK)
            return rill__graph_error(g, RILL_EUNKNOWN_FIELD, "operator '%s': aggregate '%s' reads field '%s', "
                                     "which input '%s' does not have", n->name, ag->name, ag->field, input);
        if (rill_schema_field(s, idx)->type != ag->in_type)
            return rill__graph_error(g, RILL_EFIELD_TYPE, "operator '%s': field '%s' is %s in input '%s' but %s "
                                     "in the first input", n->name, ag->field,
                                     rill_type_name(rill_schema_field(s, idx)->type), input,
                                     rill_type_name(ag->in_type));
        cols[a] = idx;
    }
    return RILL_OK;
}

static ssize_t plan_source_index(const rill_plan *p, const char *name) {
    for (size_t i = 0; i < p->n_sources; i++)
        if (!strcmp(p->sources[i].name, name)) return (ssize_t)i;
    return -1;
}

static ssize_t plan_op_index(const rill_plan *p, const char *name) {
    for (size_t i = 0; i < p->n_ops; i++)
        if (!strcmp(p->ops[i].op->name, name)) return (ssize_t)i;
    return -1;
}

/* Free what build_op allocated for an operator it could not finish. */
static void unbuild_op(plan_op *po) {
    for (size_t i = 0; po->inputs && i < po->n_inputs; i++) free(po->inputs[i].agg_cols);
    free(po->inputs);
    free(po->cols);
    memset(po, 0, sizeof *po);
}

static int build_op(rill_graph *g, rill_plan *p, graph_node *n) {
    plan_op *po = &p->ops[p->n_ops];
    memset(po, 0, sizeof *po);
    /* the schema the first input delivers */
    const rill_schema *first;
    ssize_t si = plan_source_index(p, n->inputs[0]);
    first = si >= 0 ? p->sources[si].schema : p->ops[plan_op_index(p, n->inputs[0])].op->out->schema;
    rill_agg_set set = { 0 };
    char err[400];
    int rc = rill__agg_set_bind(&set, n->aggs, n->wopts.n_aggs, first, err, sizeof err);
    if (rc) return rill__graph_error(g, rc, "operator '%s': %s", n->name, err);
    po->inputs = calloc(n->n_inputs, sizeof *po->inputs);
    po->cols = calloc(set.n, sizeof *po->cols);
    if (!po->inputs || !po->cols) {
        rc = rill__graph_error(g, RILL_ENOMEM, "out of memory");
        goto fail;
    }
    po->n_inputs = n->n_inputs;
    for (size_t i = 0; i < n->n_inputs; i++) {
        plan_input *pi = &po->inputs[i];
        si = plan_source_index(p, n->inputs[i]);
        pi->from_source = si >= 0;
        pi->index = si >= 0 ? (size_t)si : (size_t)plan_op_index(p, n->inputs[i]);
        const rill_schema *s = pi->from_source ? p->sources[pi->index].schema
                                               : p->ops[pi->index].op->out->schema;
        pi->agg_cols = calloc(set.n, sizeof *pi->agg_cols);
        if (!pi->agg_cols) {
            rc = rill__graph_error(g, RILL_ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = map_input(g, n, &set, n->inputs[i], s, pi->agg_cols)) != RILL_OK) goto fail;
    }
    const rill_window_opts *o = &n->wopts;
    if (o->window.kind == RILL_WINDOW_GLOBAL)
        rc = rill__op_new_global(n->name, &set, o, &po->op, err, sizeof err);
    else if (o->emit == RILL_EMIT_ON_EVENT)
        rc = rill__op_new_on_event(n->name, &set, o, &po->op, err, sizeof err);
    else if (o->window.kind == RILL_WINDOW_SESSION)
        rc = rill__op_new_session(n->name, &set, o, &po->op, err, sizeof err);
    else
        rc = rill__op_new_sliced(n->name, &set, o, &po->op, err, sizeof err);
    if (rc) {
        rill__graph_error(g, rc, "%s", err);
        goto fail;
    }
    rill__agg_set_free(&set); /* moved into the operator */
    po->op->on_late = g->on_late;
    po->op->late_user = g->late_user;
    p->n_ops++;
    return RILL_OK;
fail:
    rill__agg_set_free(&set);
    unbuild_op(po);
    return rc;
}

/* ---- extension nodes (feature vectors, models) ----------------------------- */

/* What every extension node needs; the rest is its build() method's. */
static int check_ext(rill_graph *g, const graph_node *n) {
    if (n->n_inputs == 0 || !n->inputs[0])
        return rill__graph_error(g, RILL_ENO_INPUT, "%s '%s' has no input", n->ext->kind, n->name);
    for (size_t i = 0; i < n->n_inputs; i++) {
        graph_node *in = find_node(g, n->inputs[i]);
        if (!in || in->kind == NODE_SINK)
            return rill__graph_error(g, RILL_EUNKNOWN_NODE, "%s '%s': input '%s' is not a source or operator",
                                     n->ext->kind, n->name, n->inputs[i] ? n->inputs[i] : "(null)");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(n->inputs[i], n->inputs[j]))
                return rill__graph_error(g, RILL_EDUP_NAME, "%s '%s': input '%s' is given twice", n->ext->kind,
                                         n->name, n->inputs[i]);
    }
    return RILL_OK;
}

static int build_ext_op(rill_graph *g, rill_plan *p, graph_node *n) {
    plan_op *po = &p->ops[p->n_ops];
    memset(po, 0, sizeof *po);
    rill__ext_input *in = calloc(n->n_inputs, sizeof *in);
    po->inputs = calloc(n->n_inputs, sizeof *po->inputs);
    if (!in || !po->inputs) {
        free(in);
        return rill__graph_error(g, RILL_ENOMEM, "out of memory");
    }
    po->n_inputs = n->n_inputs;
    for (size_t i = 0; i < n->n_inputs; i++) {
        plan_input *pi = &po->inputs[i];
        ssize_t si = plan_source_index(p, n->inputs[i]);
        pi->from_source = si >= 0;
        pi->index = si >= 0 ? (size_t)si : (size_t)plan_op_index(p, n->inputs[i]);
        in[i].name = n->inputs[i];
        in[i].is_source = pi->from_source;
        in[i].schema = pi->from_source ? p->sources[pi->index].schema : p->ops[pi->index].op->out->schema;
    }
    char err[400] = "";
    int rc = n->ext->build(n->ext_cfg, n->name, in, n->n_inputs, &po->op, err, sizeof err);
    free(in);
    if (rc) {
        free(po->inputs);
        po->inputs = NULL;
        return rill__graph_error(g, rc, "%s", err);
    }
    po->ext = n->ext;
    po->op->on_late = g->on_late;
    po->op->late_user = g->late_user;
    p->n_ops++;
    return RILL_OK;
}

int rill_graph_compile(rill_graph *g, const rill_plan_opts *opts, rill_plan **out) {
    if (!out) return RILL_EINVAL;
    *out = NULL;
    if (!g) return RILL_EINVAL;
    g->errmsg[0] = 0;
    int rc = check_names(g);
    for (size_t i = 0; !rc && i < g->n; i++) {
        graph_node *n = &g->nodes[i];
        rc = n->kind == NODE_SOURCE ? check_source(g, n)
           : n->kind == NODE_WINDOW ? check_window(g, n)
           : n->kind == NODE_EXT ? check_ext(g, n) : RILL_OK;
    }
    for (size_t i = 0; !rc && i < g->n; i++)
        if (g->nodes[i].kind == NODE_SINK) rc = check_sink(g, &g->nodes[i]);
    if (rc) return rc;
    size_t *order = calloc(g->n ? g->n : 1, sizeof *order);
    if (!order) return rill__graph_error(g, RILL_ENOMEM, "out of memory");
    size_t n_order = 0;
    if ((rc = topo_order(g, order, &n_order)) != RILL_OK) {
        free(order);
        return rc;
    }

    rill_plan *p = calloc(1, sizeof *p);
    if (!p) goto fail_nomem;
    p->sources = calloc(g->n ? g->n : 1, sizeof *p->sources);
    p->ops = calloc(g->n ? g->n : 1, sizeof *p->ops);
    if (!p->sources || !p->ops) goto fail_nomem;
    int64_t now = rill__now_ms();
    for (size_t i = 0; i < g->n; i++) {
        graph_node *n = &g->nodes[i];
        if (n->kind != NODE_SOURCE) continue;
        plan_source *ps = &p->sources[p->n_sources++];
        ps->name = strdup(n->name);
        ps->schema = rill__schema_dup(n->schema);
        ps->opts = n->sopts;
        ps->wm = RILL_TIME_MIN;
        ps->last_push_ms = now;
        if (!ps->name || !ps->schema) goto fail_nomem;
    }
    for (size_t k = 0; k < n_order; k++) {
        graph_node *n = &g->nodes[order[k]];
        rc = n->kind == NODE_EXT ? build_ext_op(g, p, n) : build_op(g, p, n);
        if (rc != RILL_OK) goto fail;
    }
    for (size_t i = 0; i < g->n; i++) {
        graph_node *n = &g->nodes[i];
        if (n->kind != NODE_SINK) continue;
        plan_op *po = &p->ops[plan_op_index(p, n->inputs[0])];
        plan_sink *q = realloc(po->sinks, (po->n_sinks + 1) * sizeof *q);
        if (!q) goto fail_nomem;
        po->sinks = q;
        po->sinks[po->n_sinks++] = (plan_sink){ n->fn, n->user };
    }
    p->fingerprint = rill__graph_fingerprint(g);
    if (!p->fingerprint) goto fail_nomem;
    p->discard_mismatch = opts && opts->discard_mismatched_state;
    if (opts && opts->state) {
        p->state = opts->state;
    } else {
        if ((rc = rill_state_open_memory(&p->state)) != RILL_OK) {
            rill__graph_error(g, rc, "cannot open an in-memory state");
            goto fail;
        }
        p->own_state = true;
    }
    for (size_t i = 0; i < p->n_ops; i++) {
        p->ops[i].op->state = p->state;
        p->ops[i].op->max_hot_keys = opts ? opts->max_hot_keys : 0;
    }
    if ((rc = rill__state_ns_open(p->state, "rill.plan", &p->meta_ns)) != RILL_OK) {
        rill__graph_error(g, rc, "state: %s", rill_state_errmsg(p->state));
        goto fail;
    }
    for (size_t i = 0; i < p->n_ops; i++) {
        char ns[600];
        snprintf(ns, sizeof ns, "op:%s", p->ops[i].op->name);
        if ((rc = rill__state_ns_open(p->state, ns, &p->ops[i].ns)) == RILL_OK) p->ops[i].op->ns = p->ops[i].ns;
        if (rc != RILL_OK) {
            rill__graph_error(g, rc, "state: %s", rill_state_errmsg(p->state));
            goto fail;
        }
    }
    if ((rc = rill__plan_restore(p)) != RILL_OK) {
        rill__graph_error(g, rc, "%s", p->errmsg);
        goto fail;
    }
    free(order);
    *out = p;
    return RILL_OK;
fail_nomem:
    rc = rill__graph_error(g, RILL_ENOMEM, "out of memory compiling the graph");
fail:
    free(order);
    rill_plan_free(p);
    return rc;
}
