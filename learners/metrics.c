/* learners/metrics.c — prequential metrics of one model (rill_metrics_*).
 *
 * What: accuracy, log loss, ROC AUC, precision and recall (binary
 * classification) or MAE and RMSE (regression), both cumulative and over a
 * sliding window of the last N labelled predictions, updated one label at a
 * time in O(1) and readable at any moment (O(N log N + B), see the AUC).
 *
 * Idea:
 * - Counts (correct, true/false positives, positives) are integers: exact,
 *   added and, for the window, subtracted when an entry leaves the ring.
 * - Sums of losses use compensated (Neumaier) summation. The window's sums
 *   are also recomputed from the ring after every N evictions, so the error of
 *   adding and subtracting never builds up (amortised O(1) per label), and
 *   at once when a term that overflowed to infinity has left the window.
 * - AUC is the Mann-Whitney statistic: U = #(positive above negative) +
 *   #(ties) / 2, AUC = U / (P * N), kept as 2U in a 64-bit integer (exact
 *   while P * N < 2^63, i.e. for billions of labels).
 *   Window: computed when read, exactly, by sorting the window's N scores
 *   (O(N log N) per read, nothing per label). Labels arrive millions of
 *   times more often than anyone reads the metrics, so this is the cheap
 *   side; an order-statistics tree kept per label cost ~0.5 us a label.
 *   Cumulative: keeping every score is unbounded, so scores go into B equal
 *   bins over [0, 1], counted per class; pairs within one bin are counted
 *   as ties. Each such pair is off by at most 1/2, so
 *   |AUC - exact| <= (#same-bin pairs) / (2 P N), reported as auc_err and
 *   computed exactly as well. A label only bumps its bin's count (O(1));
 *   the read walks the bins once (O(B)), adding for each bin
 *   #positives * (2 * #negatives in lower bins + #negatives in it) to 2U.
 *   That is the same integer a per-label update with prefix sums (Fenwick
 *   trees, O(log B) a label) would keep, at a fraction of the cost on the
 *   side that runs millions of times more often. With B = 4096 and scores
 *   spread over [0, 1] the bound is typically below 1e-3; scores bunched in
 *   a narrow range widen it, and the bound says so.
 *
 * Not here: multi-class metrics, thresholds other than 0.5, weights, saving
 * the state (metrics restart with the process).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learners/learn_err.h"
#include "rill/learn.h"

#define P_CLIP 1e-15

typedef struct ksum { double s, c; } ksum; /* Neumaier compensated sum */

static void ksum_add(ksum *k, double x) {
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}
/* An overflow (inf) leaves c NaN: report the inf. */
static double ksum_get(const ksum *k) { return isfinite(k->s) ? k->s + k->c : k->s; }
static bool ksum_finite(const ksum *k) { return isfinite(k->s) && isfinite(k->c); }

/* Counts of one set of labels: the cumulative one or the window's. */
typedef struct tally {
    uint64_t n, pos, correct, tp, fp;
    uint64_t u2;       /* 2 * Mann-Whitney U (filled in when read) */
    uint64_t tie;      /* cumulative: positive-negative pairs sharing a bin (when read) */
    ksum ll, abs, sq;  /* log loss, |error|, error^2 */
} tally;

struct rill_metrics {
    rill_metrics_opts o;
    size_t cap, head, len; /* ring: oldest at head */
    double *ry, *rs;       /* label (0/1 in classification) and score per slot */
    double *rl;            /* its loss term (log loss), to subtract exactly */
    size_t evicted;        /* since the window's sums were last recomputed */
    tally cum, win;
    uint64_t *bpos, *bneg; /* per-bin counts of positives and negatives */
    char errmsg[256];
};

/* ---- bins for the cumulative AUC ---------------------------------------- */

static uint32_t bin_of(const rill_metrics *m, double s) {
    double b = s * (double)m->o.auc_bins;
    if (!(b > 0.0))
        return 0;
    if (b >= (double)m->o.auc_bins)
        return m->o.auc_bins - 1;
    return (uint32_t)b;
}

/* 2U and the same-bin pairs of the cumulative counts, from the bins. */
static void bins_u2(const rill_metrics *m, uint64_t *u2, uint64_t *tie) {
    uint64_t neg_below = 0, sum = 0, same = 0;
    for (uint32_t b = 0; b < m->o.auc_bins; b++) {
        sum += m->bpos[b] * (2 * neg_below + m->bneg[b]);
        same += m->bpos[b] * m->bneg[b];
        neg_below += m->bneg[b];
    }
    *u2 = sum;
    *tie = same;
}

/* ---- creation ------------------------------------------------------------ */

