/* examples/quickstart.c — per-card features from a stream of transactions:
 * a tumbling 1-minute count/sum/mean/max, "count in the last 5 minutes" as
 * of every event, and an operator reading another's output (the busiest
 * minute of each hour). Prints every record, then exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <rill/rill.h>

#define CHECK(call) do { int rc_ = (call); if (rc_ != RILL_OK) { \
    fprintf(stderr, "%s: %s\n", #call, rill_strerror(rc_)); exit(1); } } while (0)

static void print(const rill_record *r, void *user) {
    (void)user;
    printf("%-10s %.*s [%lld, %lld)", r->op, (int)r->key.as.str.len, r->key.as.str.ptr,
           (long long)r->start, (long long)r->end);
    for (size_t i = 0; i < r->n_values; i++) {
        rill_value v = r->values[i];
        if (v.type == RILL_I64) printf(" %s=%lld", r->names[i], (long long)v.as.i64);
        else if (v.type == RILL_F64) printf(" %s=%.2f", r->names[i], v.as.f64);
        else printf(" %s=null", r->names[i]);
    }
    printf("\n");
}

int main(void) {
    rill_field fields[] = { { "amount", RILL_F64 }, { "merchant", RILL_STRING } };
    rill_schema *schema = rill_schema_new(fields, 2);
    rill_graph *g = rill_graph_new();
    rill_source_opts src = { .max_out_of_orderness_ms = 5000 };
    CHECK(rill_graph_source(g, "tx", schema, &src));

    rill_agg_spec minute[] = {
        { RILL_AGG_COUNT, NULL, "n", 0 },        { RILL_AGG_SUM, "amount", "total", 0 },
        { RILL_AGG_MEAN, "amount", "mean", 0 },  { RILL_AGG_MAX, "amount", "max", 0 },
    };
    rill_window_opts w1 = { .window = rill_tumbling(60000), .aggs = minute, .n_aggs = 4 };
    CHECK(rill_graph_window(g, "per_minute", "tx", &w1));

    rill_agg_spec recent[] = { { RILL_AGG_COUNT, NULL, "n_5min", 0 } };
    rill_window_opts w2 = { .window = rill_sliding(300000, 60000), .aggs = recent, .n_aggs = 1,
                            .emit = RILL_EMIT_ON_EVENT };
    CHECK(rill_graph_window(g, "last_5min", "tx", &w2));

    rill_agg_spec hour[] = { { RILL_AGG_MAX, "total", "busiest_minute", 0 } };
    rill_window_opts w3 = { .window = rill_tumbling(3600000), .aggs = hour, .n_aggs = 1 };
    CHECK(rill_graph_window(g, "per_hour", "per_minute", &w3)); /* reads per_minute's records */

    CHECK(rill_graph_sink(g, "print_minute", "per_minute", print, NULL));
    CHECK(rill_graph_sink(g, "print_5min", "last_5min", print, NULL));
    CHECK(rill_graph_sink(g, "print_hour", "per_hour", print, NULL));
    rill_plan *plan;
    if (rill_graph_compile(g, NULL, &plan) != RILL_OK) {
        fprintf(stderr, "compile: %s\n", rill_graph_errmsg(g));
        return 1;
    }

    static const char *cards[] = { "card-1", "card-2", "card-3" };
    static const char *shops[] = { "grocer", "books", "fuel", "cafe" };
    rill_batch *b = rill_batch_new(schema, 64);
    int64_t t = 1700000040000; /* a minute boundary */
    for (int batch = 0; batch < 3; batch++) {            /* three micro-batches ... */
        for (int i = 0; i < 10; i++, t += 7000) {         /* ... of 10 events, 7 s apart */
            CHECK(rill_batch_append(b, t, rill_str(cards[(i * i + batch) % 3])));
            CHECK(rill_batch_set_f64(b, 0, 5.0 + (i * 7 + batch * 3) % 40));
            CHECK(rill_batch_set(b, 1, rill_str(shops[i % 4])));
        }
        CHECK(rill_plan_push(plan, "tx", b)); /* windows fire as the watermark passes them */
        rill_batch_clear(b);
    }
    CHECK(rill_plan_flush(plan)); /* end of input: every open window fires */
    rill_batch_free(b);
    rill_plan_free(plan);
    rill_graph_free(g);
    rill_schema_free(schema);
    return 0;
}
