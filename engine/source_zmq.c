/* engine/source_zmq.c — ZeroMQ sources: PULL, SUB and the reliable ROUTER.
 *
 * The idea: a source takes messages off its socket without blocking and
 * hands each payload to the codec, which appends the good events straight to
 * the source's columnar batch; the run loop decides when a batch is full or
 * has lingered long enough. Messages are received into one reused zmq_msg_t,
 * so the only allocation per message is the one ZeroMQ itself makes for a
 * large frame.
 *
 * Reliable sources (ROUTER) carry [routing id, seq, payload]. Per producer
 * (its routing id) the source keeps the last sequence number applied; an
 * accepted message must be exactly the next one, so the applied messages of
 * a producer are always a prefix of its stream, which is what lets a commit
 * record "applied up to N" and a resend be recognised as a duplicate. The
 * acks owed are kept as runs [first, last] per producer in arrival order and
 * are only sent when the engine says the batch was committed. As commits are
 * written in the background, the runs a started commit covers are sealed
 * (the first n_sealed runs; acks arriving later open new runs) and sent
 * when that commit is written.
 *
 * The table of last applied numbers is saved into the engine's commits and
 * loaded on restart. After a restart ("cautious"), a producer missing from
 * the table may be one whose first messages were applied by the previous
 * process but never committed; its first message here may be a new one
 * sent after reconnecting, not its oldest unacknowledged one, so starting
 * there would drop the older ones as duplicates. A cautious source takes
 * such a producer at once only from seq 1; otherwise it drops its messages
 * (as gaps) while remembering the lowest number seen, and starts at that
 * number when it comes a second time: producers resend from their oldest
 * unacknowledged message, so the lowest number seen twice is that one.
 *
 * It never forgets a producer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zmq.h>

#include "engine/batch.h"
#include "engine/source_zmq.h"

typedef struct producer {
    struct producer *next; /* hash chain */
    uint64_t last;         /* last applied sequence number */
    uint64_t min_seen;     /* unconfirmed: the lowest number seen so far */
    bool unconfirmed;      /* cautious: not started yet (see the top) */
    size_t open_run;       /* index + 1 of its run in the pending acks, 0 = none */
    size_t idlen;
    unsigned char id[];    /* routing id */
} producer;

typedef struct ack_run {
    producer *p;
    uint64_t first, last;
} ack_run;

struct rill__source {
    char *name;
    rill_source_kind kind;
    void *sock;
    char endpoint[256];
    rill_decoder *dec;
    rill_batch *batch;
    rill__source_counts counts;
    rill__dead_hook hook;
    void *user;
    zmq_msg_t frame;
    /* reliable */
    producer **buckets;
    size_t n_buckets, n_producers;
    ack_run *runs;
    size_t n_runs, cap_runs;
    size_t n_sealed; /* runs[0, n_sealed): covered by the commit in flight */
    bool cautious;         /* restarted: new producers start only at seq 1 */
    bool changed;          /* a last applied number changed since the save */
};

/* ---- dead letters ------------------------------------------------------------ */

static void on_codec_dead(const rill_dead_letter *d, void *user) {
    rill__source *s = user;
    rill__dead_info info = {
        .source = s->name, .reason = (int)d->reason, .detail = d->detail,
        .index = d->index, .offset = d->offset, .msg_size = 0,
        .bytes = d->bytes, .len = d->len,
    };
    /* the payload size is only known to the caller of decode: it is kept in
     * the frame being decoded */
    info.msg_size = zmq_msg_size(&s->frame);
    s->hook(s->user, &info);
}

static void envelope_dead(rill__source *s, const char *detail, const void *bytes, size_t len) {
    s->counts.envelope_rejected++;
    rill__dead_info info = {
        .source = s->name, .reason = RILL__DEAD_BAD_ENVELOPE, .detail = detail,
        .index = SIZE_MAX, .offset = 0, .msg_size = len, .bytes = bytes, .len = len,
    };
    s->hook(s->user, &info);
}