int rill_metrics_new(const rill_metrics_opts *opts, rill_metrics **out, char *errbuf,
                     size_t errlen) {
    *out = NULL;
    rill_metrics_opts o = opts ? *opts : (rill_metrics_opts){0};
    if (o.task != RILL_METRICS_CLASSIFICATION && o.task != RILL_METRICS_REGRESSION)
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "unknown metrics task %d", (int)o.task);
    if (o.window == 0)
        o.window = 1000;
    if (o.auc_bins == 0)
        o.auc_bins = 4096;
    if (o.window > INT32_MAX || o.window > UINT32_MAX || o.auc_bins > (1u << 30))
        return rill__learn_err(errbuf, errlen, RILL_EINVAL, "window %zu or auc_bins %u too large",
                       o.window, o.auc_bins);
    rill_metrics *m = calloc(1, sizeof *m);
    if (!m)
        goto fail_alloc;
    m->o = o;
    m->cap = o.window;
    m->ry = calloc(m->cap, sizeof *m->ry);
    m->rs = calloc(m->cap, sizeof *m->rs);
    m->rl = calloc(m->cap, sizeof *m->rl);
    if (!m->ry || !m->rs || !m->rl)
        goto fail_ring;
    if (o.task == RILL_METRICS_CLASSIFICATION) {
        m->bpos = calloc(o.auc_bins, sizeof *m->bpos);
        m->bneg = calloc(o.auc_bins, sizeof *m->bneg);
        if (!m->bpos || !m->bneg)
            goto fail_ring;
    }
    *out = m;
    return RILL_OK;

fail_ring:
    rill_metrics_free(m);
fail_alloc:
    return rill__learn_err(errbuf, errlen, RILL_ENOMEM, "out of memory for metrics (window %zu)",
                   o.window);
}

void rill_metrics_free(rill_metrics *m) {
    if (!m)
        return;
    free(m->ry);
    free(m->rs);
    free(m->rl);
    free(m->bpos);
    free(m->bneg);
    free(m);
}

void rill_metrics_reset(rill_metrics *m) {
    m->head = m->len = 0;
    m->evicted = 0;
    memset(&m->cum, 0, sizeof m->cum);
    memset(&m->win, 0, sizeof m->win);
    if (m->o.task == RILL_METRICS_CLASSIFICATION) {
        size_t nb = m->o.auc_bins;
        memset(m->bpos, 0, nb * sizeof *m->bpos);
        memset(m->bneg, 0, nb * sizeof *m->bneg);
    }
    m->errmsg[0] = '\0';
}

/* ---- counting ------------------------------------------------------------ */

static double logloss(double y, double p) {
    p = p < P_CLIP ? P_CLIP : p > 1.0 - P_CLIP ? 1.0 - P_CLIP : p;
    return y > 0.0 ? -log(p) : -log(1.0 - p);
}

/* Add (sign +1) or remove (-1) the per-label sums and counts of (y, s);
 * ll is its log loss (classification). */
static void tally_apply(tally *t, rill_metrics_task task, double y, double s, double ll, int sign) {
    double d = sign;
    if (task == RILL_METRICS_CLASSIFICATION) {
        uint64_t pos = y > 0.0, pred = s >= 0.5;
        if (sign > 0) {
            t->n++;
            t->pos += pos;
            t->correct += pos == pred;
            t->tp += pos && pred;
            t->fp += (uint64_t)(!pos && pred);
        } else {
            t->n--;
            t->pos -= pos;
            t->correct -= pos == pred;
            t->tp -= pos && pred;
            t->fp -= (uint64_t)(!pos && pred);
        }
        ksum_add(&t->ll, d * ll);
    } else {
        t->n += sign > 0 ? 1 : (uint64_t)-1;
        double e = y - s;
        ksum_add(&t->abs, d * fabs(e));
        ksum_add(&t->sq, d * e * e);
    }
}

/* Recompute the window's loss sums from the ring (exactly, in ring order). */
static void window_resum(rill_metrics *m) {
    m->win.ll = m->win.abs = m->win.sq = (ksum){ 0.0, 0.0 };
    for (size_t k = 0, i = m->head; k < m->len; k++, i = i + 1 == m->cap ? 0 : i + 1) {
        if (m->o.task == RILL_METRICS_CLASSIFICATION) {
            ksum_add(&m->win.ll, m->rl[i]);
        } else {
            double e = m->ry[i] - m->rs[i];
            ksum_add(&m->win.abs, fabs(e));
            ksum_add(&m->win.sq, e * e);
        }
    }
    m->evicted = 0;
}

