/* learners/metrics.c — prequential metrics of one model (rill_metrics_*).
 *
 * What: accuracy, log loss, ROC AUC, precision and recall (binary
 * classification) or MAE and RMSE (regression), both cumulative and over a
 * sliding window of the last N labelled predictions, updated one label at a
 * time and readable at any moment in O(1).
 *
 * Idea:
 * - Counts (correct, true/false positives, positives) are integers: exact,
 *   added and, for the window, subtracted when an entry leaves the ring.
 * - Sums of losses use compensated (Neumaier) summation. The window's sums
 *   are also recomputed from the ring after every N evictions, so the error of
 *   adding and subtracting never builds up (amortised O(1) per label), and
 *   at once when a term that overflowed to infinity has left the window.
 * - AUC is the Mann-Whitney statistic: U = #(positive above negative) +
 *   #(ties) / 2, AUC = U / (P * N). We keep 2U as a 64-bit integer (exact
 *   while P * N < 2^63, i.e. for billions of labels) and update it as
 *   labels come and go: a positive scored s adds 2 * #(negatives below s) +
 *   #(negatives at s); a negative adds the mirror count of positives.
 *   Window: those counts come from a treap (randomised search tree; Seidel &
 *   Aragon, "Randomized search trees", Algorithmica 16, 1996) over the
 *   window's (score, arrival) pairs whose nodes carry per-class subtree
 *   sizes, so each count is O(log N) and the AUC is exact. The nodes live
 *   in the ring's slots: no allocation after creation. Priorities are a hash
 *   of the arrival number, so runs are reproducible.
 *   Cumulative: keeping every score is unbounded, so scores go into B equal
 *   bins over [0, 1] with per-class Fenwick trees; pairs within one bin are
 *   counted as ties. Each such pair is off by at most 1/2, so
 *   |AUC - exact| <= (#same-bin pairs) / (2 P N), reported as auc_err and
 *   maintained exactly as well. With B = 4096 and scores spread over [0, 1]
 *   this is typically below 1e-3; scores bunched in a narrow range widen it,
 *   and the bound says so.
 *
 * Not here: multi-class metrics, thresholds other than 0.5, weights, saving
 * the state (metrics restart with the process).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rill/learn.h"

#define NIL (-1)
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

typedef struct tnode {
    double score;
    uint64_t seq;      /* arrival number: makes keys unique */
    uint64_t prio;
    int32_t l, r;
    uint32_t npos, nneg; /* of the subtree */
    uint8_t pos;       /* this entry's class */
} tnode;

/* Counts of one set of labels: the cumulative one or the window's. */
typedef struct tally {
    uint64_t n, pos, correct, tp, fp;
    uint64_t u2;       /* 2 * Mann-Whitney U */
    uint64_t tie;      /* cumulative: positive-negative pairs sharing a bin */
    ksum ll, abs, sq;  /* log loss, |error|, error^2 */
} tally;

struct rill_metrics {
    rill_metrics_opts o;
    size_t cap, head, len; /* ring: oldest at head */
    double *ry, *rs;       /* label (0/1 in classification) and score per slot */
    tnode *node;           /* treap node of each slot */
    int32_t root;
    size_t evicted;        /* since the window's sums were last recomputed */
    uint64_t seq;
    tally cum, win;
    uint64_t *fpos, *fneg; /* Fenwick trees over bins, 1-based */
    uint64_t *bpos, *bneg; /* plain per-bin counts */
    char errmsg[256];
};

static int set_err(char *buf, size_t len, int status, const char *fmt, ...) {
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return status;
}

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---- treap over the window ---------------------------------------------- */

static void pull(tnode *T, int32_t t) {
    uint32_t p = T[t].pos, q = !T[t].pos;
    if (T[t].l != NIL) {
        p += T[T[t].l].npos;
        q += T[T[t].l].nneg;
    }
    if (T[t].r != NIL) {
        p += T[T[t].r].npos;
        q += T[T[t].r].nneg;
    }
    T[t].npos = p;
    T[t].nneg = q;
}

static int key_before(const tnode *a, double score, uint64_t seq) {
    return a->score < score || (a->score == score && a->seq < seq);
}

/* Split t into keys before (score, seq) and the rest. */
static void split(tnode *T, int32_t t, double score, uint64_t seq, int32_t *a, int32_t *b) {
    if (t == NIL) {
        *a = *b = NIL;
        return;
    }
    if (key_before(&T[t], score, seq)) {
        split(T, T[t].r, score, seq, &T[t].r, b);
        *a = t;
    } else {
        split(T, T[t].l, score, seq, a, &T[t].l);
        *b = t;
    }
    pull(T, t);
}

/* Every key of a comes before every key of b. */
static int32_t merge(tnode *T, int32_t a, int32_t b) {
    if (a == NIL)
        return b;
    if (b == NIL)
        return a;
    if (T[a].prio > T[b].prio) {
        T[a].r = merge(T, T[a].r, b);
        pull(T, a);
        return a;
    }
    T[b].l = merge(T, a, T[b].l);
    pull(T, b);
    return b;
}