/* ---- open / close -------------------------------------------------------------- */

int rill__source_open(void *zctx, const rill_engine_source *spec, const rill_schema *schema,
                      const rill_source_opts *sopts, size_t max_message_bytes,
                      rill__dead_hook hook, void *user, rill__source **out, char *err,
                      size_t errlen) {
    *out = NULL;
    int rc = RILL_ENOMEM;
    rill__source *s = calloc(1, sizeof *s);
    if (!s) goto fail;
    zmq_msg_init(&s->frame);
    s->kind = spec->kind;
    s->hook = hook;
    s->user = user;
    s->name = strdup(spec->source);
    if (!s->name) goto fail;
    rill_decode_opts dopts = {
        .schema = schema,
        .strict = spec->strict,
        .processing_time = sopts->time == RILL_TIME_PROCESSING,
        .keyless = false,
        .max_message_bytes = max_message_bytes,
    };
    rc = rill__decoder_new(&dopts, &s->dec, err, errlen);
    if (rc != RILL_OK) goto fail;
    rc = RILL_ENOMEM;
    s->batch = rill_batch_new(schema, 1024);
    if (!s->batch) goto fail;
    if (s->kind == RILL_SOURCE_ROUTER) {
        s->n_buckets = 64;
        s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
        if (!s->buckets) goto fail;
    }

    rc = RILL_EZMQ;
    int type = s->kind == RILL_SOURCE_SUB ? ZMQ_SUB
             : s->kind == RILL_SOURCE_ROUTER ? ZMQ_ROUTER : ZMQ_PULL;
    s->sock = zmq_socket(zctx, type);
    if (!s->sock) {
        snprintf(err, errlen, "source '%s': cannot make a socket: %s", s->name,
                 zmq_strerror(errno));
        goto fail;
    }
    int hwm = 100000, zero = 0, one = 1;
    zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* Messages a little over the limit are received and rejected with a
     * dead letter; far over it, ZeroMQ refuses them (and drops that
     * connection) before they take memory. */
    int64_t hard = 4 * (int64_t)(max_message_bytes ? max_message_bytes
                                                   : RILL_DECODE_DEFAULT_MAX_BYTES);
    if (hard < (1 << 20)) hard = 1 << 20;
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (s->kind == RILL_SOURCE_ROUTER) /* a restarted producer takes its id back */
        zmq_setsockopt(s->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    if (s->kind == RILL_SOURCE_SUB) {
        if (spec->n_topics == 0) {
            zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
        } else {
            for (size_t i = 0; i < spec->n_topics; i++) {
                const char *t = spec->topics[i] ? spec->topics[i] : "";
                zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, t, strlen(t));
            }
        }
    }
    if (spec->connect ? zmq_connect(s->sock, spec->endpoint)
                      : zmq_bind(s->sock, spec->endpoint)) {
        snprintf(err, errlen, "source '%s': cannot %s %s: %s", s->name,
                 spec->connect ? "connect to" : "bind", spec->endpoint, zmq_strerror(errno));
        goto fail;
    }
    size_t elen = sizeof s->endpoint;
    if (spec->connect || zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &elen))
        snprintf(s->endpoint, sizeof s->endpoint, "%s", spec->endpoint);
    *out = s;
    return RILL_OK;

fail:
    if (rc == RILL_ENOMEM) snprintf(err, errlen, "source: out of memory");
    rill__source_close(s);
    return rc;
}

void rill__source_close(rill__source *s) {
    if (!s) return;
    if (s->sock) zmq_close(s->sock);
    zmq_msg_close(&s->frame);
    for (size_t i = 0; i < s->n_buckets; i++) {
        producer *p = s->buckets[i];
        while (p) {
            producer *n = p->next;
            free(p);
            p = n;
        }
    }
    free(s->buckets);
    free(s->runs);
    rill_batch_free(s->batch);
    rill__decoder_free(s->dec);
    free(s->name);
    free(s);
}