int rill_metrics_add(rill_metrics *m, double y, double score) {
    const bool cls = m->o.task == RILL_METRICS_CLASSIFICATION;
    if (!isfinite(y) || !isfinite(score))
        return rill__learn_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "label %g and score %g must be finite", y, score);
    if (cls && y != 0.0 && y != 1.0 && y != -1.0)
        return rill__learn_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "label %g is not a class label (0/1 or -1/+1)", y);
    if (cls && (score < 0.0 || score > 1.0))
        return rill__learn_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "score %g is not a probability in [0, 1]", score);
    if (cls)
        y = y > 0.0 ? 1.0 : 0.0;

    /* the oldest leaves the window */
    if (m->len == m->cap) {
        size_t i = m->head;
        tally_apply(&m->win, m->o.task, m->ry[i], m->rs[i], m->rl[i], -1);
        m->head = m->head + 1 == m->cap ? 0 : m->head + 1;
        m->len--;
        m->evicted++;
        /* an overflowed term (inf) cannot be subtracted back out */
        if (!ksum_finite(&m->win.ll) || !ksum_finite(&m->win.abs) || !ksum_finite(&m->win.sq))
            window_resum(m);
    }

    size_t i = m->head + m->len; /* < 2 cap */
    if (i >= m->cap)
        i -= m->cap;
    double ll = cls ? logloss(y, score) : 0.0;
    m->ry[i] = y;
    m->rs[i] = score;
    m->rl[i] = ll;
    m->len++;
    tally_apply(&m->cum, m->o.task, y, score, ll, +1);
    tally_apply(&m->win, m->o.task, y, score, ll, +1);
    if (cls) /* cumulative AUC: its bin's count; 2U is summed when read */
        (y > 0.0 ? m->bpos : m->bneg)[bin_of(m, score)]++;
    if (m->evicted >= m->cap)
        window_resum(m);
    return RILL_OK;
}

/* ---- reading ------------------------------------------------------------- */

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : NAN; }

static void values(const tally *t, rill_metrics_task task, bool binned, rill_metric_values *v) {
    *v = (rill_metric_values){ .n = t->n, .accuracy = NAN, .log_loss = NAN, .auc = NAN,
                               .auc_err = NAN, .precision = NAN, .recall = NAN, .mae = NAN,
                               .rmse = NAN };
    if (task == RILL_METRICS_REGRESSION) {
        if (t->n) {
            v->mae = ksum_get(&t->abs) / (double)t->n;
            double ms = ksum_get(&t->sq) / (double)t->n;
            v->rmse = sqrt(ms < 0.0 ? 0.0 : ms); /* rounding may dip below 0 */
        }
        return;
    }
    v->positives = t->pos;
    v->accuracy = ratio(t->correct, t->n);
    if (t->n)
        v->log_loss = ksum_get(&t->ll) / (double)t->n;
    uint64_t neg = t->n - t->pos;
    if (t->pos && neg) {
        double pairs2 = 2.0 * (double)t->pos * (double)neg;
        v->auc = (double)t->u2 / pairs2;
        v->auc_err = binned ? (double)t->tie / pairs2 : 0.0;
    }
    v->precision = ratio(t->tp, t->tp + t->fp);
    v->recall = ratio(t->tp, t->pos);
}

typedef struct scored { double s; int pos; } scored;

static int by_score(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x < y ? -1 : x > y;
}

/* 2U of the window, exactly: sort its scores, then walk groups of equal
 * score counting negatives below and at each positive. False when the
 * scratch memory cannot be had. */
static bool window_u2(const rill_metrics *m, uint64_t *u2) {
    scored *v = malloc((m->len ? m->len : 1) * sizeof *v);
    if (!v)
        return false;
    for (size_t k = 0, i = m->head; k < m->len; k++, i = i + 1 == m->cap ? 0 : i + 1)
        v[k] = (scored){ m->rs[i], m->ry[i] > 0.0 };
    qsort(v, m->len, sizeof *v, by_score);
    uint64_t neg_below = 0, sum = 0;
    for (size_t a = 0; a < m->len;) {
        size_t b = a;
        uint64_t pos = 0, neg = 0;
        for (; b < m->len && v[b].s == v[a].s; b++)
            v[b].pos ? pos++ : neg++;
        sum += pos * (2 * neg_below + neg);
        neg_below += neg;
        a = b;
    }
    free(v);
    *u2 = sum;
    return true;
}

void rill_metrics_read(const rill_metrics *m, rill_metrics_report *out) {
    tally cum = m->cum, win = m->win;
    if (m->o.task == RILL_METRICS_CLASSIFICATION)
        bins_u2(m, &cum.u2, &cum.tie);
    values(&cum, m->o.task, true, &out->cumulative);
    bool have_auc = m->o.task != RILL_METRICS_CLASSIFICATION || window_u2(m, &win.u2);
    values(&win, m->o.task, false, &out->window);
    if (!have_auc)
        out->window.auc = NAN;
}

const char *rill_metrics_errmsg(const rill_metrics *m) { return m->errmsg; }