/* Insert node x: walk down while the nodes outrank x (counting x into their
 * subtrees on the way), then split the rest below x. Treap theory bounds
 * the expected length of that split by a constant. */
static void treap_insert(rill_metrics *m, int32_t x) {
    tnode *T = m->node;
    const uint32_t p = T[x].pos, q = !T[x].pos;
    int32_t *link = &m->root;
    while (*link != NIL && T[*link].prio > T[x].prio) {
        int32_t t = *link;
        T[t].npos += p;
        T[t].nneg += q;
        link = key_before(&T[t], T[x].score, T[x].seq) ? &T[t].r : &T[t].l;
    }
    split(T, *link, T[x].score, T[x].seq, &T[x].l, &T[x].r);
    pull(T, x);
    *link = x;
}

/* Remove node x (present): walk down to it, uncounting it on the way, and
 * put the merge of its children in its place. */
static void treap_erase(rill_metrics *m, int32_t x) {
    tnode *T = m->node;
    const uint32_t p = T[x].pos, q = !T[x].pos;
    int32_t *link = &m->root;
    while (*link != x) {
        int32_t t = *link;
        T[t].npos -= p;
        T[t].nneg -= q;
        link = key_before(&T[t], T[x].score, T[x].seq) ? &T[t].r : &T[t].l;
    }
    *link = merge(T, T[x].l, T[x].r);
}

static uint64_t count_of(const tnode *T, int32_t t, int cls) {
    return t == NIL ? 0 : cls ? T[t].npos : T[t].nneg;
}

/* Entries of class cls (1 positive, 0 negative) with score < s (*lt) and
 * score <= s (*le). One walk down; at the first node scored exactly s the
 * two counts part: its left subtree only holds scores <= s. */
static void treap_count(const rill_metrics *m, int cls, double s, uint64_t *lt, uint64_t *le) {
    const tnode *T = m->node;
    uint64_t below = 0, upto;
    int32_t t = m->root;
    while (t != NIL && T[t].score != s) {
        if (T[t].score < s) {
            below += count_of(T, T[t].l, cls) + (T[t].pos == cls);
            t = T[t].r;
        } else {
            t = T[t].l;
        }
    }
    upto = below;
    if (t != NIL) {
        upto += count_of(T, T[t].l, cls) + (T[t].pos == cls);
        for (int32_t u = T[t].r; u != NIL;) { /* scores <= s on the right */
            if (T[u].score <= s) {
                upto += count_of(T, T[u].l, cls) + (T[u].pos == cls);
                u = T[u].r;
            } else {
                u = T[u].l;
            }
        }
        for (int32_t u = T[t].l; u != NIL;) { /* scores < s on the left */
            if (T[u].score < s) {
                below += count_of(T, T[u].l, cls) + (T[u].pos == cls);
                u = T[u].r;
            } else {
                u = T[u].l;
            }
        }
    }
    *lt = below;
    *le = upto;
}

/* The change of 2U caused by an entry of class pos scored s, against the
 * window's entries of the other class (the entry itself not among them). */
static uint64_t window_u2_delta(const rill_metrics *m, int pos, double s) {
    uint64_t lt, le;
    treap_count(m, !pos, s, &lt, &le);
    if (pos)
        return 2 * lt + (le - lt);
    uint64_t above = m->win.pos - le;
    return 2 * above + (le - lt);
}

/* ---- bins for the cumulative AUC ---------------------------------------- */

static uint32_t bin_of(const rill_metrics *m, double s) {
    double b = s * (double)m->o.auc_bins;
    if (!(b > 0.0))
        return 0;
    if (b >= (double)m->o.auc_bins)
        return m->o.auc_bins - 1;
    return (uint32_t)b;
}

static void fen_add(uint64_t *f, uint32_t n, uint32_t i) {
    for (i++; i <= n; i += i & -i)
        f[i]++;
}
static uint64_t fen_prefix(const uint64_t *f, uint32_t i) { /* bins [0, i) */
    uint64_t s = 0;
    for (; i > 0; i -= i & -i)
        s += f[i];
    return s;
}

/* ---- creation ------------------------------------------------------------ */

int rill_metrics_new(const rill_metrics_opts *opts, rill_metrics **out, char *errbuf,
                     size_t errlen) {
    *out = NULL;
    rill_metrics_opts o = opts ? *opts : (rill_metrics_opts){0};
    if (o.task != RILL_METRICS_CLASSIFICATION && o.task != RILL_METRICS_REGRESSION)
        return set_err(errbuf, errlen, RILL_EINVAL, "unknown metrics task %d", (int)o.task);
    if (o.window == 0)
        o.window = 1000;
    if (o.auc_bins == 0)
        o.auc_bins = 4096;
    if (o.window > INT32_MAX || o.window > UINT32_MAX || o.auc_bins > (1u << 30))
        return set_err(errbuf, errlen, RILL_EINVAL, "window %zu or auc_bins %u too large",
                       o.window, o.auc_bins);
    rill_metrics *m = calloc(1, sizeof *m);
    if (!m)
        goto fail_alloc;
    m->o = o;
    m->cap = o.window;
    m->ry = calloc(m->cap, sizeof *m->ry);
    m->rs = calloc(m->cap, sizeof *m->rs);
    if (!m->ry || !m->rs)
        goto fail_ring;
    if (o.task == RILL_METRICS_CLASSIFICATION) {
        m->node = calloc(m->cap, sizeof *m->node);
        m->fpos = calloc((size_t)o.auc_bins + 1, sizeof *m->fpos);
        m->fneg = calloc((size_t)o.auc_bins + 1, sizeof *m->fneg);
        m->bpos = calloc(o.auc_bins, sizeof *m->bpos);
        m->bneg = calloc(o.auc_bins, sizeof *m->bneg);
        if (!m->node || !m->fpos || !m->fneg || !m->bpos || !m->bneg)
            goto fail_ring;
    }
    m->root = NIL;
    *out = m;
    return RILL_OK;

fail_ring:
    rill_metrics_free(m);
fail_alloc:
    return set_err(errbuf, errlen, RILL_ENOMEM, "out of memory for metrics (window %zu)",
                   o.window);
}

