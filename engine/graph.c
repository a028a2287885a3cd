/* engine/graph.c — recording a graph: sources, window operators, sinks.
 *
 * Adding a node copies what it is given and checks only what cannot wait
 * (NULL pointers, allocation). Everything about how nodes fit together is
 * checked by rill_graph_compile(), so a user sees all graph errors in one
 * place, each naming the node and field at fault.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/graph.h"

int rill__graph_error(rill_graph *g, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

rill_graph *rill_graph_new(void) { return calloc(1, sizeof(rill_graph)); }

static void node_free(graph_node *n) {
    free(n->name);
    rill_schema_free(n->schema);
    for (size_t i = 0; i < n->wopts.n_aggs; i++) {
        free((char *)n->aggs[i].field);
        free((char *)n->aggs[i].name);
    }
    free(n->aggs);
    for (size_t i = 0; i < n->n_inputs; i++) free(n->inputs[i]);
    free(n->inputs);
    if (n->ext && n->ext_cfg) n->ext->free_cfg(n->ext_cfg);
}

void rill_graph_free(rill_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) node_free(&g->nodes[i]);
    free(g->nodes);
    free(g);
}

const char *rill_graph_errmsg(const rill_graph *g) { return g ? g->errmsg : "no graph"; }

static char *dup_or_null(const char *s, bool *fail) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = true;
    return d;
}

/* A new zeroed node with its name in *out; RILL_EINVAL or RILL_ENOMEM
 * (message set, graph unchanged) on failure. */
static int node_add(rill_graph *g, node_kind kind, const char *name, graph_node **out) {
    if (!name || !name[0]) return rill__graph_error(g, RILL_EINVAL, "a node needs a non-empty name");
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        graph_node *q = realloc(g->nodes, cap * sizeof *q);
        if (!q) goto fail_nomem;
        g->nodes = q;
        g->cap = cap;
    }
    graph_node *n = &g->nodes[g->n];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->name = strdup(name);
    if (!n->name) goto fail_nomem;
    g->n++;
    *out = n;
    return RILL_OK;
fail_nomem:
    return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name);
}

int rill_graph_source(rill_graph *g, const char *name, const rill_schema *s,
                      const rill_source_opts *opts) {
    if (!g) return RILL_EINVAL;
    if (!s) return rill__graph_error(g, RILL_EINVAL, "source '%s': schema is NULL", name ? name : "?");
    graph_node *n;
    int rc = node_add(g, NODE_SOURCE, name, &n);
    if (rc) return rc;
    n->schema = rill__schema_dup(s);
    if (!n->schema) {
        node_free(n);
        g->n--;
        return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name);
    }
    if (opts) n->sopts = *opts;
    return RILL_OK;
}

int rill_graph_window(rill_graph *g, const char *name, const char *input,
                      const rill_window_opts *opts) {
    if (!g) return RILL_EINVAL;
    if (!opts) return rill__graph_error(g, RILL_EINVAL, "operator '%s': options are NULL", name ? name : "?");
    if (opts->n_aggs && !opts->aggs)
        return rill__graph_error(g, RILL_EINVAL, "operator '%s': aggs is NULL", name ? name : "?");
    graph_node *n;
    int rc = node_add(g, NODE_WINDOW, name, &n);
    if (rc) return rc;
    bool fail;
    n->wopts = *opts;
    n->aggs = calloc(opts->n_aggs ? opts->n_aggs : 1, sizeof *n->aggs);
    n->inputs = calloc(1, sizeof *n->inputs);
    fail = !n->aggs || !n->inputs;
    n->wopts.n_aggs = fail ? 0 : opts->n_aggs;
    for (size_t i = 0; !fail && i < opts->n_aggs; i++) {
        n->aggs[i] = opts->aggs[i];
        n->aggs[i].field = dup_or_null(opts->aggs[i].field, &fail);
        n->aggs[i].name = dup_or_null(opts->aggs[i].name, &fail);
    }
    n->wopts.aggs = n->aggs;
    if (!fail && input) {
        n->inputs[0] = dup_or_null(input, &fail);
        n->n_inputs = 1;
    }
    if (fail) {
        node_free(n);
        g->n--;
        return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name);
    }
    return RILL_OK;
}

int rill_graph_add_input(rill_graph *g, const char *op, const char *input) {
    if (!g) return RILL_EINVAL;
    if (!op || !input) return rill__graph_error(g, RILL_EINVAL, "add_input: NULL name");
    for (size_t i = 0; i < g->n; i++) {
        graph_node *n = &g->nodes[i];
        if (n->kind != NODE_WINDOW || strcmp(n->name, op)) continue;
        char **q = realloc(n->inputs, (n->n_inputs + 1) * sizeof *q);
        if (!q) return rill__graph_error(g, RILL_ENOMEM, "out of memory");
        n->inputs = q;
        if (!(n->inputs[n->n_inputs] = strdup(input)))
            return rill__graph_error(g, RILL_ENOMEM, "out of memory");
        n->n_inputs++;
        return RILL_OK;
    }
    return rill__graph_error(g, RILL_EUNKNOWN_NODE, "add_input: no operator named '%s'", op);
}

int rill_graph_sink(rill_graph *g, const char *name, const char *op, rill_sink_fn fn, void *user) {
    if (!g) return RILL_EINVAL;
    if (!fn) return rill__graph_error(g, RILL_EINVAL, "sink '%s': callback is NULL", name ? name : "?");
    graph_node *n;
    int rc = node_add(g, NODE_SINK, name, &n);
    if (rc) return rc;
    bool fail = false;
    n->inputs = calloc(1, sizeof *n->inputs);
    if (n->inputs && op) {
        n->inputs[0] = dup_or_null(op, &fail);
        n->n_inputs = 1;
    }
    if (!n->inputs || fail) {
        node_free(n);
        g->n--;
        return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name);
    }
    n->fn = fn;
    n->user = user;
    return RILL_OK;
}

