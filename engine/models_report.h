/* engine/models_report.h — the "models" output: one record per model node
 * with its prequential metrics and label-join counters (internal). */
#ifndef RILL_ENGINE_MODELS_REPORT_H
#define RILL_ENGINE_MODELS_REPORT_H

#include <stdint.h>

#include "engine/buf.h"
#include "rill/rill.h"

/* Append the msgpack record of model `name` of plan p to out:
 * {"model", "ts", "cumulative": {...}, "window": {...}, "stats": {...}}.
 * RILL_EUNKNOWN_NODE (nothing appended) when name is not a model node. */
int rill__models_encode(const rill_plan *p, const char *name, int64_t now_ms, rill_buf *out);

#endif
