/* engine/sink.h — where the engine's outputs go (internal).
 *
 * A sink receives every output it selected as (topic, msgpack map) and
 * delivers it: PUB and PUSH sockets send the two frames, a JSON-lines file
 * writes the map as one JSON object. A sink kind is a methods table; the
 * engine calls sinks only through the wrappers below.
 */
#ifndef RILL_ENGINE_SINK_H
#define RILL_ENGINE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rill/engine.h"

#define RILL__SINK_METHODS_VERSION 1

typedef struct rill__sink rill__sink;

typedef struct rill__sink_methods {
    int version; /* RILL__SINK_METHODS_VERSION */
    const char *kind;
    /* Deliver one output. RILL_OK; RILL_EFULL when it was dropped (no ready
     * peer: counted, not an error); another status for a failure the engine
     * must report (s->errmsg says what). */
    int (*send)(rill__sink *s, const char *topic, const void *payload, size_t len);
    /* Push buffered output out (end of a batch); may be NULL. */
    int (*flush)(rill__sink *s);
    /* Deliver what is queued for up to linger_ms (negative: drop it), close
     * and free s. */
    void (*close)(rill__sink *s, int linger_ms);
} rill__sink_methods;

struct rill__sink {
    const rill__sink_methods *m;
    char endpoint[256]; /* resolved endpoint or file path */
    char errmsg[512];
    uint64_t dropped;
};

/* A PUB or PUSH sink for spec, bound or connected in context zctx. */
int rill__sink_zmq_open(void *zctx, const rill_engine_sink *spec, rill__sink **out,
                        char *err, size_t errlen);

/* A JSON-lines sink appending to spec->endpoint ("-" = standard output). */
int rill__sink_jsonl_open(const rill_engine_sink *spec, rill__sink **out, char *err,
                          size_t errlen);

static inline int rill__sink_send(rill__sink *s, const char *topic, const void *payload,
                                  size_t len) {
    int rc = s->m->send(s, topic, payload, len);
    if (rc == RILL_EFULL) s->dropped++;
    return rc;
}

static inline int rill__sink_flush(rill__sink *s) {
    return s->m->flush ? s->m->flush(s) : RILL_OK;
}

static inline void rill__sink_close(rill__sink *s, int linger_ms) {
    if (s) s->m->close(s, linger_ms);
}

#endif