void *rill__source_socket(const rill__source *s) { return s->sock; }
const char *rill__source_endpoint(const rill__source *s) { return s->endpoint; }
const char *rill__source_name(const rill__source *s) { return s->name; }
bool rill__source_is_reliable(const rill__source *s) { return s->kind == RILL_SOURCE_ROUTER; }
rill_batch *rill__source_batch(rill__source *s) { return s->batch; }
const rill__source_counts *rill__source_counts_get(const rill__source *s) { return &s->counts; }

/* ---- producers and acks ------------------------------------------------------------ */

static int grow_buckets(rill__source *s) {
    size_t n = s->n_buckets * 2;
    producer **b = calloc(n, sizeof *b);
    if (!b) return RILL_ENOMEM;
    for (size_t i = 0; i < s->n_buckets; i++) {
        producer *p = s->buckets[i];
        while (p) {
            producer *next = p->next;
            size_t h = (size_t)XXH3_64bits(p->id, p->idlen) & (n - 1);
            p->next = b[h];
            b[h] = p;
            p = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
    return RILL_OK;
}

/* The producer with this routing id, made (with last = seq - 1) when new;
 * *made says which. NULL on allocation failure. */
static producer *producer_get(rill__source *s, const void *id, size_t idlen, uint64_t seq,
                              bool *made) {
    size_t h = (size_t)XXH3_64bits(id, idlen) & (s->n_buckets - 1);
    *made = false;
    for (producer *p = s->buckets[h]; p; p = p->next)
        if (p->idlen == idlen && !memcmp(p->id, id, idlen)) return p;
    if (s->n_producers >= s->n_buckets && grow_buckets(s) == RILL_OK)
        h = (size_t)XXH3_64bits(id, idlen) & (s->n_buckets - 1);
    producer *p = malloc(sizeof *p + idlen);
    if (!p) return NULL;
    *made = true;
    p->last = seq - 1;
    p->min_seen = seq;
    p->unconfirmed = false;
    p->open_run = 0;
    p->idlen = idlen;
    memcpy(p->id, id, idlen);
    p->next = s->buckets[h];
    s->buckets[h] = p;
    s->n_producers++;
    return p;
}

/* Owe p an ack for seq: extend its current run when seq follows it. */
static int owe_ack(rill__source *s, producer *p, uint64_t seq) {
    if (p->open_run) {
        ack_run *r = &s->runs[p->open_run - 1];
        if (r->last + 1 == seq) {
            r->last = seq;
            return RILL_OK;
        }
    }
    if (s->n_runs == s->cap_runs) {
        size_t cap = s->cap_runs ? 2 * s->cap_runs : 64;
        ack_run *r = realloc(s->runs, cap * sizeof *r);
        if (!r) return RILL_ENOMEM;
        s->runs = r;
        s->cap_runs = cap;
    }
    s->runs[s->n_runs] = (ack_run){ .p = p, .first = seq, .last = seq };
    p->open_run = ++s->n_runs;
    return RILL_OK;
}

bool rill__source_acks_pending(const rill__source *s) { return s->n_runs > s->n_sealed; }

void rill__source_seal_acks(rill__source *s) {
    for (size_t i = s->n_sealed; i < s->n_runs; i++) s->runs[i].p->open_run = 0;
    s->n_sealed = s->n_runs;
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
}

void rill__source_send_acks(rill__source *s) {
    for (size_t i = 0; i < s->n_sealed; i++) {
        ack_run *r = &s->runs[i];
        unsigned char ack[16];
        put_be64(ack, r->first);
        put_be64(ack + 8, r->last);
        if (zmq_send(s->sock, r->p->id, r->p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_send(s->sock, ack, sizeof ack, ZMQ_DONTWAIT) >= 0)
            s->counts.acks++;
    }
    /* the runs owed since move to the front; their producers' open run
     * indices move with them */
    size_t rest = s->n_runs - s->n_sealed;
    if (rest) memmove(s->runs, s->runs + s->n_sealed, rest * sizeof *s->runs);
    for (size_t i = 0; i < rest; i++)
        if (s->runs[i].p->open_run == s->n_sealed + i + 1) s->runs[i].p->open_run = i + 1;
    s->n_runs = rest;
    s->n_sealed = 0;
}

void rill__source_drop_acks(rill__source *s) {
    for (size_t i = 0; i < s->n_runs; i++) s->runs[i].p->open_run = 0;
    s->n_runs = s->n_sealed = 0;
}

/* ---- receiving ------------------------------------------------------------------- */

/* Receive the rest of a multipart message, discarding its frames. */
static void skip_rest(rill__source *s) {
    int more = 0;
    size_t ml = sizeof more;
    while (zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
        if (zmq_msg_recv(&s->frame, s->sock, ZMQ_DONTWAIT) < 0) break;
        ml = sizeof more;
    }
}

static bool has_more(rill__source *s) { return zmq_msg_more(&s->frame) != 0; }

static uint64_t get_be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
    return v;
}

static int decode_frame(rill__source *s) {
    return rill__decoder_decode(s->dec, zmq_msg_data(&s->frame), zmq_msg_size(&s->frame),
                                s->batch, on_codec_dead, s, &s->counts.dec);
}

/* One reliable message: [id][seq][payload], the id frame already in s->frame. */
static int take_reliable(rill__source *s) {
    unsigned char id[256];
    size_t idlen = zmq_msg_size(&s->frame);
    if (idlen > sizeof id) idlen = sizeof id; /* ZeroMQ ids are at most 255 bytes */
    memcpy(id, zmq_msg_data(&s->frame), idlen);
    if (!has_more(s) || zmq_msg_recv(&s->frame, s->sock, ZMQ_DONTWAIT) < 0) {
        envelope_dead(s, "reliable message without a sequence frame (expected [seq, payload])",
                      "", 0);
        return RILL_OK;
    }
    s->counts.received_bytes += zmq_msg_size(&s->frame);
    if (zmq_msg_size(&s->frame) != 8 || !has_more(s)) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "reliable message must be [seq (8 bytes), payload]; first frame has %zu bytes%s",
                 zmq_msg_size(&s->frame), has_more(s) ? "" : " and no payload follows");
        size_t n = zmq_msg_size(&s->frame);
        envelope_dead(s, detail, zmq_msg_data(&s->frame), n);
        skip_rest(s);
        return RILL_OK;
    }
    uint64_t seq = get_be64(zmq_msg_data(&s->frame));
    if (zmq_msg_recv(&s->frame, s->sock, ZMQ_DONTWAIT) < 0) return RILL_OK;
    s->counts.received_bytes += zmq_msg_size(&s->frame);
    if (has_more(s)) {
        envelope_dead(s, "reliable message has frames after the payload",
                      zmq_msg_data(&s->frame), zmq_msg_size(&s->frame));
        skip_rest(s);
        return RILL_OK;
    }
    if (seq == 0) {
        envelope_dead(s, "sequence number 0 (they start at 1)", zmq_msg_data(&s->frame),
                      zmq_msg_size(&s->frame));
        return RILL_OK;
    }
    bool made;
    producer *p = producer_get(s, id, idlen, seq, &made);
    if (!p) return RILL_ENOMEM;
    if (made && s->cautious && seq != 1) {
        p->unconfirmed = true; /* wait for its resend (see the top) */
        s->counts.gaps++;
        return RILL_OK;
    }
    if (p->unconfirmed) {
        bool again = seq == p->min_seen;
        if (seq < p->min_seen) p->min_seen = seq;
        if (!again) {
            s->counts.gaps++;
            return RILL_OK;
        }
        p->unconfirmed = false;
        p->last = seq - 1;
    }
    if (seq <= p->last) { /* already applied: drop, but ack again */
        s->counts.duplicates++;
        return owe_ack(s, p, seq);
    }
    if (seq != p->last + 1) { /* something before it was lost: wait for the resend */
        s->counts.gaps++;
        return RILL_OK;
    }
    int rc = decode_frame(s);
    if (rc != RILL_OK) return rc;
    p->last = seq;
    s->changed = true;
    return owe_ack(s, p, seq);
}

