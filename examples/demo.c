/* examples/demo.c — the main demo (`make demo`): a synthetic stream of card
 * transactions through every window kind, with a readable summary.
 *
 * The stream: 2 000 000 transactions of 10 000 cards over a day of event
 * time, from a fixed seed, so every run prints the same records. Cards shop
 * in bursts (a few transactions some seconds apart, then nothing for a
 * while), amounts are log-normal, each card lives in one of 8 countries and
 * buys from that country's merchants. 5 % of the events arrive out of order
 * within the source's 2 s bound, 0.08 % behind the watermark but within the
 * operators' 5 s allowed lateness (windows fire again, flagged as updates),
 * and 0.02 % minutes late (they go to the late output).
 *
 * The graph, keyed by card (source "tx": amount f64, merchant string):
 *   per_minute     tumbling 1 min         count, sum, mean of amount
 *   trailing_10m   sliding 10 min / 1 min max and stddev of amount
 *   visits         session, gap 30 s      count, sum of amount
 * and keyed by country (source "tx_by_country", the same events re-keyed):
 *   merchants      global, every 1000 events of a country: distinct
 *                  merchants (HyperLogLog), shown next to the exact count.
 *
 * Everything runs in memory through the public API (no sockets, no disk).
 * A progress line goes to stderr when it is a terminal.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rill/rill.h"

#define N_EVENTS 2000000
#define N_CARDS 10000
#define N_COUNTRIES 8
#define BATCH 4096
#define T_START INT64_C(1700006400000) /* 2023-11-15 00:00:00 UTC */
#define SPAN_MS (INT64_C(24) * 3600 * 1000)
#define SAMPLE_CARD 4242
#define MAX_SAMPLES 3