void rill_metrics_free(rill_metrics *m) {
    if (!m)
        return;
    free(m->ry);
    free(m->rs);
    free(m->node);
    free(m->fpos);
    free(m->fneg);
    free(m->bpos);
    free(m->bneg);
    free(m);
}

void rill_metrics_reset(rill_metrics *m) {
    m->head = m->len = 0;
    m->root = NIL;
    m->evicted = 0;
    m->seq = 0;
    memset(&m->cum, 0, sizeof m->cum);
    memset(&m->win, 0, sizeof m->win);
    if (m->o.task == RILL_METRICS_CLASSIFICATION) {
        size_t nb = m->o.auc_bins;
        memset(m->fpos, 0, (nb + 1) * sizeof *m->fpos);
        memset(m->fneg, 0, (nb + 1) * sizeof *m->fneg);
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

/* Add (sign +1) or remove (-1) the per-label sums and counts of (y, s). */
static void tally_apply(tally *t, rill_metrics_task task, double y, double s, int sign) {
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
        ksum_add(&t->ll, d * logloss(y, s));
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
    for (size_t k = 0; k < m->len; k++) {
        size_t i = (m->head + k) % m->cap;
        if (m->o.task == RILL_METRICS_CLASSIFICATION) {
            ksum_add(&m->win.ll, logloss(m->ry[i], m->rs[i]));
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
        return set_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "label %g and score %g must be finite", y, score);
    if (cls && y != 0.0 && y != 1.0 && y != -1.0)
        return set_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "label %g is not a class label (0/1 or -1/+1)", y);
    if (cls && (score < 0.0 || score > 1.0))
        return set_err(m->errmsg, sizeof m->errmsg, RILL_EINVAL,
                       "score %g is not a probability in [0, 1]", score);
    if (cls)
        y = y > 0.0 ? 1.0 : 0.0;

    /* the oldest leaves the window */
    if (m->len == m->cap) {
        size_t i = m->head;
        tally_apply(&m->win, m->o.task, m->ry[i], m->rs[i], -1);
        if (cls) {
            treap_erase(m, (int32_t)i);
            int pos = m->node[i].pos;
            m->win.u2 -= window_u2_delta(m, pos, m->rs[i]);
        }
        m->head = (m->head + 1) % m->cap;
        m->len--;
        m->evicted++;
        /* an overflowed term (inf) cannot be subtracted back out */
        if (!ksum_finite(&m->win.ll) || !ksum_finite(&m->win.abs) || !ksum_finite(&m->win.sq))
            window_resum(m);
    }

    size_t i = (m->head + m->len) % m->cap;
    m->ry[i] = y;
    m->rs[i] = score;
    m->len++;
    tally_apply(&m->cum, m->o.task, y, score, +1);
    tally_apply(&m->win, m->o.task, y, score, +1);
    if (cls) {
        int pos = y > 0.0;
        /* window: count against the others first, then insert */
        m->win.u2 += window_u2_delta(m, pos, score);
        tnode *t = &m->node[i];
        t->score = score;
        t->seq = m->seq;
        t->prio = mix64(m->seq);
        t->pos = (uint8_t)pos;
        treap_insert(m, (int32_t)i);
        /* cumulative: bins */
        uint32_t b = bin_of(m, score), nb = m->o.auc_bins;
        if (pos) {
            m->cum.u2 += 2 * fen_prefix(m->fneg, b) + m->bneg[b];
            m->cum.tie += m->bneg[b];
            fen_add(m->fpos, nb, b);
            m->bpos[b]++;
        } else {
            m->cum.u2 += 2 * (m->cum.pos - fen_prefix(m->fpos, b + 1)) + m->bpos[b];
            m->cum.tie += m->bpos[b];
            fen_add(m->fneg, nb, b);
            m->bneg[b]++;
        }
    }
    m->seq++;
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

void rill_metrics_read(const rill_metrics *m, rill_metrics_report *out) {
    values(&m->cum, m->o.task, true, &out->cumulative);
    values(&m->win, m->o.task, false, &out->window);
}

const char *rill_metrics_errmsg(const rill_metrics *m) { return m->errmsg; }
