/* engine/codec.h — the msgpack wire codec (internal).
 *
 * Wire format: one ZeroMQ message is one msgpack map (one event) or an
 * array of maps (a batch of events). In each map:
 *   "ts"   integer ms since the epoch; required unless processing time.
 *          Floats are rejected (bad_ts), whole or not.
 *   "key"  string (at most RILL_KEY_MAX bytes) or integer; required unless
 *          keyless (a keyless event without a key gets the integer key 0).
 *   "id"   optional string (at most RILL_KEY_MAX bytes) or integer; nil = none.
 *   every other entry is a field of the source schema by name:
 *          f64    float32, float64 or integer (NaN and infinities rejected)
 *          i64    integer within int64
 *          bool   true / false
 *          string str (bin is not a string)
 *          nil    means the field is null, as if absent.
 * Unknown names are ignored and counted, or rejected in strict mode. A bad
 * event is reported with a reason and skipped; the other events of the same
 * array are still decoded. See rill__decoder_decode() for the whole-message
 * rejections (oversize, empty array, trailing bytes, unreadable structure).
 *
 * Encoding (msgpack-c): output records as one map each, and events in the
 * wire format above for producers and tools.
 */
#ifndef RILL_ENGINE_CODEC_H
#define RILL_ENGINE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rill/types.h"
#include "rill/graph.h"
#include "engine/buf.h"

/* ---- dead-letter reasons ---------------------------------------------------
 * X(NAME, "wire name") — the wire name is what the `dead` output carries. */
#define RILL_DEAD_REASON_MAP(X)                                                  \
    X(TRUNCATED,       "truncated")       /* the bytes end inside a value      */ \
    X(INVALID_MSGPACK, "invalid_msgpack") /* a byte that is no msgpack type    */ \
    X(NOT_A_MAP,       "not_a_map")       /* an event that is not a map        */ \
    X(EMPTY_ARRAY,     "empty_array")     /* a batch array with no events      */ \
    X(MISSING_TS,      "missing_ts")                                             \
    X(BAD_TS,          "bad_ts")          /* not an integer within int64       */ \
    X(MISSING_KEY,     "missing_key")                                            \
    X(BAD_KEY,         "bad_key")         /* not a string/integer, or too long */ \
    X(BAD_ID,          "bad_id")          /* not a string/integer/nil, too long */ \
    X(BAD_FIELD_NAME,  "bad_field_name")  /* a map key that is not a string    */ \
    X(WRONG_TYPE,      "wrong_type")      /* a field value of the wrong type   */ \
    X(OUT_OF_RANGE,    "out_of_range")    /* an integer beyond int64 (i64)     */ \
    X(NOT_FINITE,      "not_finite")      /* NaN or an infinity                */ \
    X(UNKNOWN_FIELD,   "unknown_field")   /* strict mode only                  */ \
    X(DUPLICATE_FIELD, "duplicate_field") /* a name twice in one map           */ \
    X(OVERSIZE,        "oversize")        /* message over max_message_bytes    */ \
    X(TRAILING_BYTES,  "trailing_bytes")  /* bytes after the top-level value   */

typedef enum rill_dead_reason {
#define RILL__DEAD_ENUM(name, str) RILL_DEAD_##name,
    RILL_DEAD_REASON_MAP(RILL__DEAD_ENUM)
#undef RILL__DEAD_ENUM
    RILL_DEAD__COUNT
} rill_dead_reason;

/* The wire name of a reason ("missing_ts"); "unknown" for a value out of
 * range. Static storage. */
const char *rill_dead_reason_name(rill_dead_reason r);

/* ---- decoding -------------------------------------------------------------- */

#define RILL_DECODE_DEFAULT_MAX_BYTES (16u << 20) /* 16 MiB */

typedef struct rill_decode_opts {
    const rill_schema *schema; /* required; copied by rill__decoder_new() */
    bool strict;               /* reject events with unknown fields */
    /* ts is optional; an event without one gets ts 0 and the caller sets the
     * ts column (the wall clock) after decoding. A ts that is present is
     * still checked and kept. */
    bool processing_time;
    bool keyless;              /* key optional (absent = integer key 0) */
    size_t max_message_bytes;  /* 0 = RILL_DECODE_DEFAULT_MAX_BYTES */
} rill_decode_opts;