#define CHECK(call) do { int rc_ = (call); if (rc_ != RILL_OK) { \
    fprintf(stderr, "demo: %s failed: %s\n", #call, rill_strerror(rc_)); exit(2); } } while (0)

static const char *const s_country[N_COUNTRIES] = { "DE", "FR", "ES", "IT", "NL", "PL", "SE", "US" };

/* ---- random numbers (splitmix64): a fixed seed, the same stream each run -- */

static uint64_t s_rng = 42;
static uint64_t rnd(void) {
    uint64_t z = (s_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static double normal(void) { return sqrt(-2.0 * log(1.0 - unit())) * cos(6.283185307179586 * unit()); }

/* ---- what the sinks collect ------------------------------------------------ */

typedef struct op_tally {
    const char *name, *what;
    uint64_t records, updates;
    char samples[MAX_SAMPLES][160]; /* the first records of SAMPLE_CARD */
    int n_samples;
} op_tally;

typedef struct demo {
    op_tally ops[4];
    uint64_t late, late_shown;
    char late_example[160];
    int64_t hll[N_COUNTRIES];          /* newest distinct estimate per country */
    uint64_t hll_records;
    unsigned char *seen;                /* exact: merchant seen in country? */
    uint32_t n_merchants[N_COUNTRIES];
} demo;

/* UTC time of day of ms (with the date when date is set). */
static void fmt_time_of(int64_t ms, bool date, char *out, size_t len) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, len, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
}
static void fmt_time(int64_t ms, char *out, size_t len) { fmt_time_of(ms, false, out, len); }

static void on_record(const rill_record *r, void *user) {
    op_tally *t = user;
    t->records++;
    if (r->flags & RILL_RECORD_UPDATE) t->updates++;
    if (r->key.type != RILL_I64 || r->key.as.i64 != SAMPLE_CARD || t->n_samples == MAX_SAMPLES) return;
    char a[16], b[16], *p = t->samples[t->n_samples++];
    size_t left = sizeof t->samples[0];
    fmt_time(r->start, a, sizeof a);
    fmt_time(r->end, b, sizeof b);
    int n = snprintf(p, left, "[%s, %s)", a, b);
    for (size_t i = 0; i < r->n_values && n > 0 && (size_t)n < left; i++) {
        rill_value v = r->values[i];
        if (v.type == RILL_I64) n += snprintf(p + n, left - (size_t)n, "  %s=%" PRId64, r->names[i], v.as.i64);
        else if (v.type == RILL_F64) n += snprintf(p + n, left - (size_t)n, "  %s=%.2f", r->names[i], v.as.f64);
        else n += snprintf(p + n, left - (size_t)n, "  %s=null", r->names[i]);
    }
}

static void on_country(const rill_record *r, void *user) {
    demo *d = user;
    d->ops[3].records++;
    d->hll_records++;
    for (int c = 0; c < N_COUNTRIES; c++)
        if (r->key.as.str.len == 2 && !memcmp(r->key.as.str.ptr, s_country[c], 2))
            d->hll[c] = r->values[0].as.i64;
}

static void on_late(const rill_late_event *e, void *user) {
    demo *d = user;
    d->late++;
    if (d->late_shown++) return;
    char a[32], b[32];
    fmt_time_of(e->ts, true, a, sizeof a);
    fmt_time_of(e->watermark, true, b, sizeof b);
    snprintf(d->late_example, sizeof d->late_example, "%s: card %" PRId64 " at %s, watermark %s",
             e->op, e->key.type == RILL_I64 ? e->key.as.i64 : -1, a, b);
}

/* ---- the stream ------------------------------------------------------------ */

/* Cards shop in bursts: most events come from a ring of recently active
 * cards; now and then a random card takes a ring slot (a new burst). */
#define RING 256
typedef struct gen {
    int64_t clock;
    int ring[RING];
    uint64_t out_of_order, slightly_late, late;
} gen;

typedef struct event { int64_t ts; int card; double amount; int country; uint32_t merchant; } event;

static void next_event(gen *g, demo *d, event *e) {
    g->clock += 1 + (int64_t)(rnd() % (uint64_t)(2 * SPAN_MS / N_EVENTS));
    int slot = (int)(rnd() % RING);
    if (unit() < 0.2) g->ring[slot] = (int)(rnd() % N_CARDS);
    e->card = g->ring[slot];
    e->country = e->card % N_COUNTRIES;
    e->amount = round(100.0 * exp(3.0 + 0.9 * normal())) / 100.0;
    /* popular merchants first: index = n * u^2 */
    double u = unit();
    e->merchant = (uint32_t)(u * u * d->n_merchants[e->country]);
    double x = unit();
    e->ts = g->clock;
    if (x < 0.0002) {
        e->ts -= 90000 + (int64_t)(rnd() % 1110000); /* 1.5 to 20 min behind */
        g->late++;
    } else if (x < 0.001) {
        e->ts -= 2001 + (int64_t)(rnd() % 5000); /* behind the watermark, within lateness */
        g->slightly_late++;
    } else if (x < 0.051) {
        e->ts -= (int64_t)(rnd() % 2000); /* out of order, within the bound */
        g->out_of_order++;
    }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    static demo d;
    d.ops[0] = (op_tally){ .name = "per_minute", .what = "tumbling 1 min" };
    d.ops[1] = (op_tally){ .name = "trailing_10m", .what = "sliding 10 min / 1 min" };
    d.ops[2] = (op_tally){ .name = "visits", .what = "session, gap 30 s" };
    d.ops[3] = (op_tally){ .name = "merchants", .what = "global, every 1000 events" };
    for (int c = 0; c < N_COUNTRIES; c++) d.n_merchants[c] = 1000u * (uint32_t)(c + 1);
    d.seen = calloc(N_COUNTRIES * 8000, 1);
    /* merchant names: "<country>-<index>" */
    char (*mname)[16] = malloc(sizeof *mname * N_COUNTRIES * 8000);
    if (!d.seen || !mname) return 2;
    for (int c = 0; c < N_COUNTRIES; c++)
        for (uint32_t m = 0; m < d.n_merchants[c]; m++)
            snprintf(mname[c * 8000 + m], 16, "%s-%05u", s_country[c], m);

    /* ---- the graph ---- */
    rill_field tx_fields[] = { { "amount", RILL_F64 }, { "merchant", RILL_STRING } };
    rill_field by_country_fields[] = { { "merchant", RILL_STRING } };
    rill_schema *tx = rill_schema_new(tx_fields, 2), *bc = rill_schema_new(by_country_fields, 1);
    rill_graph *g = rill_graph_new();
    if (!tx || !bc || !g) return 2;
    rill_source_opts src = { .max_out_of_orderness_ms = 2000 };
    CHECK(rill_graph_source(g, "tx", tx, &src));
    CHECK(rill_graph_source(g, "tx_by_country", bc, &src));

    rill_agg_spec minute[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "sum", 0 },
                               { RILL_AGG_MEAN, "amount", "mean", 0 } };
    rill_agg_spec trailing[] = { { RILL_AGG_MAX, "amount", "max", 0 },
                                 { RILL_AGG_STDDEV, "amount", "stddev", 0 } };
    rill_agg_spec visit[] = { { RILL_AGG_COUNT, NULL, "n", 0 }, { RILL_AGG_SUM, "amount", "spent", 0 } };
    rill_agg_spec merch[] = { { RILL_AGG_DISTINCT, "merchant", "distinct_merchants", 12 } };
    rill_window_opts w[4] = {
        { .window = rill_tumbling(60000), .aggs = minute, .n_aggs = 3, .allowed_lateness_ms = 5000 },
        { .window = rill_sliding(600000, 60000), .aggs = trailing, .n_aggs = 2, .allowed_lateness_ms = 5000 },
        { .window = rill_session(30000), .aggs = visit, .n_aggs = 2, .allowed_lateness_ms = 5000 },
        { .window = rill_global(RILL_TRIGGER_EVERY_N, 1000), .aggs = merch, .n_aggs = 1 },
    };
    for (int i = 0; i < 3; i++) {
        CHECK(rill_graph_window(g, d.ops[i].name, "tx", &w[i]));
        char sink[32];
        snprintf(sink, sizeof sink, "%s_out", d.ops[i].name);
        CHECK(rill_graph_sink(g, sink, d.ops[i].name, on_record, &d.ops[i]));
    }
    CHECK(rill_graph_window(g, "merchants", "tx_by_country", &w[3]));
    CHECK(rill_graph_sink(g, "merchants_out", "merchants", on_country, &d));
    CHECK(rill_graph_on_late(g, on_late, &d));
    rill_plan *plan;
    if (rill_graph_compile(g, NULL, &plan) != RILL_OK) {
        fprintf(stderr, "demo: %s\n", rill_graph_errmsg(g));
        return 2;
    }

    /* ---- run ---- */
    rill_batch *b1 = rill_batch_new(tx, BATCH), *b2 = rill_batch_new(bc, BATCH);
    if (!b1 || !b2) return 2;
    gen gs = { .clock = T_START };
    for (int i = 0; i < RING; i++) gs.ring[i] = (int)(rnd() % N_CARDS);
    const bool progress = isatty(STDERR_FILENO);
    double t0 = now_s(), engine = 0, last_progress = t0;
    for (long done = 0; done < N_EVENTS;) {
        rill_batch_clear(b1);
        rill_batch_clear(b2);
        for (int i = 0; i < BATCH && done < N_EVENTS; i++, done++) {
            event e;
            next_event(&gs, &d, &e);
            const char *m = mname[e.country * 8000 + e.merchant];
            d.seen[e.country * 8000 + e.merchant] = 1;
            CHECK(rill_batch_append(b1, e.ts, rill_i64(e.card)));
            CHECK(rill_batch_set_f64(b1, 0, e.amount));
            CHECK(rill_batch_set(b1, 1, rill_str(m)));
            CHECK(rill_batch_append(b2, e.ts, rill_strn(s_country[e.country], 2)));
            CHECK(rill_batch_set(b2, 0, rill_str(m)));
        }
        double s = now_s();
        if (rill_plan_push(plan, "tx", b1) != RILL_OK || rill_plan_push(plan, "tx_by_country", b2) != RILL_OK) {
            fprintf(stderr, "demo: push: %s\n", rill_plan_errmsg(plan));
            return 2;
        }
        double e = now_s();
        engine += e - s;
        if (progress && (e - last_progress > 0.1 || done == N_EVENTS)) {
            last_progress = e;
            fprintf(stderr, "\r  %7ld / %d events (%3ld %%), %.2f M events/s", done, N_EVENTS,
                    done * 100 / N_EVENTS, done / engine / 1e6);
        }
    }
    int64_t wm_tx = 0;
    CHECK(rill_plan_source_watermark(plan, "tx", &wm_tx));
    rill_op_stats before[4];
    for (int i = 0; i < 4; i++) CHECK(rill_plan_op_stats(plan, d.ops[i].name, &before[i]));
    double s = now_s();
    CHECK(rill_plan_flush(plan));
    engine += now_s() - s;
    double wall = now_s() - t0;
    if (progress) fprintf(stderr, "\r\033[K");

    /* ---- summary ---- */
    printf("rill demo: %d card transactions, %d cards, %d countries, 24 h of event time (seed 42)\n",
           N_EVENTS, N_CARDS, N_COUNTRIES);
    printf("  %" PRIu64 " out of order within the 2 s bound, %" PRIu64 " behind the watermark within the\n"
           "  5 s allowed lateness, %" PRIu64 " sent 1.5 to 20 min late\n\n",
           gs.out_of_order, gs.slightly_late, gs.late);
    printf("engine: %.2f s for %d events: %.2f M events/s (wall %.2f s with generation;\n"
           "        micro-batches of %d, each event also pushed re-keyed by country)\n\n",
           engine, N_EVENTS, N_EVENTS / engine / 1e6, wall, BATCH);
    printf("%-13s %-26s %10s %10s %8s %7s %10s\n", "operator", "window", "events in", "records",
           "updates", "late", "open keys");
    for (int i = 0; i < 4; i++) {
        rill_op_stats st;
        CHECK(rill_plan_op_stats(plan, d.ops[i].name, &st));
        printf("%-13s %-26s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %7" PRIu64 " %10" PRIu64 "\n",
               d.ops[i].name, d.ops[i].what, st.events_in, d.ops[i].records, d.ops[i].updates,
               st.late, before[i].keys);
    }
    char a[32];
    fmt_time_of(wm_tx, true, a, sizeof a);
    printf("\nlate events (late output): %" PRIu64 "; the first: %s\n", d.late, d.late_example);
    printf("watermark of \"tx\" at end of input: %" PRId64 " (%s UTC); then flushed\n\n", wm_tx, a);

    printf("card %d, first records:\n", SAMPLE_CARD);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < d.ops[i].n_samples; j++)
            printf("  %-13s %s\n", d.ops[i].name, d.ops[i].samples[j]);
    printf("\ndistinct merchants per country (HyperLogLog p=12, %" PRIu64 " records) vs exact:\n",
           d.hll_records);
    for (int c = 0; c < N_COUNTRIES; c++) {
        uint32_t exact = 0;
        for (uint32_t m = 0; m < d.n_merchants[c]; m++) exact += d.seen[c * 8000 + m];
        printf("  %s %6" PRId64 "  exact %5u  (%+.1f %%)\n", s_country[c], d.hll[c], exact,
               exact ? 100.0 * ((double)d.hll[c] - exact) / exact : 0.0);
    }

    rill_batch_free(b1);
    rill_batch_free(b2);
    rill_plan_free(plan);
    rill_graph_free(g);
    rill_schema_free(tx);
    rill_schema_free(bc);
    free(mname);
    free(d.seen);
    return 0;
}