/* ---- extension nodes (feature vectors, models: engine/graph_learn.c) ------ */

int rill__graph_add_ext(rill_graph *g, const char *name, const rill__ext_methods *m, void *cfg,
                        const char *const *inputs, size_t n_inputs) {
    graph_node *n;
    int rc = node_add(g, NODE_EXT, name, &n);
    if (rc) {
        m->free_cfg(cfg);
        return rc;
    }
    n->ext = m;
    n->ext_cfg = cfg;
    bool fail = !(n->inputs = calloc(n_inputs ? n_inputs : 1, sizeof *n->inputs));
    for (size_t i = 0; !fail && i < n_inputs; i++) {
        n->inputs[i] = dup_or_null(inputs[i], &fail);
        n->n_inputs = i + 1;
    }
    if (fail) {
        node_free(n);
        g->n--;
        return rill__graph_error(g, RILL_ENOMEM, "out of memory adding '%s'", name);
    }
    return RILL_OK;
}

int rill_graph_on_late(rill_graph *g, rill_late_fn fn, void *user) {
    if (!g) return RILL_EINVAL;
    g->on_late = fn;
    g->late_user = user;
    return RILL_OK;
}

/* Feature vectors and models are operators too: they emit records. */
static bool emits_records(const graph_node *n) { return n->kind == NODE_WINDOW || n->kind == NODE_EXT; }

size_t rill_graph_op_count(const rill_graph *g) {
    size_t c = 0;
    for (size_t i = 0; i < g->n; i++) c += emits_records(&g->nodes[i]);
    return c;
}

const char *rill_graph_op_name(const rill_graph *g, size_t i) {
    for (size_t j = 0; j < g->n; j++)
        if (emits_records(&g->nodes[j]) && i-- == 0) return g->nodes[j].name;
    return NULL;
}

int rill_graph_source_info(const rill_graph *g, const char *name, const rill_schema **schema,
                           rill_source_opts *opts) {
    for (size_t i = 0; g && name && i < g->n; i++) {
        const graph_node *n = &g->nodes[i];
        if (n->kind != NODE_SOURCE || strcmp(n->name, name)) continue;
        if (schema) *schema = n->schema;
        if (opts) *opts = n->sopts;
        return RILL_OK;
    }
    return RILL_EUNKNOWN_NODE;
}

/* ---- fingerprint ---------------------------------------------------------- */

typedef struct strbuf { char *p; size_t len, cap; bool fail; } strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) {
    if (b->fail) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) { b->fail = true; return; }
        if ((size_t)n < b->cap - b->len) { b->len += (size_t)n; return; }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->fail = true; return; }
        b->p = q;
        b->cap = cap;
    }
}

char *rill__graph_fingerprint(const rill_graph *g) {
    strbuf b = { malloc(256), 0, 256, false };
    if (!b.p) return NULL;
    b.p[0] = 0;
    sb_printf(&b, "rill-graph 1\n");
    for (size_t i = 0; i < g->n; i++) {
        const graph_node *n = &g->nodes[i];
        if (n->kind == NODE_SOURCE) {
            sb_printf(&b, "source %s bound=%lld time=%d schema=", n->name,
                      (long long)n->sopts.max_out_of_orderness_ms, (int)n->sopts.time);
            for (size_t f = 0; f < rill_schema_len(n->schema); f++)
                sb_printf(&b, "%s:%s,", rill_schema_field(n->schema, f)->name,
                          rill_type_name(rill_schema_field(n->schema, f)->type));
            sb_printf(&b, "\n");
        } else if (n->kind == NODE_WINDOW) {
            const rill_window_spec *w = &n->wopts.window;
            sb_printf(&b, "operator %s window=%d size=%lld slide=%lld offset=%lld gap=%lld "
                          "trigger=%d/%lld emit=%d lateness=%lld inputs=",
                      n->name, (int)w->kind, (long long)w->size_ms, (long long)w->slide_ms,
                      (long long)w->offset_ms, (long long)w->gap_ms, (int)w->trigger,
                      (long long)w->trigger_every, (int)n->wopts.emit,
                      (long long)n->wopts.allowed_lateness_ms);
            for (size_t j = 0; j < n->n_inputs; j++) sb_printf(&b, "%s,", n->inputs[j] ? n->inputs[j] : "");
            sb_printf(&b, " aggs=");
            for (size_t a = 0; a < n->wopts.n_aggs; a++)
                sb_printf(&b, "%s:%s(%s;%u),", n->aggs[a].name ? n->aggs[a].name : "",
                          rill_agg_kind_name(n->aggs[a].kind),
                          n->aggs[a].field ? n->aggs[a].field : "", n->aggs[a].param);
            sb_printf(&b, "\n");
        } else if (n->kind == NODE_EXT) {
            /* "operator <name> " first: discarding old state finds it so */
            char *d = n->ext->describe(n->ext_cfg);
            if (!d) b.fail = true;
            sb_printf(&b, "operator %s kind=%s inputs=", n->name, n->ext->kind);
            for (size_t j = 0; j < n->n_inputs; j++) sb_printf(&b, "%s,", n->inputs[j] ? n->inputs[j] : "");
            sb_printf(&b, " %s\n", d ? d : "");
            free(d);
        }
    }
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
