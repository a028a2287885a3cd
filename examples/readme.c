#include <stdio.h>
#include <rill/rill.h>

static void print(const rill_record *r, void *user) {
    (void)user;
    printf("%s key=%lld [%lld, %lld) n=%lld\n", r->op, (long long)r->key.as.i64,
           (long long)r->start, (long long)r->end, (long long)r->values[0].as.i64);
}

int main(void) {
    rill_field fields[] = { { "amount", RILL_F64 } };
    rill_schema *schema = rill_schema_new(fields, 1);
    rill_graph *g = rill_graph_new();
    rill_source_opts src = { .max_out_of_orderness_ms = 1000 };
    rill_graph_source(g, "tx", schema, &src);

    rill_agg_spec aggs[] = {
        { RILL_AGG_COUNT, NULL, "n", 0 },
        { RILL_AGG_SUM, "amount", "total", 0 },
    };
    rill_window_opts w = { .window = rill_tumbling(60000), .aggs = aggs, .n_aggs = 2 };
    rill_graph_window(g, "per_minute", "tx", &w);
    rill_graph_sink(g, "print", "per_minute", print, NULL);

    rill_plan *plan;
    if (rill_graph_compile(g, NULL, &plan) != RILL_OK) {
        fprintf(stderr, "%s\n", rill_graph_errmsg(g));
        return 1;
    }
    rill_batch *b = rill_batch_new(schema, 1024);
    for (int i = 0; i < 1000; i++) {
        rill_batch_append(b, 1700000000000 + i * 250, rill_i64(i % 10)); /* ts, key */
        rill_batch_set_f64(b, 0, i * 0.5);                                /* amount */
    }
    rill_plan_push(plan, "tx", b);   /* windows fire as the watermark passes them */
    rill_plan_flush(plan);           /* end of input: fire everything still open */
    rill_batch_free(b);
    rill_plan_free(plan);
    rill_graph_free(g);
    rill_schema_free(schema);
    return 0;
}