int rill__source_drain(rill__source *s, size_t max_events, size_t *n_msgs, char *err,
                       size_t errlen) {
    size_t start = rill_batch_len(s->batch), taken = 0;
    int rc = RILL_OK;
    while (rill_batch_len(s->batch) - start < max_events) {
        if (zmq_msg_recv(&s->frame, s->sock, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            snprintf(err, errlen, "source '%s' (%s): receive failed: %s", s->name,
                     s->endpoint, zmq_strerror(errno));
            rc = RILL_EZMQ;
            break;
        }
        taken++;
        s->counts.received++;
        s->counts.received_bytes += zmq_msg_size(&s->frame);
        if (s->kind == RILL_SOURCE_ROUTER) {
            rc = take_reliable(s);
        } else {
            /* the payload is the last frame ([topic, payload] on SUB) */
            while (has_more(s) && zmq_msg_recv(&s->frame, s->sock, ZMQ_DONTWAIT) >= 0)
                s->counts.received_bytes += zmq_msg_size(&s->frame);
            rc = decode_frame(s);
        }
        if (rc != RILL_OK) {
            if (rc == RILL_ENOMEM) snprintf(err, errlen, "source '%s': out of memory", s->name);
            break;
        }
    }
    *n_msgs = taken;
    return rc;
}

/* ---- persisted sequence numbers ------------------------------------------------------ */

bool rill__source_producers_changed(const rill__source *s) { return s->changed; }

void rill__source_set_cautious(rill__source *s) { s->cautious = true; }

int rill__source_save_producers(rill__source *s, rill_buf *out) {
    size_t start = out->len;
    uint32_t n = 0;
    unsigned char b[8] = { 0 };
    if (rill__buf_append(out, b, 4) != RILL_OK) return RILL_ENOMEM; /* n, filled in below */
    for (size_t i = 0; i < s->n_buckets; i++)
        for (producer *p = s->buckets[i]; p; p = p->next) {
            if (p->unconfirmed || p->last == 0 || p->idlen > 255) continue;
            unsigned char l = (unsigned char)p->idlen;
            put_be64(b, p->last);
            if (rill__buf_append(out, &l, 1) || rill__buf_append(out, p->id, p->idlen) ||
                rill__buf_append(out, b, 8)) {
                out->len = start;
                return RILL_ENOMEM;
            }
            n++;
        }
    unsigned char *q = (unsigned char *)out->data + start;
    for (int i = 0; i < 4; i++) q[i] = (unsigned char)(n >> (24 - 8 * i));
    s->changed = false;
    return RILL_OK;
}

int rill__source_load_producers(rill__source *s, const void *data, size_t len, char *err,
                                size_t errlen) {
    const unsigned char *p = data, *end = p + len;
    if (len < 4) goto corrupt;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    p += 4;
    /* check the whole table first, so that a bad one changes nothing */
    const unsigned char *q = p;
    for (uint32_t i = 0; i < n; i++) {
        if (end - q < 1 || q[0] == 0 || (size_t)(end - q) < 1 + (size_t)q[0] + 8) goto corrupt;
        q += 1 + q[0] + 8;
    }
    if (q != end) goto corrupt;
    for (uint32_t i = 0; i < n; i++) {
        size_t idlen = p[0];
        uint64_t last = get_be64(p + 1 + idlen);
        bool made;
        producer *pr = producer_get(s, p + 1, idlen, last + 1, &made);
        if (!pr) {
            snprintf(err, errlen, "source '%s': out of memory loading sequence numbers", s->name);
            return RILL_ENOMEM;
        }
        pr->last = last;
        p += 1 + idlen + 8;
    }
    s->cautious = true;
    return RILL_OK;
corrupt:
    snprintf(err, errlen, "source '%s': the stored sequence numbers are damaged (%zu bytes)",
             s->name, len);
    return RILL_ECORRUPT;
}
