/* examples/learn_pipeline.c — window features -> feature vector -> a
 * liblinear model and an online SGD learner, with labels that arrive
 * later: the README's "Learning" section as a complete program.
 *
 * A simulated card-payment stream: 200 cards; now and then a card is
 * compromised and makes a burst of large payments (label 1). Per payment
 * the graph computes, point in time, the card's count of payments over the
 * last 10 minutes and its mean and max amount over the last hour (on-event
 * sliding windows), assembles them with the amount into a vector, and
 * scores it with
 *   - a liblinear logistic model trained at start with liblinear's train()
 *     on a day of history (the same graph, run over past payments, gives
 *     the training vectors), and
 *   - an online SGD learner (logistic loss, online standardisation) that
 *     learns from each label as it arrives, 5 minutes after its payment.
 * At the end it prints both models' prequential metrics and the join's
 * counters. Uses the public API (and liblinear's, for training).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linear.h>
#include <rill/rill.h>

#define CARDS 200
#define DAY_MS (24 * 3600 * 1000LL)
#define LABEL_DELAY_MS (5 * 60 * 1000LL)

/* ---- a payment simulator ---- */

static unsigned long long rng = 88172645463325252ULL;
static double uniform(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}
static double gauss(void) {
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

typedef struct payment { long long ts, id; int card; double amount; int fraud; } payment;

static int compromised[CARDS]; /* payments left in a card's fraudulent burst */

/* The next payment after time *t: usually a random card, often the card of
 * an ongoing burst (seconds apart, large amounts). */
static payment next_payment(long long *t, long long *id) {
    payment p;
    int burst = -1;
    for (int c = 0; c < CARDS && burst < 0; c++)
        if (compromised[c] && uniform() < 0.5) burst = c;
    *t += burst >= 0 ? 2000 + (long long)(uniform() * 20000) : 1000 + (long long)(uniform() * 60000);
    p.card = burst >= 0 ? burst : (int)(uniform() * CARDS);
    if (burst < 0 && !compromised[p.card] && uniform() < 0.004) compromised[p.card] = 3 + (int)(uniform() * 8);
    p.fraud = compromised[p.card] > 0;
    if (p.fraud) compromised[p.card]--;
    p.amount = exp((p.fraud ? 5.0 : 3.5) + 0.6 * gauss());
    p.ts = *t;
    p.id = (*id)++;
    return p;
}

/* ---- the graph ---- */

/* Source "payments" (amount), the window features and the vector "fv". */
static rill_graph *feature_graph(const rill_schema *payments) {
    rill_graph *g = rill_graph_new();
    rill_graph_source(g, "payments", payments, NULL);
    rill_agg_spec last10m[] = { { RILL_AGG_COUNT, NULL, "n_10m", 0 } };
    rill_agg_spec last1h[] = { { RILL_AGG_MEAN, "amount", "mean_1h", 0 }, { RILL_AGG_MAX, "amount", "max_1h", 0 } };
    rill_window_opts w10 = { .window = rill_sliding(10 * 60000, 60000), .aggs = last10m, .n_aggs = 1,
                             .emit = RILL_EMIT_ON_EVENT };
    rill_window_opts w60 = { .window = rill_sliding(3600000, 60000), .aggs = last1h, .n_aggs = 2,
                             .emit = RILL_EMIT_ON_EVENT };
    rill_graph_window(g, "card_10m", "payments", &w10);
    rill_graph_window(g, "card_1h", "payments", &w60);
    rill_feature features[] = {
        /* input       value      name in the vector  default */
        { "payments", "amount", NULL, 0.0 },
        { "card_10m", "n_10m", NULL, 0.0 },
        { "card_1h", "mean_1h", NULL, 0.0 },
        { "card_1h", "max_1h", NULL, 0.0 },
    };
    rill_features_opts fo = { .trigger = "payments", .features = features, .n_features = 4 };
    rill_graph_features(g, "fv", &fo);
    return g;
}

static void push_payment(rill_plan *plan, rill_batch *b, const payment *p) {
    rill_batch_clear(b);
    rill_batch_append(b, p->ts, rill_i64(p->card));
    rill_batch_set_f64(b, 0, p->amount);
    rill_batch_set_id(b, rill_i64(p->id));
    if (rill_plan_push(plan, "payments", b) != RILL_OK) {
        fprintf(stderr, "push: %s\n", rill_plan_errmsg(plan));
        exit(1);
    }
}

/* ---- history: vectors for training ---- */

typedef struct history {
    struct feature_node (*x)[6]; /* 4 features, bias, terminator */
    double *y;
    int n, cap;
    const char *labels;          /* fraud flag by payment id */
} history;

/* Keep a vector of the history and the label of its payment. */
static void keep_vector(const rill_record *r, void *user) {
    history *h = user;
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4096;
        h->x = realloc(h->x, (size_t)h->cap * sizeof *h->x);
        h->y = realloc(h->y, (size_t)h->cap * sizeof *h->y);
        if (!h->x || !h->y) abort();
    }
    for (int i = 0; i < 4; i++)
        h->x[h->n][i] = (struct feature_node){ i + 1, r->values[i].as.f64 };
    h->x[h->n][4] = (struct feature_node){ 5, 1.0 }; /* bias */
    h->x[h->n][5] = (struct feature_node){ -1, 0.0 };
    h->y[h->n] = h->labels[r->id.as.i64];
    h->n++;
}

