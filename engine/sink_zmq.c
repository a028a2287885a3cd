/* engine/sink_zmq.c — PUB and PUSH sinks.
 *
 * Each output goes out as two frames, [topic, msgpack map], so a SUB peer
 * filters by output name and a PULL peer can still tell outputs apart.
 * Sends never block the run loop: PUB drops for a subscriber past its
 * high-water mark (that is ZeroMQ's PUB contract), and PUSH is sent with
 * ZMQ_DONTWAIT, a record that finds no ready peer being dropped and counted
 * rather than stalling every source behind one slow consumer.
 *
 * It does not retry, buffer beyond the socket's high-water mark or confirm
 * delivery; outputs that must not be lost belong in the JSON-lines sink or,
 * later, in the state backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "engine/sink.h"

typedef struct zsink {
    rill__sink base;
    void *sock;
} zsink;

static int zsink_send(rill__sink *s, const char *topic, const void *payload, size_t len) {
    zsink *z = (zsink *)s;
    if (zmq_send(z->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto fail;
    /* once the first frame is queued the rest of the message goes too */
    if (zmq_send(z->sock, payload, len, ZMQ_DONTWAIT) < 0) goto fail;
    return RILL_OK;
fail:
    if (errno == EAGAIN || errno == EINTR) return RILL_EFULL;
    snprintf(s->errmsg, sizeof s->errmsg, "sink %s: send failed: %s", s->endpoint,
             zmq_strerror(errno));
    return RILL_EZMQ;
}

static void zsink_close(rill__sink *s, int linger_ms) {
    zsink *z = (zsink *)s;
    if (z->sock) {
        int l = linger_ms < 0 ? 0 : linger_ms;
        zmq_setsockopt(z->sock, ZMQ_LINGER, &l, sizeof l);
        zmq_close(z->sock);
    }
    free(z);
}

static const rill__sink_methods zsink_methods = {
    .version = RILL__SINK_METHODS_VERSION,
    .kind = "zmq",
    .send = zsink_send,
    .flush = NULL,
    .close = zsink_close,
};

int rill__sink_zmq_open(void *zctx, const rill_engine_sink *spec, rill__sink **out,
                        char *err, size_t errlen) {
    *out = NULL;
    zsink *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "sink: out of memory");
        return RILL_ENOMEM;
    }
    z->base.m = &zsink_methods;
    const char *what = spec->kind == RILL_SINK_PUSH ? "PUSH" : "PUB";
    z->sock = zmq_socket(zctx, spec->kind == RILL_SINK_PUSH ? ZMQ_PUSH : ZMQ_PUB);
    if (!z->sock) {
        snprintf(err, errlen, "%s sink: cannot make a socket: %s", what, zmq_strerror(errno));
        goto fail;
    }
    int hwm = 100000;
    zmq_setsockopt(z->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (!spec->endpoint ||
        (spec->connect ? zmq_connect(z->sock, spec->endpoint) : zmq_bind(z->sock, spec->endpoint))) {
        snprintf(err, errlen, "%s sink: cannot %s %s: %s", what,
                 spec->connect ? "connect to" : "bind",
                 spec->endpoint ? spec->endpoint : "(no endpoint)",
                 spec->endpoint ? zmq_strerror(errno) : "an endpoint is required");
        goto fail;
    }
    size_t elen = sizeof z->base.endpoint;
    if (spec->connect || zmq_getsockopt(z->sock, ZMQ_LAST_ENDPOINT, z->base.endpoint, &elen))
        snprintf(z->base.endpoint, sizeof z->base.endpoint, "%s", spec->endpoint);
    *out = &z->base;
    return RILL_OK;
fail:
    zsink_close(&z->base, 0);
    return RILL_EZMQ;
}