/* One rejected event (or a whole rejected message). Every pointer lives only
 * until the callback returns. */
typedef struct rill_dead_letter {
    rill_dead_reason reason;
    const char *detail; /* for people: the field name, what was wrong, offset */
    size_t offset;      /* byte offset in the message where it went wrong */
    size_t index;       /* the event's position in its array (0 for a map);
                           SIZE_MAX when the whole message is rejected */
    const void *bytes;  /* the offending event's bytes: the whole event when
                           its extent is known, else from its start to the
                           end of the message */
    size_t len;
} rill_dead_letter;

typedef void (*rill_dead_fn)(const rill_dead_letter *d, void *user);

typedef struct rill_decode_counts {
    uint64_t messages;        /* messages seen */
    uint64_t events;          /* events appended to a batch */
    uint64_t rejected;        /* dead letters reported */
    uint64_t unknown_fields;  /* unknown entries ignored in accepted events */
    uint64_t by_reason[RILL_DEAD__COUNT];
} rill_decode_counts;

/* A decoder for one schema: field lookup tables and per-event scratch. Not
 * shared between threads (one per source / run loop). */
typedef struct rill_decoder rill_decoder;

/* Make a decoder for o->schema (copied: o and the schema may be freed
 * afterwards). RILL_EINVAL when o or its schema is missing or a schema field
 * is named "ts", "key" or "id" (errbuf, if given, says which);
 * RILL_ENOMEM. On failure *out is NULL. */
int rill__decoder_new(const rill_decode_opts *o, rill_decoder **out,
                      char *errbuf, size_t errlen);
void rill__decoder_free(rill_decoder *d); /* accepts NULL */

/* Decode one message of len bytes, appending each good event to out (whose
 * schema must equal the decoder's). Each bad event is reported to dead (may
 * be NULL) and skipped, leaving out as if it had never been seen; the events
 * after it in the same array are still decoded. A message as a whole is
 * rejected (one dead letter, index SIZE_MAX, nothing of it appended) when
 * it is over max_message_bytes, an empty array, neither a map nor an array,
 * or followed by trailing bytes. When the bytes end (truncated) or turn
 * unreadable inside an array, the events before are kept and the rest is
 * one dead letter. counts (may be NULL) is added to, never reset.
 * Returns RILL_OK, or RILL_ENOMEM (RILL_EFULL once its arena would pass
 * 4 GiB) when out cannot grow: then out holds the events of this message
 * decoded before that point, the rest is neither appended nor reported, and
 * the caller should hand out on, clear it and decode the message again into
 * an empty batch or drop it. */
int rill__decoder_decode(rill_decoder *d, const void *msg, size_t len,
                         rill_batch *out, rill_dead_fn dead, void *user,
                         rill_decode_counts *counts);

/* ---- encoding ---------------------------------------------------------------
 * Each appends to out; on RILL_ENOMEM out may hold a partial value (clear
 * it). */

/* An output record as one map: "op", "key", "start", "end", "ts", then "id"
 * if it is not null, "update": true if RILL_RECORD_UPDATE is set, then one
 * entry per aggregate name (f64 lists as arrays, null as nil). */
int rill__encode_record(const rill_record *r, rill_buf *out);

/* One event as a map in the wire format: "ts", "key", "id" (omitted when
 * id is RILL_NULL), then values[i] under rill_schema_field(s, i)->name for
 * each of the n = rill_schema_len(s) fields, nulls omitted. */
int rill__encode_event(const rill_schema *s, int64_t ts, rill_value key,
                       rill_value id, const rill_value *values, rill_buf *out);

/* Row `row` of batch b as an event map (same form as above). */
int rill__encode_batch_row(const rill_batch *b, size_t row, rill_buf *out);

/* The header of an array of n events; append the n event maps after it. */
int rill__encode_array_header(size_t n, rill_buf *out);

#endif