static void silent(const char *s) { (void)s; }

/* Run a day of payments through the feature graph and train liblinear's
 * logistic regression on the vectors it gives. */
static struct model *train_on_history(const rill_schema *payments) {
    enum { N = 40000 };
    static char labels[N];
    static payment ps[N];
    long long t = 1700000000000LL - DAY_MS, id = 0;
    for (int i = 0; i < N; i++) {
        ps[i] = next_payment(&t, &id);
        labels[ps[i].id] = (char)ps[i].fraud;
    }
    history h = { .labels = labels };
    rill_graph *g = feature_graph(payments);
    rill_graph_sink(g, "keep", "fv", keep_vector, &h);
    rill_plan *plan;
    if (rill_graph_compile(g, NULL, &plan) != RILL_OK) {
        fprintf(stderr, "compile: %s\n", rill_graph_errmsg(g));
        exit(1);
    }
    rill_batch *b = rill_batch_new(payments, 1);
    for (int i = 0; i < N; i++) push_payment(plan, b, &ps[i]);
    rill_plan_flush(plan);
    rill_batch_free(b);
    rill_plan_free(plan);
    rill_graph_free(g);

    struct feature_node **rows = malloc((size_t)h.n * sizeof *rows);
    if (!rows) abort();
    for (int i = 0; i < h.n; i++) rows[i] = h.x[i];
    /* the bias is feature 5 of every row, as liblinear's train program lays it out */
    struct problem prob = { .l = h.n, .n = 5, .y = h.y, .x = rows, .bias = 1.0 };
    struct parameter par = { .solver_type = L2R_LR, .C = 1.0, .eps = 0.01 };
    set_print_string_function(silent);
    struct model *m = train(&prob, &par);
    int frauds = 0;
    for (int i = 0; i < h.n; i++) frauds += h.y[i] > 0;
    printf("liblinear trained on %d vectors of history (%d fraudulent)\n", h.n, frauds);
    /* train() copies what it keeps */
    free(rows);
    free(h.x);
    free(h.y);
    return m;
}

/* ---- live ---- */

static void print_alert(const rill_record *r, void *user) {
    int *shown = user;
    /* values: label, decision, probability */
    if (r->values[2].as.f64 > 0.9 && (*shown)++ < 5)
        printf("  %s: card %lld payment %lld at %lld: P(fraud) = %.3f\n", r->op, (long long)r->key.as.i64,
               (long long)r->id.as.i64, (long long)r->ts, r->values[2].as.f64);
}

