/* tests/fuzz/fuzz_decode.c — libFuzzer target for the msgpack event decoder.
 *
 * The first input byte picks the decoder options (strict, processing time,
 * keyless, a small size limit); the rest is the message. Beyond "no crash,
 * no out-of-bounds read" (the sanitizers watch that) it checks what the
 * decoder promises: every call is accounted for in the counts, dead letters
 * point inside the message, and every decoded row, re-encoded with the
 * codec's encoder, decodes to the same row. A broken promise aborts, which
 * libFuzzer reports as a crash with the input saved.
 *
 * Build and run: scripts/fuzz.sh [seconds].
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/codec.h"
#include "rill/error.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_decode: %s failed (line %d)\n", #c, __LINE__); abort(); } } while (0)

static const rill_field FIELDS[] = {
    { "price", RILL_F64 }, { "qty", RILL_I64 }, { "ok", RILL_BOOL },
    { "name", RILL_STRING }, { "hist", RILL_F64_LIST },
};
enum { NF = sizeof FIELDS / sizeof *FIELDS };

static rill_schema *schema;
static rill_decoder *dec[16];
static rill_batch *batch, *again;
static rill_buf buf;

typedef struct span_check { const uint8_t *msg; size_t len; uint64_t n; } span_check;

static void on_dead(const rill_dead_letter *d, void *user) {
    span_check *c = user;
    const uint8_t *b = d->bytes;
    CHECK(d->reason < RILL_DEAD__COUNT);
    CHECK(d->detail != NULL && strlen(d->detail) < 400);
    CHECK(d->offset <= c->len);
    CHECK(d->len <= c->len);
    if (d->len) CHECK(b >= c->msg && b + d->len <= c->msg + c->len);
    c->n++;
}

static void init(void) {
    schema = rill_schema_new(FIELDS, NF);
    CHECK(schema);
    for (int i = 0; i < 16; i++) {
        rill_decode_opts o = { .schema = schema, .strict = i & 1, .processing_time = i & 2,
                               .keyless = i & 4, .max_message_bytes = i & 8 ? 64 : 0 };
        CHECK(rill__decoder_new(&o, &dec[i], NULL, 0) == RILL_OK);
    }
    batch = rill_batch_new(schema, 16);
    again = rill_batch_new(schema, 1);
    CHECK(batch && again);
}

static int same_value(rill_value a, rill_value b) {
    if (a.type != b.type) return 0;
    switch (a.type) {
    case RILL_F64: return a.as.f64 == b.as.f64;
    case RILL_I64: return a.as.i64 == b.as.i64;
    case RILL_BOOL: return a.as.b == b.as.b;
    case RILL_STRING:
        return a.as.str.len == b.as.str.len && !memcmp(a.as.str.ptr, b.as.str.ptr, a.as.str.len);
    case RILL_F64_LIST:
        return a.as.list.len == b.as.list.len &&
               !memcmp(a.as.list.ptr, b.as.list.ptr, a.as.list.len * sizeof(double));
    default: return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!schema) init();
    if (size == 0) return 0;
    rill_decoder *d = dec[data[0] & 15];
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    /* copy to an exact-size heap block so ASan sees any read past the end */
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len) memcpy(copy, msg, len);
    rill_batch_clear(batch);
    rill_decode_counts counts = { 0 };
    span_check sc = { copy, len, 0 };
    CHECK(rill__decoder_decode(d, copy, len, batch, on_dead, &sc, &counts) == RILL_OK);
    CHECK(counts.messages == 1);
    CHECK(counts.events == rill_batch_len(batch));
    CHECK(counts.rejected == sc.n);
    uint64_t sum = 0;
    for (int i = 0; i < RILL_DEAD__COUNT; i++) sum += counts.by_reason[i];
    CHECK(sum == counts.rejected);
    /* a message with neither a good nor a bad event is impossible */
    CHECK(counts.events + counts.rejected >= 1);

    for (size_t r = 0; r < rill_batch_len(batch); r++) {
        rill__buf_clear(&buf);
        CHECK(rill__encode_batch_row(batch, r, &buf) == RILL_OK);
        rill_batch_clear(again);
        span_check sc2 = { (const uint8_t *)buf.data, buf.len, 0 };
        /* the lenient decoder without a size limit: a row is valid in any mode */
        CHECK(rill__decoder_decode(dec[0], buf.data, buf.len, again, on_dead, &sc2, NULL) == RILL_OK);
        CHECK(sc2.n == 0 && rill_batch_len(again) == 1);
        CHECK(rill_batch_ts(again, 0) == rill_batch_ts(batch, r));
        CHECK(same_value(rill_batch_key(again, 0), rill_batch_key(batch, r)));
        CHECK(again->key_hash[0] == batch->key_hash[r]);
        CHECK(same_value(rill_batch_id(again, 0), rill_batch_id(batch, r)));
        for (size_t i = 0; i < NF; i++)
            CHECK(same_value(rill_batch_get(again, 0, i), rill_batch_get(batch, r, i)));
    }
    free(copy);
    return 0;
}
