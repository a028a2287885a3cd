/* engine/models_report.c — encoding the "models" output.
 *
 * Every metrics interval the engine publishes, for each model node, what
 * rill_plan_model_metrics() says: accuracy, log loss, AUC (with its bound),
 * precision and recall, or MAE and RMSE, cumulative and over the sliding
 * window, and how labels and predictions were joined. Undefined figures
 * (no labels yet, one class only) are nil.
 */
#include <math.h>
#include <msgpack.h>
#include <string.h>

#include "engine/models_report.h"

static int buf_write(void *data, const char *p, size_t n) {
    return rill__buf_append(data, p, n) == RILL_OK ? 0 : -1;
}

static int pack_key(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_f64(msgpack_packer *pk, const char *name, double v) {
    return pack_key(pk, name) || (isfinite(v) ? msgpack_pack_double(pk, v) : msgpack_pack_nil(pk));
}

static int pack_u64(msgpack_packer *pk, const char *name, uint64_t v) {
    return pack_key(pk, name) || msgpack_pack_uint64(pk, v);
}

static int pack_values(msgpack_packer *pk, const char *name, const rill_metric_values *v) {
    return pack_key(pk, name) || msgpack_pack_map(pk, 10) || pack_u64(pk, "n", v->n) ||
           pack_u64(pk, "positives", v->positives) || pack_f64(pk, "accuracy", v->accuracy) ||
           pack_f64(pk, "log_loss", v->log_loss) || pack_f64(pk, "auc", v->auc) ||
           pack_f64(pk, "auc_err", v->auc_err) || pack_f64(pk, "precision", v->precision) ||
           pack_f64(pk, "recall", v->recall) || pack_f64(pk, "mae", v->mae) ||
           pack_f64(pk, "rmse", v->rmse);
}

int rill__models_encode(const rill_plan *p, const char *name, int64_t now_ms, rill_buf *out) {
    rill_metrics_report r;
    rill_model_stats s;
    int rc = rill_plan_model_metrics(p, name, &r, &s);
    if (rc) return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    int bad = msgpack_pack_map(&pk, 5) || pack_key(&pk, "model") || pack_key(&pk, name) ||
              pack_key(&pk, "ts") || msgpack_pack_int64(&pk, now_ms) ||
              pack_values(&pk, "cumulative", &r.cumulative) || pack_values(&pk, "window", &r.window) ||
              pack_key(&pk, "stats") || msgpack_pack_map(&pk, 12) ||
              pack_u64(&pk, "vectors", s.vectors) || pack_u64(&pk, "labels", s.labels) ||
              pack_u64(&pk, "matched", s.matched) || pack_u64(&pk, "learned", s.learned) ||
              pack_u64(&pk, "late", s.late) || pack_u64(&pk, "unmatched", s.unmatched) ||
              pack_u64(&pk, "duplicates", s.duplicates) || pack_u64(&pk, "invalid", s.invalid) ||
              pack_u64(&pk, "expired", s.expired) || pack_u64(&pk, "replaced", s.replaced) ||
              pack_u64(&pk, "unjoinable", s.unjoinable) || pack_u64(&pk, "waiting", s.waiting);
    return bad ? RILL_ENOMEM : RILL_OK;
}