static void print_metrics(const rill_plan *plan, const char *model) {
    rill_metrics_report m;
    rill_model_stats s;
    rill_plan_model_metrics(plan, model, &m, &s);
    printf("%-9s accuracy %.4f  log loss %.4f  AUC %.4f  precision %.3f  recall %.3f  (last %llu labels: "
           "accuracy %.4f)\n", model, m.cumulative.accuracy, m.cumulative.log_loss, m.cumulative.auc,
           m.cumulative.precision, m.cumulative.recall, (unsigned long long)m.window.n, m.window.accuracy);
    printf("%-9s %llu predictions, %llu labels joined, %llu expired, %llu unmatched, %llu late\n", "", 
           (unsigned long long)s.vectors, (unsigned long long)s.matched, (unsigned long long)s.expired,
           (unsigned long long)s.unmatched, (unsigned long long)s.late);
}

int main(void) {
    rill_field pf[] = { { "amount", RILL_F64 } };
    rill_field lf[] = { { "label", RILL_I64 } };
    rill_schema *payments = rill_schema_new(pf, 1), *labels = rill_schema_new(lf, 1);

    /* a liblinear model from history (it becomes the rill_linear's) */
    rill_linear *lin;
    char err[256];
    if (rill_linear_wrap(train_on_history(payments), 4, RILL_LINEAR_TAKE, &lin, err, sizeof err) != RILL_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    /* the live graph: features -> liblinear and SGD, labels joined by id */
    rill_graph *g = feature_graph(payments);
    rill_source_opts lo = { .max_out_of_orderness_ms = 60000 };
    rill_graph_source(g, "labels", labels, &lo);
    rill_labels_opts join = { .input = "labels", .timeout_ms = 30 * 60000, .metrics_window = 2000 };
    rill_linear_node_opts lino = { .model = lin, .labels = join };
    rill_sgd_opts sgd = { .loss = RILL_SGD_LOGISTIC, .eta0 = 0.01, .standardize = true };
    rill_graph_predict_linear(g, "liblinear", "fv", &lino);
    rill_graph_sgd(g, "sgd", "fv", &sgd, &join);
    int shown = 0;
    rill_graph_sink(g, "alerts", "sgd", print_alert, &shown);

    rill_plan *plan;
    if (rill_graph_compile(g, NULL, &plan) != RILL_OK) {
        fprintf(stderr, "compile: %s\n", rill_graph_errmsg(g));
        return 1;
    }
    /* a day of payments; each label is known 5 minutes later */
    rill_batch *b = rill_batch_new(payments, 1), *l = rill_batch_new(labels, 64);
    enum { Q = 4096 };
    static payment pending[Q]; /* payments whose label is not out yet */
    size_t head = 0, tail = 0;
    long long t = 1700000000000LL, id = 1000000;
    printf("a few of the SGD model's alerts:\n");
    while (t < 1700000000000LL + DAY_MS) {
        payment p = next_payment(&t, &id);
        push_payment(plan, b, &p);
        pending[tail++ % Q] = p;
        rill_batch_clear(l);
        while (head < tail && pending[head % Q].ts + LABEL_DELAY_MS <= t) {
            const payment *q = &pending[head++ % Q];
            rill_batch_append(l, q->ts + LABEL_DELAY_MS, rill_i64(q->card));
            rill_batch_set_i64(l, 0, q->fraud);
            rill_batch_set_id(l, rill_i64(q->id));
        }
        if (rill_batch_len(l) && rill_plan_push(plan, "labels", l) != RILL_OK) {
            fprintf(stderr, "push labels: %s\n", rill_plan_errmsg(plan));
            return 1;
        }
    }
    /* end of input: the payments of the last 5 minutes never get their
     * label, and their predictions expire (counted) */
    rill_plan_flush(plan);
    print_metrics(plan, "liblinear");
    print_metrics(plan, "sgd");
    rill_features_stats fs;
    rill_plan_features_stats(plan, "fv", &fs);
    printf("feature vectors: %llu, %llu with every feature, %llu values defaulted\n",
           (unsigned long long)fs.vectors, (unsigned long long)fs.complete, (unsigned long long)fs.defaulted);

    rill_batch_free(b);
    rill_batch_free(l);
    rill_plan_free(plan);
    rill_graph_free(g);
    rill_linear_free(lin);
    rill_schema_free(payments);
    rill_schema_free(labels);
    return 0;
}
