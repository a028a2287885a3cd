/* engine/source_zmq.h — ZeroMQ sources of the engine (internal).
 *
 * A source is one socket (PULL, SUB or a reliable ROUTER) feeding one graph
 * source. It receives messages without blocking, decodes them straight into
 * its own micro-batch and, for a ROUTER, keeps per-producer sequence numbers
 * and the acks owed for the batch being formed (see rill/engine.h for the
 * protocol). The engine runs the batch, commits, then tells the source to
 * send its acks (or to drop them when the commit failed).
 */
#ifndef RILL_ENGINE_SOURCE_ZMQ_H
#define RILL_ENGINE_SOURCE_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/codec.h"
#include "rill/engine.h"

/* Reasons beyond the codec's: the codec's values come first, then these. */
#define RILL__DEAD_BAD_ENVELOPE ((int)RILL_DEAD__COUNT) /* "bad_envelope" */
#define RILL__DEAD_REASONS (RILL__DEAD_BAD_ENVELOPE + 1)

/* One rejected event or message, as the engine publishes it. */
typedef struct rill__dead_info {
    const char *source;  /* graph source name */
    int reason;          /* < RILL__DEAD_REASONS */
    const char *detail;
    size_t index;        /* position in its array; SIZE_MAX = whole message */
    size_t offset;       /* byte offset where it went wrong */
    size_t msg_size;     /* size of the whole payload */
    const void *bytes;   /* the offending bytes (not truncated here) */
    size_t len;
} rill__dead_info;

typedef void (*rill__dead_hook)(void *user, const rill__dead_info *d);

typedef struct rill__source rill__source;

/* Per-source counters (plain, owned by the run loop's thread). */
typedef struct rill__source_counts {
    uint64_t received, received_bytes;
    uint64_t envelope_rejected;
    uint64_t duplicates, gaps, acks;
    rill_decode_counts dec;
} rill__source_counts;

/* Open the socket of spec in ZeroMQ context zctx and bind or connect it;
 * schema/sopts are the graph source's. Dead letters go to hook(user, ...).
 * On failure *out is NULL, nothing stays open and err says why. */
int rill__source_open(void *zctx, const rill_engine_source *spec, const rill_schema *schema,
                      const rill_source_opts *sopts, size_t max_message_bytes,
                      rill__dead_hook hook, void *user, rill__source **out, char *err,
                      size_t errlen);

/* Close the socket (dropping what is queued) and free s. Accepts NULL. */
void rill__source_close(rill__source *s);

void *rill__source_socket(const rill__source *s);
const char *rill__source_endpoint(const rill__source *s); /* resolved */
const char *rill__source_name(const rill__source *s);     /* graph source */
bool rill__source_is_reliable(const rill__source *s);     /* a ROUTER */
rill_batch *rill__source_batch(rill__source *s);
const rill__source_counts *rill__source_counts_get(const rill__source *s);

/* Receive and decode what is queued on the socket, without blocking, until
 * the queue is empty or at least max_events events were decoded into the
 * batch. *n_msgs is the number of messages taken. RILL_OK, RILL_ENOMEM
 * (the batch could not grow) or RILL_EZMQ (err says why). */
int rill__source_drain(rill__source *s, size_t max_events, size_t *n_msgs, char *err,
                       size_t errlen);

/* Acks owed for messages taken since the last seal (or send/drop). */
bool rill__source_acks_pending(const rill__source *s);

/* A commit covering every message taken so far has started: the acks owed
 * now are the ones the next send sends; later messages owe later acks. */
void rill__source_seal_acks(rill__source *s);

/* Send the sealed acks (call only once the commit that covers them is
 * written). Never blocks: an ack for a producer that went away is lost, and
 * the producer resends. */
void rill__source_send_acks(rill__source *s);

/* Forget the owed acks (the commit failed: the producers resend). */
void rill__source_drop_acks(rill__source *s);

/* ---- persisted sequence numbers (reliable sources) ----
 * A table of (routing id, last applied seq) per producer, in a versionless
 * byte form the engine wraps in its commit blob: u32 n, then n times
 * [u8 id length, id bytes, u64 last], integers big-endian. */

/* True when a producer's last applied number changed since the last save. */
bool rill__source_producers_changed(const rill__source *s);

/* Append the table of producers that had a message applied to out.
 * RILL_ENOMEM leaves out as it was. Marks the table saved. */
int rill__source_save_producers(rill__source *s, rill_buf *out);

/* Load a saved table (before any message was received), and from now on
 * take a producer that is not in it at once only from seq 1 (see
 * rill/engine.h: after a restart a new producer's first message may not be
 * its oldest unacknowledged one). RILL_ECORRUPT (err says why) for a
 * malformed table, which changes nothing; RILL_ENOMEM (the source is then
 * unusable). */
int rill__source_load_producers(rill__source *s, const void *data, size_t len, char *err,
                                size_t errlen);

/* Take a producer that is not known yet at once only from seq 1 (what
 * loading a table does), without loading one. */
void rill__source_set_cautious(rill__source *s);

#endif
