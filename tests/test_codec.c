/* tests/test_codec.c — the msgpack wire codec.
 *
 * Inputs are built with msgpack-c's packer directly (not with the codec's
 * own encoder), so the decoder is checked against an independent writer.
 * Random events are generated as plain structs, packed, decoded and compared
 * field by field with the struct; random byte mutations of valid messages
 * must never crash and whatever they decode must survive a re-encode/decode
 * unchanged. Seeds are printed so a failure can be replayed with
 * RILL_TEST_SEED=<n>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/codec.h"
#include "rill/rill.h"

/* ---- fixtures ------------------------------------------------------------- */

enum { F_PRICE, F_QTY, F_OK, F_NAME, NF };
static const rill_field FIELDS[NF] = {
    { "price", RILL_F64 }, { "qty", RILL_I64 }, { "ok", RILL_BOOL }, { "name", RILL_STRING },
};

typedef struct dead_rec {
    rill_dead_reason reason;
    char detail[400];
    size_t index, offset, len;
} dead_rec;

typedef struct dead_log {
    size_t n;
    dead_rec items[256];
} dead_log;

static void on_dead(const rill_dead_letter *d, void *user) {
    dead_log *l = user;
    assert_non_null(d->detail);
    assert_true(d->len == 0 || d->bytes != NULL);
    if (l->n < 256) {
        dead_rec *r = &l->items[l->n];
        r->reason = d->reason;
        snprintf(r->detail, sizeof r->detail, "%s", d->detail);
        r->index = d->index;
        r->offset = d->offset;
        r->len = d->len;
    }
    l->n++;
}

typedef struct fx {
    rill_schema *schema;
    rill_batch *batch;
    rill_decoder *dec;
    rill_decode_counts counts;
    dead_log log;
    msgpack_sbuffer sb;
    msgpack_packer pk;
} fx;

static void fx_init(fx *f, bool strict, bool processing_time, bool keyless, size_t max) {
    memset(f, 0, sizeof *f);
    f->schema = rill_schema_new(FIELDS, NF);
    assert_non_null(f->schema);
    f->batch = rill_batch_new(f->schema, 4);
    assert_non_null(f->batch);
    rill_decode_opts o = { .schema = f->schema, .strict = strict,
                           .processing_time = processing_time, .keyless = keyless,
                           .max_message_bytes = max };
    char err[128];
    assert_int_equal(rill__decoder_new(&o, &f->dec, err, sizeof err), RILL_OK);
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
}

static void fx_free(fx *f) {
    rill__decoder_free(f->dec);
    rill_batch_free(f->batch);
    rill_schema_free(f->schema);
    msgpack_sbuffer_destroy(&f->sb);
}

static int fx_decode(fx *f) {
    int rc = rill__decoder_decode(f->dec, f->sb.data, f->sb.size, f->batch, on_dead, &f->log,
                                  &f->counts);
    msgpack_sbuffer_clear(&f->sb);
    return rc;
}

static void pk_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* The good event that follows each bad one: ts 42, key "next", price 2.5. */
static void pack_next(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 42);
    pk_str(pk, "key"); pk_str(pk, "next");
    pk_str(pk, "price"); msgpack_pack_double(pk, 2.5);
}

static void assert_is_next(const rill_batch *b, size_t row) {
    assert_int_equal(rill_batch_ts(b, row), 42);
    rill_value k = rill_batch_key(b, row);
    assert_int_equal(k.type, RILL_STRING);
    assert_int_equal(k.as.str.len, 4);
    assert_memory_equal(k.as.str.ptr, "next", 4);
    rill_value p = rill_batch_get(b, row, F_PRICE);
    assert_int_equal(p.type, RILL_F64);
    assert_true(p.as.f64 == 2.5);
    for (size_t i = 1; i < NF; i++) assert_int_equal(rill_batch_get(b, row, i).type, RILL_NULL);
}

/* ---- round trips ------------------------------------------------------------ */

static void test_roundtrip_all_types(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 0);
    /* fields in an unusual order, id an integer, key a string */
    msgpack_pack_map(&f.pk, 7);
    pk_str(&f.pk, "name"); pk_str(&f.pk, "h\xc3\xa9llo");
    pk_str(&f.pk, "qty"); msgpack_pack_int64(&f.pk, INT64_MIN);
    pk_str(&f.pk, "key"); pk_str(&f.pk, "user-7");
    pk_str(&f.pk, "ok"); msgpack_pack_true(&f.pk);
    pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, 1700000000123);
    pk_str(&f.pk, "price"); msgpack_pack_double(&f.pk, -0.125);
    pk_str(&f.pk, "id"); msgpack_pack_uint64(&f.pk, 99);
    /* second event: integer key, string id, float32 price, i64 max */
    msgpack_pack_map(&f.pk, 6);
    pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, -5);
    pk_str(&f.pk, "key"); msgpack_pack_int64(&f.pk, -123456789012LL);
    pk_str(&f.pk, "id"); pk_str(&f.pk, "ev-1");
    pk_str(&f.pk, "price"); msgpack_pack_float(&f.pk, 1.5f);
    pk_str(&f.pk, "qty"); msgpack_pack_uint64(&f.pk, (uint64_t)INT64_MAX);
    pk_str(&f.pk, "ok"); msgpack_pack_false(&f.pk);
    /* decode both as separate messages, then as one array */
    msgpack_sbuffer two;
    msgpack_sbuffer_init(&two);
    msgpack_sbuffer_write(&two, f.sb.data, f.sb.size);
    size_t first_len = 0;
    {   /* the first map's length: unpack it */
        size_t off = 0;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, two.data, two.size, &off), MSGPACK_UNPACK_SUCCESS);
        first_len = off;
        msgpack_unpacked_destroy(&u);
    }
    msgpack_sbuffer_clear(&f.sb);
    assert_int_equal(rill__decoder_decode(f.dec, two.data, first_len, f.batch, on_dead, &f.log,
                                          &f.counts), RILL_OK);
    assert_int_equal(rill__decoder_decode(f.dec, two.data + first_len, two.size - first_len,
                                          f.batch, on_dead, &f.log, &f.counts), RILL_OK);
    msgpack_pack_array(&f.pk, 2);
    msgpack_sbuffer_write(&f.sb, two.data, two.size);
    assert_int_equal(fx_decode(&f), RILL_OK);
    msgpack_sbuffer_destroy(&two);

    assert_int_equal(f.log.n, 0);
    assert_int_equal(rill_batch_len(f.batch), 4);
    assert_int_equal(f.counts.messages, 3);
    assert_int_equal(f.counts.events, 4);
    for (size_t base = 0; base < 4; base += 2) {
        const rill_batch *b = f.batch;
        assert_int_equal(rill_batch_ts(b, base), 1700000000123);
        rill_value k = rill_batch_key(b, base);
        assert_int_equal(k.type, RILL_STRING);
        assert_memory_equal(k.as.str.ptr, "user-7", 6);
        rill_value id = rill_batch_id(b, base);
        assert_int_equal(id.type, RILL_I64);
        assert_int_equal(id.as.i64, 99);
        assert_true(rill_batch_get(b, base, F_PRICE).as.f64 == -0.125);
        assert_int_equal(rill_batch_get(b, base, F_QTY).as.i64, INT64_MIN);
        assert_int_equal(rill_batch_get(b, base, F_OK).type, RILL_BOOL);
        assert_true(rill_batch_get(b, base, F_OK).as.b);
        rill_value s = rill_batch_get(b, base, F_NAME);
        assert_int_equal(s.type, RILL_STRING);
        assert_int_equal(s.as.str.len, 6);
        assert_memory_equal(s.as.str.ptr, "h\xc3\xa9llo", 6);
        /* the key hash is the hash of the canonical key */
        unsigned char kb[RILL_KEY_ENC_MAX];
        size_t kl = rill__key_encode(rill_str("user-7"), kb);
        assert_true(b->key_hash[base] == rill__key_hash(kb, kl));

        size_t r = base + 1;
        assert_int_equal(rill_batch_ts(b, r), -5);
        k = rill_batch_key(b, r);
        assert_int_equal(k.type, RILL_I64);
        assert_int_equal(k.as.i64, -123456789012LL);
        id = rill_batch_id(b, r);
        assert_int_equal(id.type, RILL_STRING);
        assert_memory_equal(id.as.str.ptr, "ev-1", 4);
        assert_true(rill_batch_get(b, r, F_PRICE).as.f64 == 1.5);
        assert_int_equal(rill_batch_get(b, r, F_QTY).as.i64, INT64_MAX);
        assert_false(rill_batch_get(b, r, F_OK).as.b);
        assert_int_equal(rill_batch_get(b, r, F_NAME).type, RILL_NULL);
        kl = rill__key_encode(rill_i64(-123456789012LL), kb);
        assert_true(b->key_hash[r] == rill__key_hash(kb, kl));
    }
    fx_free(&f);
}

static void test_int_for_f64_and_nil_is_null(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 0);
    const int64_t ints[] = { 0, 7, -1, -200, 70000, -70000, 5000000000LL, INT64_MIN };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        msgpack_pack_map(&f.pk, 4);
        pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, 1);
        pk_str(&f.pk, "key"); msgpack_pack_int64(&f.pk, 1);
        pk_str(&f.pk, "price"); msgpack_pack_int64(&f.pk, ints[i]);
        pk_str(&f.pk, "name"); msgpack_pack_nil(&f.pk);
        assert_int_equal(fx_decode(&f), RILL_OK);
        rill_value v = rill_batch_get(f.batch, i, F_PRICE);
        assert_int_equal(v.type, RILL_F64);
        assert_true(v.as.f64 == (double)ints[i]);
        assert_int_equal(rill_batch_get(f.batch, i, F_NAME).type, RILL_NULL);
    }
    /* an unsigned integer above INT64_MAX is still a number for f64 */
    msgpack_pack_map(&f.pk, 3);
    pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, 1);
    pk_str(&f.pk, "key"); msgpack_pack_int64(&f.pk, 1);
    pk_str(&f.pk, "price"); msgpack_pack_uint64(&f.pk, UINT64_MAX);
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_true(rill_batch_get(f.batch, 8, F_PRICE).as.f64 == 18446744073709551615.0);
    /* nil id = no id */
    msgpack_pack_map(&f.pk, 3);
    pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, 1);
    pk_str(&f.pk, "key"); msgpack_pack_int64(&f.pk, 1);
    pk_str(&f.pk, "id"); msgpack_pack_nil(&f.pk);
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_int_equal(rill_batch_id(f.batch, 9).type, RILL_NULL);
    assert_int_equal(f.log.n, 0);
    fx_free(&f);
}

static void test_unknown_fields(void **state) {
    (void)state;
    for (int strict = 0; strict <= 1; strict++) {
        fx f;
        fx_init(&f, strict, false, false, 0);
        msgpack_pack_array(&f.pk, 2);
        msgpack_pack_map(&f.pk, 5);
        pk_str(&f.pk, "ts"); msgpack_pack_int64(&f.pk, 1);
        pk_str(&f.pk, "extra"); /* a nested value: skipped whole */
        msgpack_pack_map(&f.pk, 1); pk_str(&f.pk, "a"); msgpack_pack_array(&f.pk, 2);
        msgpack_pack_int(&f.pk, 1); msgpack_pack_nil(&f.pk);
        pk_str(&f.pk, "key"); pk_str(&f.pk, "k");
        pk_str(&f.pk, "other"); msgpack_pack_double(&f.pk, NAN); /* unknown: not checked */
        pk_str(&f.pk, "qty"); msgpack_pack_int(&f.pk, 3);
        pack_next(&f.pk);
        assert_int_equal(fx_decode(&f), RILL_OK);
        if (!strict) {
            assert_int_equal(f.log.n, 0);
            assert_int_equal(rill_batch_len(f.batch), 2);
            assert_int_equal(f.counts.unknown_fields, 2);
            assert_int_equal(rill_batch_get(f.batch, 0, F_QTY).as.i64, 3);
            assert_is_next(f.batch, 1);
        } else {
            assert_int_equal(f.log.n, 1);
            assert_int_equal(f.log.items[0].reason, RILL_DEAD_UNKNOWN_FIELD);
            assert_non_null(strstr(f.log.items[0].detail, "extra"));
            assert_int_equal(f.log.items[0].index, 0);
            assert_int_equal(rill_batch_len(f.batch), 1);
            assert_int_equal(f.counts.unknown_fields, 0);
            assert_int_equal(f.counts.by_reason[RILL_DEAD_UNKNOWN_FIELD], 1);
            assert_is_next(f.batch, 0);
        }
        fx_free(&f);
    }
}

/* ---- every dead reason ------------------------------------------------------- */

typedef void (*pack_fn)(msgpack_packer *pk);

static void ts_key(msgpack_packer *pk) {
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 7);
    pk_str(pk, "key"); pk_str(pk, "k");
}
static void bad_missing_ts(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "key"); pk_str(pk, "k");
    pk_str(pk, "price"); msgpack_pack_double(pk, 1);
}
static void bad_missing_key(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1);
    pk_str(pk, "qty"); msgpack_pack_int64(pk, 1);
}
static void bad_ts_float(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "key"); pk_str(pk, "k");
    pk_str(pk, "ts"); msgpack_pack_double(pk, 1000.0);
}
static void bad_ts_string(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "ts"); pk_str(pk, "2024-01-01");
    pk_str(pk, "key"); pk_str(pk, "k");
}
static void bad_ts_big(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "ts"); msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1);
    pk_str(pk, "key"); pk_str(pk, "k");
}
static void bad_key_float(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1);
    pk_str(pk, "key"); msgpack_pack_double(pk, 1.5);
}
static void bad_key_long(msgpack_packer *pk) {
    static char big[RILL_KEY_MAX + 1];
    memset(big, 'x', sizeof big);
    msgpack_pack_map(pk, 2);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1);
    pk_str(pk, "key"); msgpack_pack_str(pk, sizeof big); msgpack_pack_str_body(pk, big, sizeof big);
}
static void bad_key_nested(msgpack_packer *pk) {
    msgpack_pack_map(pk, 2);
    pk_str(pk, "key"); msgpack_pack_array(pk, 2); pk_str(pk, "a"); pk_str(pk, "b");
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 1);
}
static void bad_id_bool(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "id"); msgpack_pack_true(pk);
}
static void bad_wrong_str_for_f64(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "price"); pk_str(pk, "1.5");
}
static void bad_wrong_map_for_i64(msgpack_packer *pk) {
    msgpack_pack_map(pk, 4);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 7);
    pk_str(pk, "qty"); msgpack_pack_map(pk, 1); pk_str(pk, "n"); msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
    pk_str(pk, "key"); pk_str(pk, "k");
    pk_str(pk, "price"); msgpack_pack_double(pk, 1);
}
static void bad_wrong_float_for_i64(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "qty"); msgpack_pack_double(pk, 3.0);
}
static void bad_wrong_int_for_bool(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "ok"); msgpack_pack_int(pk, 1);
}
static void bad_wrong_bin_for_string(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "name"); msgpack_pack_bin(pk, 2); msgpack_pack_bin_body(pk, "ab", 2);
}
static void bad_wrong_array_for_string(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "name"); msgpack_pack_array(pk, 1); pk_str(pk, "x");
}
static void bad_nan(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "price"); msgpack_pack_double(pk, NAN);
}
static void bad_inf(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    pk_str(pk, "price"); msgpack_pack_double(pk, -INFINITY);
    ts_key(pk);
}
static void bad_inf32(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "price"); msgpack_pack_float(pk, INFINITY);
}
static void bad_qty_range(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "qty"); msgpack_pack_uint64(pk, UINT64_MAX);
}
static void bad_duplicate(msgpack_packer *pk) {
    msgpack_pack_map(pk, 4);
    ts_key(pk);
    pk_str(pk, "price"); msgpack_pack_double(pk, 1);
    pk_str(pk, "price"); msgpack_pack_double(pk, 2);
}
static void bad_duplicate_ts(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "ts"); msgpack_pack_int64(pk, 9);
}
static void bad_field_name(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    msgpack_pack_int(pk, 5); msgpack_pack_int(pk, 6);
}
static void bad_not_a_map(msgpack_packer *pk) {
    pk_str(pk, "ts=1 key=k");
}
static void bad_not_a_map_array(msgpack_packer *pk) {
    msgpack_pack_array(pk, 2); msgpack_pack_int(pk, 1); pk_str(pk, "k");
}
static void bad_invalid_byte(msgpack_packer *pk) {
    msgpack_pack_map(pk, 3);
    ts_key(pk);
    pk_str(pk, "price");
    msgpack_sbuffer_write(pk->data, "\xc1", 1);
}

static void bad_invalid_event(msgpack_packer *pk) {
    msgpack_sbuffer_write(pk->data, "\xc1", 1);
}

typedef struct bad_case {
    const char *what;
    pack_fn pack;
    rill_dead_reason reason;
    const char *detail_has; /* the field the detail must name */
} bad_case;

static const bad_case BAD_CASES[] = {
    { "missing ts", bad_missing_ts, RILL_DEAD_MISSING_TS, "'ts'" },
    { "missing key", bad_missing_key, RILL_DEAD_MISSING_KEY, "'key'" },
    { "float ts", bad_ts_float, RILL_DEAD_BAD_TS, "'ts'" },
    { "string ts", bad_ts_string, RILL_DEAD_BAD_TS, "'ts'" },
    { "ts above int64", bad_ts_big, RILL_DEAD_BAD_TS, "'ts'" },
    { "float key", bad_key_float, RILL_DEAD_BAD_KEY, "'key'" },
    { "key too long", bad_key_long, RILL_DEAD_BAD_KEY, "'key'" },
    { "array key", bad_key_nested, RILL_DEAD_BAD_KEY, "'key'" },
    { "bool id", bad_id_bool, RILL_DEAD_BAD_ID, "'id'" },
    { "string for f64", bad_wrong_str_for_f64, RILL_DEAD_WRONG_TYPE, "'price'" },
    { "map for i64", bad_wrong_map_for_i64, RILL_DEAD_WRONG_TYPE, "'qty'" },
    { "float for i64", bad_wrong_float_for_i64, RILL_DEAD_WRONG_TYPE, "'qty'" },
    { "int for bool", bad_wrong_int_for_bool, RILL_DEAD_WRONG_TYPE, "'ok'" },
    { "bin for string", bad_wrong_bin_for_string, RILL_DEAD_WRONG_TYPE, "'name'" },
    { "array for string", bad_wrong_array_for_string, RILL_DEAD_WRONG_TYPE, "'name'" },
    { "NaN", bad_nan, RILL_DEAD_NOT_FINITE, "'price'" },
    { "-inf", bad_inf, RILL_DEAD_NOT_FINITE, "'price'" },
    { "float32 inf", bad_inf32, RILL_DEAD_NOT_FINITE, "'price'" },
    { "u64 for i64", bad_qty_range, RILL_DEAD_OUT_OF_RANGE, "'qty'" },
    { "duplicate field", bad_duplicate, RILL_DEAD_DUPLICATE_FIELD, "'price'" },
    { "duplicate ts", bad_duplicate_ts, RILL_DEAD_DUPLICATE_FIELD, "'ts'" },
    { "integer map key", bad_field_name, RILL_DEAD_BAD_FIELD_NAME, "entry 2" },
    { "string event", bad_not_a_map, RILL_DEAD_NOT_A_MAP, "not a map" },
    { "array event", bad_not_a_map_array, RILL_DEAD_NOT_A_MAP, "not a map" },
    { "0xc1 value", bad_invalid_byte, RILL_DEAD_INVALID_MSGPACK, "'price'" },
    { "0xc1 event", bad_invalid_event, RILL_DEAD_INVALID_MSGPACK, "invalid byte" },
};

/* Each bad event, in a batch between good ones and alone as a message:
 * exactly it is rejected, with its reason and a detail naming the field,
 * and the good events around it are decoded. */
static void test_bad_events_in_batch(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof BAD_CASES / sizeof *BAD_CASES; c++) {
        const bad_case *bc = &BAD_CASES[c];
        fx f;
        fx_init(&f, false, false, false, 0);
        msgpack_pack_array(&f.pk, 3);
        pack_next(&f.pk);
        size_t bad_at = f.sb.size;
        bc->pack(&f.pk);
        size_t bad_len = f.sb.size - bad_at;
        pack_next(&f.pk);
        assert_int_equal(fx_decode(&f), RILL_OK);
        if (f.log.n != 1 || f.log.items[0].reason != bc->reason ||
            !strstr(f.log.items[0].detail, bc->detail_has))
            fail_msg("case '%s': %zu dead letters, first %s: %s", bc->what, f.log.n,
                     f.log.n ? rill_dead_reason_name(f.log.items[0].reason) : "-",
                     f.log.n ? f.log.items[0].detail : "-");
        assert_int_equal(f.log.items[0].index, 1);
        assert_int_equal(f.log.items[0].len, bad_len); /* the whole event */
        assert_true(f.log.items[0].offset >= bad_at &&
                    f.log.items[0].offset < bad_at + bad_len);
        assert_int_equal(rill_batch_len(f.batch), 2);
        assert_is_next(f.batch, 0);
        assert_is_next(f.batch, 1);
        assert_int_equal(f.counts.rejected, 1);
        assert_int_equal(f.counts.by_reason[bc->reason], 1);
        assert_int_equal(f.counts.events, 2);

        /* alone as a message, then the next message decodes */
        rill_batch_clear(f.batch);
        f.log.n = 0;
        bc->pack(&f.pk);
        assert_int_equal(fx_decode(&f), RILL_OK);
        size_t nd = f.log.n; /* an array event alone is a batch of non-maps */
        assert_true(nd >= 1);
        for (size_t i = 0; i < nd; i++) assert_int_equal(f.log.items[i].reason, bc->reason);
        assert_int_equal(rill_batch_len(f.batch), 0);
        pack_next(&f.pk);
        assert_int_equal(fx_decode(&f), RILL_OK);
        assert_int_equal(f.log.n, nd);
        assert_int_equal(rill_batch_len(f.batch), 1);
        assert_is_next(f.batch, 0);
        fx_free(&f);
    }
}

/* Reasons that concern a whole message: it is rejected as a whole, and the
 * next message still decodes. */
static void test_bad_messages(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 200);
    struct { const char *what; rill_dead_reason reason; const char *detail_has; } exp[8];
    size_t n = 0;

    /* oversize: a valid batch of 220+ bytes over a 200-byte limit */
    msgpack_pack_array(&f.pk, 10);
    for (int i = 0; i < 10; i++) pack_next(&f.pk);
    assert_true(f.sb.size > 200);
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "oversize"; exp[n].reason = RILL_DEAD_OVERSIZE; exp[n++].detail_has = "200";
    /* an empty array */
    msgpack_pack_array(&f.pk, 0);
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "empty"; exp[n].reason = RILL_DEAD_EMPTY_ARRAY; exp[n++].detail_has = "empty";
    /* trailing bytes after a valid batch of two: neither is kept */
    msgpack_pack_array(&f.pk, 2);
    pack_next(&f.pk);
    pack_next(&f.pk);
    msgpack_pack_int(&f.pk, 1);
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "trailing"; exp[n].reason = RILL_DEAD_TRAILING_BYTES; exp[n++].detail_has = "1 bytes";
    /* a number is not an event */
    msgpack_pack_int(&f.pk, 17);
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "number"; exp[n].reason = RILL_DEAD_NOT_A_MAP; exp[n++].detail_has = "integer";
    /* an empty message */
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "empty message"; exp[n].reason = RILL_DEAD_TRUNCATED; exp[n++].detail_has = "empty";
    /* 0xc1 alone */
    msgpack_sbuffer_write(&f.sb, "\xc1", 1);
    assert_int_equal(fx_decode(&f), RILL_OK);
    exp[n].what = "c1"; exp[n].reason = RILL_DEAD_INVALID_MSGPACK; exp[n++].detail_has = "invalid";

    assert_int_equal(rill_batch_len(f.batch), 0);
    assert_int_equal(f.log.n, n);
    for (size_t i = 0; i < n; i++) {
        if (f.log.items[i].reason != exp[i].reason || !strstr(f.log.items[i].detail, exp[i].detail_has))
            fail_msg("%s: got %s: %s", exp[i].what, rill_dead_reason_name(f.log.items[i].reason),
                     f.log.items[i].detail);
        assert_true(f.log.items[i].index == SIZE_MAX);
    }
    assert_int_equal(f.counts.events, 0);
    assert_int_equal(f.counts.messages, n);
    pack_next(&f.pk);
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_int_equal(rill_batch_len(f.batch), 1);
    assert_is_next(f.batch, 0);
    assert_int_equal(f.log.n, n);
    fx_free(&f);
}

/* Truncation inside a batch: the events before it stay, the rest is one
 * dead letter, the next message decodes. Every cut point of a 3-event batch
 * is tried; an oracle says how many whole events precede the cut. */
static void test_truncated(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 0);
    msgpack_pack_array(&f.pk, 3);
    size_t ends[3];
    for (int i = 0; i < 3; i++) {
        pack_next(&f.pk);
        ends[i] = f.sb.size;
    }
    size_t total = f.sb.size;
    char *whole = malloc(total);
    memcpy(whole, f.sb.data, total);
    msgpack_sbuffer_clear(&f.sb);
    for (size_t cut = 0; cut < total; cut++) {
        rill_batch_clear(f.batch);
        f.log.n = 0;
        assert_int_equal(rill__decoder_decode(f.dec, whole, cut, f.batch, on_dead, &f.log, NULL),
                         RILL_OK);
        size_t whole_events = 0;
        for (int i = 0; i < 3; i++) whole_events += ends[i] <= cut;
        assert_int_equal(rill_batch_len(f.batch), whole_events);
        for (size_t i = 0; i < whole_events; i++) assert_is_next(f.batch, i);
        assert_int_equal(f.log.n, 1);
        assert_int_equal(f.log.items[0].reason, RILL_DEAD_TRUNCATED);
        assert_true(f.log.items[0].index == (cut == 0 ? SIZE_MAX : whole_events));
        if (cut > 0) assert_non_null(strstr(f.log.items[0].detail, "event"));
    }
    /* a truncated single event, then a good message */
    rill_batch_clear(f.batch);
    f.log.n = 0;
    size_t one = ends[0] - 1; /* the first map, without the array header */
    assert_int_equal(rill__decoder_decode(f.dec, whole + 1, one - 1, f.batch, on_dead, &f.log,
                                          NULL), RILL_OK);
    assert_int_equal(f.log.n, 1);
    assert_int_equal(f.log.items[0].reason, RILL_DEAD_TRUNCATED);
    assert_int_equal(rill__decoder_decode(f.dec, whole + 1, one, f.batch, on_dead, &f.log, NULL),
                     RILL_OK);
    assert_int_equal(rill_batch_len(f.batch), 1);
    assert_is_next(f.batch, 0);
    free(whole);
    fx_free(&f);
}

static void test_processing_time_and_keyless(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, true, true, 0);
    msgpack_pack_array(&f.pk, 3);
    msgpack_pack_map(&f.pk, 1);
    pk_str(&f.pk, "qty"); msgpack_pack_int(&f.pk, 5);
    msgpack_pack_map(&f.pk, 2);
    pk_str(&f.pk, "ts"); msgpack_pack_int(&f.pk, 77);
    pk_str(&f.pk, "key"); pk_str(&f.pk, "kk");
    msgpack_pack_map(&f.pk, 1);
    pk_str(&f.pk, "ts"); pk_str(&f.pk, "soon"); /* present ts is still checked */
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_int_equal(rill_batch_len(f.batch), 2);
    assert_int_equal(rill_batch_ts(f.batch, 0), 0);
    rill_value k = rill_batch_key(f.batch, 0);
    assert_int_equal(k.type, RILL_I64);
    assert_int_equal(k.as.i64, 0);
    assert_int_equal(rill_batch_get(f.batch, 0, F_QTY).as.i64, 5);
    assert_int_equal(rill_batch_ts(f.batch, 1), 77);
    assert_int_equal(rill_batch_key(f.batch, 1).type, RILL_STRING);
    assert_int_equal(f.log.n, 1);
    assert_int_equal(f.log.items[0].reason, RILL_DEAD_BAD_TS);
    fx_free(&f);
}

static void test_key_limits_and_reason_names(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 0);
    static char big[RILL_KEY_MAX];
    memset(big, 'y', sizeof big);
    msgpack_pack_map(&f.pk, 3);
    pk_str(&f.pk, "ts"); msgpack_pack_int(&f.pk, 1);
    pk_str(&f.pk, "key"); msgpack_pack_str(&f.pk, sizeof big);
    msgpack_pack_str_body(&f.pk, big, sizeof big);
    pk_str(&f.pk, "id"); msgpack_pack_str(&f.pk, sizeof big);
    msgpack_pack_str_body(&f.pk, big, sizeof big);
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_int_equal(f.log.n, 0);
    assert_int_equal(rill_batch_key(f.batch, 0).as.str.len, RILL_KEY_MAX);
    assert_int_equal(rill_batch_id(f.batch, 0).as.str.len, RILL_KEY_MAX);
    /* names: distinct, lower-case, and the unknown value */
    for (int i = 0; i < RILL_DEAD__COUNT; i++) {
        const char *a = rill_dead_reason_name((rill_dead_reason)i);
        assert_string_not_equal(a, "unknown");
        for (int j = 0; j < i; j++) assert_string_not_equal(a, rill_dead_reason_name((rill_dead_reason)j));
    }
    assert_string_equal(rill_dead_reason_name(RILL_DEAD_MISSING_TS), "missing_ts");
    assert_string_equal(rill_dead_reason_name(RILL_DEAD__COUNT), "unknown");
    /* a schema field may not be named like a reserved entry */
    rill_decoder *d = (rill_decoder *)&f; /* poisoned: must be set to NULL */
    rill_decode_opts o = { 0 };
    assert_int_equal(rill__decoder_new(&o, &d, NULL, 0), RILL_EINVAL);
    assert_null(d);
    fx_free(&f);
}

/* Deep nesting in an ignored field is skipped without recursion; absurd
 * claimed lengths end as truncation, quickly. */
static void test_nesting_and_claimed_lengths(void **state) {
    (void)state;
    fx f;
    fx_init(&f, false, false, false, 0);
    enum { DEPTH = 200000 };
    msgpack_pack_array(&f.pk, 2);
    msgpack_pack_map(&f.pk, 3);
    ts_key(&f.pk);
    pk_str(&f.pk, "deep");
    for (int i = 0; i < DEPTH; i++) msgpack_pack_array(&f.pk, 1);
    msgpack_pack_nil(&f.pk);
    pack_next(&f.pk);
    assert_int_equal(fx_decode(&f), RILL_OK);
    assert_int_equal(f.log.n, 0);
    assert_int_equal(rill_batch_len(f.batch), 2);
    assert_is_next(f.batch, 1);

    static const unsigned char claims[][8] = {
        { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80 },       /* array32 of 4G events */
        { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa2, 't', 's' }, /* map32 of 4G pairs */
        { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' },        /* str32 of 4 GB */
        { 0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff }, /* unknown huge array */
    };
    static const size_t claim_len[] = { 6, 8, 6, 8 };
    for (size_t i = 0; i < 4; i++) {
        f.log.n = 0;
        assert_int_equal(rill__decoder_decode(f.dec, claims[i], claim_len[i], f.batch, on_dead,
                                              &f.log, NULL), RILL_OK);
        assert_true(f.log.n == 1 || i == 0); /* the first: an empty map event, then truncated */
        assert_int_equal(f.log.items[f.log.n - 1].reason, RILL_DEAD_TRUNCATED);
    }
    assert_int_equal(rill_batch_len(f.batch), 2);
    fx_free(&f);
}

static void test_f64_list_field(void **state) {
    (void)state;
    const rill_field lf[] = { { "hist", RILL_F64_LIST }, { "x", RILL_F64 } };
    rill_schema *s = rill_schema_new(lf, 2);
    assert_non_null(s);
    rill_batch *b = rill_batch_new(s, 1);
    rill_decoder *d;
    rill_decode_opts o = { .schema = s };
    assert_int_equal(rill__decoder_new(&o, &d, NULL, 0), RILL_OK);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    for (int ev = 0; ev < 4; ev++) {
        msgpack_pack_map(&pk, 4);
        pk_str(&pk, "key"); pk_str(&pk, ev & 1 ? "odd" : "e"); /* misaligns the arena */
        pk_str(&pk, "hist");
        msgpack_pack_array(&pk, 3);
        msgpack_pack_double(&pk, 0.5 * ev);
        if (ev == 2) pk_str(&pk, "no"); else msgpack_pack_int(&pk, -ev);
        msgpack_pack_float(&pk, 2.0f);
        pk_str(&pk, "ts"); msgpack_pack_int(&pk, ev);
        pk_str(&pk, "x"); msgpack_pack_double(&pk, ev);
    }
    dead_log log = { 0 };
    assert_int_equal(rill__decoder_decode(d, sb.data, sb.size, b, on_dead, &log, NULL), RILL_OK);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.items[0].reason, RILL_DEAD_WRONG_TYPE);
    assert_non_null(strstr(log.items[0].detail, "'hist'"));
    assert_int_equal(rill_batch_len(b), 3);
    const int evs[] = { 0, 1, 3 };
    for (size_t r = 0; r < 3; r++) {
        rill_value v = rill_batch_get(b, r, 0);
        assert_int_equal(v.type, RILL_F64_LIST);
        assert_int_equal(v.as.list.len, 3);
        assert_int_equal((uintptr_t)v.as.list.ptr % 8, 0);
        assert_true(v.as.list.ptr[0] == 0.5 * evs[r]);
        assert_true(v.as.list.ptr[1] == -evs[r]);
        assert_true(v.as.list.ptr[2] == 2.0);
        assert_true(rill_batch_get(b, r, 1).as.f64 == evs[r]);
    }
    msgpack_sbuffer_destroy(&sb);
    rill__decoder_free(d);
    rill_batch_free(b);
    rill_schema_free(s);
}

/* ---- random events against an oracle ----------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

static uint64_t seed_from_env(void) {
    const char *s = getenv("RILL_TEST_SEED");
    return s ? strtoull(s, NULL, 10) : 20240611ull;
}

typedef struct tev {
    int64_t ts;
    bool key_is_int;
    int64_t key_i;
    char key_s[24];
    int id_kind; /* 0 none, 1 nil, 2 int, 3 string */
    int64_t id_i;
    char id_s[24];
    bool has[NF];
    int price_enc; /* 0 double, 1 float, 2 int */
    double price;    /* the value the decoder must produce */
    int64_t price_i; /* what is sent when price_enc is 2 */
    int64_t qty;
    bool ok;
    char name[40];
    size_t name_len;
    int n_unknown;
    int bad; /* 0 good, else the kind of defect (see pack_tev) */
} tev;

static int64_t rnd_int(void) {
    switch (rnd_below(5)) {
    case 0: return (int64_t)rnd_below(128);
    case 1: return -(int64_t)rnd_below(33);
    case 2: return (int64_t)(rnd() >> rnd_below(64));
    case 3: return -(int64_t)(rnd() >> (1 + rnd_below(63)));
    default: return rnd_below(2) ? INT64_MAX : INT64_MIN;
    }
}

static void gen_tev(tev *e, bool allow_bad) {
    memset(e, 0, sizeof *e);
    e->ts = rnd_int();
    e->key_is_int = rnd_below(2);
    e->key_i = rnd_int();
    snprintf(e->key_s, sizeof e->key_s, "k%llu", (unsigned long long)rnd_below(1000));
    e->id_kind = (int)rnd_below(4);
    e->id_i = rnd_int();
    snprintf(e->id_s, sizeof e->id_s, "id-%llu", (unsigned long long)rnd());
    for (int i = 0; i < NF; i++) e->has[i] = rnd_below(3) != 0;
    e->price_enc = (int)rnd_below(3);
    if (e->price_enc == 0) e->price = ((double)(int64_t)rnd() / 1e6) * (rnd_below(2) ? 1e-200 : 1);
    else if (e->price_enc == 1) e->price = (double)(float)((double)(int32_t)rnd() / 1000.0);
    else { e->price_i = rnd_int(); e->price = (double)e->price_i; }
    e->qty = rnd_int();
    e->ok = rnd_below(2);
    e->name_len = rnd_below(sizeof e->name);
    for (size_t i = 0; i < e->name_len; i++) e->name[i] = (char)rnd_below(256);
    e->n_unknown = (int)rnd_below(3);
    e->bad = allow_bad && rnd_below(4) == 0 ? 1 + (int)rnd_below(4) : 0;
    /* the defect's field must not also be sent well-formed */
    if (e->bad == 2) e->has[F_QTY] = false;
    if (e->bad == 3) e->has[F_PRICE] = false;
}

static const rill_dead_reason BAD_KIND_REASON[] = {
    RILL_DEAD__COUNT, RILL_DEAD_MISSING_TS, RILL_DEAD_WRONG_TYPE, RILL_DEAD_NOT_FINITE,
    RILL_DEAD_DUPLICATE_FIELD,
};

/* Pack e with its entries in a random order (and its defect, if any). */
static void pack_tev(msgpack_packer *pk, const tev *e) {
    int order[16], n = 0;
    if (e->bad != 1) order[n++] = 100; /* ts */
    order[n++] = 101;                  /* key */
    if (e->id_kind) order[n++] = 102;
    for (int i = 0; i < NF; i++)
        if (e->has[i]) order[n++] = i;
    for (int i = 0; i < e->n_unknown; i++) order[n++] = 200 + i;
    if (e->bad >= 2) order[n++] = 300;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rnd_below((uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    msgpack_pack_map(pk, (size_t)n);
    for (int k = 0; k < n; k++) {
        switch (order[k]) {
        case 100: pk_str(pk, "ts"); msgpack_pack_int64(pk, e->ts); break;
        case 101:
            pk_str(pk, "key");
            if (e->key_is_int) msgpack_pack_int64(pk, e->key_i); else pk_str(pk, e->key_s);
            break;
        case 102:
            pk_str(pk, "id");
            if (e->id_kind == 1) msgpack_pack_nil(pk);
            else if (e->id_kind == 2) msgpack_pack_int64(pk, e->id_i);
            else pk_str(pk, e->id_s);
            break;
        case F_PRICE:
            pk_str(pk, "price");
            if (e->price_enc == 0) msgpack_pack_double(pk, e->price);
            else if (e->price_enc == 1) msgpack_pack_float(pk, (float)e->price);
            else msgpack_pack_int64(pk, e->price_i);
            break;
        case F_QTY: pk_str(pk, "qty"); msgpack_pack_int64(pk, e->qty); break;
        case F_OK: pk_str(pk, "ok"); if (e->ok) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
        case F_NAME:
            pk_str(pk, "name");
            msgpack_pack_str(pk, e->name_len);
            msgpack_pack_str_body(pk, e->name, e->name_len);
            break;
        case 300: /* the defect */
            if (e->bad == 2) { pk_str(pk, "qty"); pk_str(pk, "seven"); }
            else if (e->bad == 3) { pk_str(pk, "price"); msgpack_pack_double(pk, INFINITY); }
            else { pk_str(pk, "key"); msgpack_pack_int(pk, 1); }
            break;
        default: /* unknown fields */
            pk_str(pk, order[k] == 200 ? "zz_unknown" : "meta");
            if (order[k] == 200) msgpack_pack_double(pk, 1.0);
            else { msgpack_pack_array(pk, 2); pk_str(pk, "a"); msgpack_pack_map(pk, 0); }
        }
    }
}

/* The oracle: does row r of b hold exactly event e? */
static void assert_row_is(const rill_batch *b, size_t r, const tev *e, uint64_t seed) {
    bool ok = rill_batch_ts(b, r) == e->ts;
    rill_value k = rill_batch_key(b, r);
    if (e->key_is_int) ok = ok && k.type == RILL_I64 && k.as.i64 == e->key_i;
    else ok = ok && k.type == RILL_STRING && k.as.str.len == strlen(e->key_s) &&
              !memcmp(k.as.str.ptr, e->key_s, k.as.str.len);
    rill_value id = rill_batch_id(b, r);
    if (e->id_kind <= 1) ok = ok && id.type == RILL_NULL;
    else if (e->id_kind == 2) ok = ok && id.type == RILL_I64 && id.as.i64 == e->id_i;
    else ok = ok && id.type == RILL_STRING && id.as.str.len == strlen(e->id_s) &&
              !memcmp(id.as.str.ptr, e->id_s, id.as.str.len);
    for (int i = 0; i < NF; i++) {
        rill_value v = rill_batch_get(b, r, (size_t)i);
        if (!e->has[i]) { ok = ok && v.type == RILL_NULL; continue; }
        switch (i) {
        case F_PRICE: {
            ok = ok && v.type == RILL_F64 && v.as.f64 == e->price;
            break;
        }
        case F_QTY: ok = ok && v.type == RILL_I64 && v.as.i64 == e->qty; break;
        case F_OK: ok = ok && v.type == RILL_BOOL && v.as.b == e->ok; break;
        case F_NAME:
            ok = ok && v.type == RILL_STRING && v.as.str.len == e->name_len &&
                 !memcmp(v.as.str.ptr, e->name, e->name_len);
            break;
        }
    }
    if (!ok) fail_msg("row %zu differs from the event sent (seed %llu)", r, (unsigned long long)seed);
}

static void test_random_against_oracle(void **state) {
    (void)state;
    uint64_t seed = seed_from_env();
    rng_state = seed;
    printf("test_random_against_oracle: seed %llu\n", (unsigned long long)seed);
    fx f;
    fx_init(&f, false, false, false, 0);
    static tev evs[300];
    for (int round = 0; round < 400; round++) {
        rill_batch_clear(f.batch);
        f.log.n = 0;
        bool as_array = rnd_below(4) != 0;
        size_t n = as_array ? 1 + rnd_below(rnd_below(2) ? 8 : 300) : 1;
        if (as_array) msgpack_pack_array(&f.pk, n);
        for (size_t i = 0; i < n; i++) {
            gen_tev(&evs[i], true);
            pack_tev(&f.pk, &evs[i]);
        }
        assert_int_equal(fx_decode(&f), RILL_OK);
        size_t row = 0, dead = 0;
        for (size_t i = 0; i < n; i++) {
            if (evs[i].bad) {
                if (dead >= f.log.n || f.log.items[dead].reason != BAD_KIND_REASON[evs[i].bad] ||
                    f.log.items[dead].index != (as_array ? i : 0))
                    fail_msg("event %zu: expected dead letter %s (seed %llu)", i,
                             rill_dead_reason_name(BAD_KIND_REASON[evs[i].bad]),
                             (unsigned long long)seed);
                dead++;
                continue;
            }
            assert_true(row < rill_batch_len(f.batch));
            assert_row_is(f.batch, row++, &evs[i], seed);
        }
        assert_int_equal(row, rill_batch_len(f.batch));
        assert_int_equal(dead, f.log.n);
    }
    uint64_t sum = 0;
    for (int i = 0; i < RILL_DEAD__COUNT; i++) sum += f.counts.by_reason[i];
    assert_true(sum == f.counts.rejected);
    fx_free(&f);
}

/* Events written by the codec's own encoder decode to the same rows. */
static void test_encoder_roundtrip(void **state) {
    (void)state;
    uint64_t seed = seed_from_env() + 1;
    rng_state = seed;
    fx f;
    fx_init(&f, true, false, false, 0);
    rill_buf buf = { 0 };
    rill_batch *again = rill_batch_new(f.schema, 1);
    static tev evs[64];
    assert_int_equal(rill__encode_array_header(64, &buf), RILL_OK);
    for (int i = 0; i < 64; i++) {
        gen_tev(&evs[i], false);
        evs[i].n_unknown = 0;
        rill_value vals[NF] = { rill_null(), rill_null(), rill_null(), rill_null() };
        if (evs[i].has[F_PRICE]) vals[F_PRICE] = rill_f64(evs[i].price);
        if (evs[i].has[F_QTY]) vals[F_QTY] = rill_i64(evs[i].qty);
        if (evs[i].has[F_OK]) vals[F_OK] = rill_bool(evs[i].ok);
        if (evs[i].has[F_NAME]) vals[F_NAME] = rill_strn(evs[i].name, evs[i].name_len);
        rill_value key = evs[i].key_is_int ? rill_i64(evs[i].key_i) : rill_str(evs[i].key_s);
        rill_value id = evs[i].id_kind == 2 ? rill_i64(evs[i].id_i)
                      : evs[i].id_kind == 3 ? rill_str(evs[i].id_s) : rill_null();
        assert_int_equal(rill__encode_event(f.schema, evs[i].ts, key, id, vals, &buf), RILL_OK);
    }
    assert_int_equal(rill__decoder_decode(f.dec, buf.data, buf.len, f.batch, on_dead, &f.log,
                                          NULL), RILL_OK);
    assert_int_equal(f.log.n, 0);
    assert_int_equal(rill_batch_len(f.batch), 64);
    for (size_t i = 0; i < 64; i++) assert_row_is(f.batch, i, &evs[i], seed);
    /* and each row re-encoded from the batch decodes to itself */
    for (size_t i = 0; i < 64; i++) {
        rill__buf_clear(&buf);
        assert_int_equal(rill__encode_batch_row(f.batch, i, &buf), RILL_OK);
        assert_int_equal(rill__decoder_decode(f.dec, buf.data, buf.len, again, on_dead, &f.log,
                                              NULL), RILL_OK);
        assert_row_is(again, i, &evs[i], seed);
    }
    rill__buf_free(&buf);
    rill_batch_free(again);
    fx_free(&f);
}

/* An output record unpacked by msgpack-c's own unpacker. */
static void test_encode_record(void **state) {
    (void)state;
    const char *names[] = { "count", "mean", "last", "seq", "gone" };
    const double seq[] = { 1.5, -2, 3e300 };
    rill_value vals[5] = { rill_i64(12), rill_f64(0.25), rill_str("abc"), rill_null(),
                           rill_null() };
    vals[3].type = RILL_F64_LIST;
    vals[3].as.list.ptr = seq;
    vals[3].as.list.len = 3;
    rill_record r = { .op = "per_user", .key = rill_str("u1"), .start = 1000, .end = 2000,
                      .ts = 1999, .id = rill_i64(-3), .flags = RILL_RECORD_UPDATE,
                      .n_values = 5, .names = names, .values = vals };
    rill_buf buf = { 0 };
    assert_int_equal(rill__encode_record(&r, &buf), RILL_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, buf.len);
    msgpack_object o = u.data;
    assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(o.via.map.size, 12);
    const char *want_keys[] = { "op", "key", "start", "end", "ts", "id", "update",
                                "count", "mean", "last", "seq", "gone" };
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        msgpack_object k = o.via.map.ptr[i].key, v = o.via.map.ptr[i].val;
        assert_int_equal(k.type, MSGPACK_OBJECT_STR);
        assert_int_equal(k.via.str.size, strlen(want_keys[i]));
        assert_memory_equal(k.via.str.ptr, want_keys[i], k.via.str.size);
        switch (i) {
        case 0: assert_memory_equal(v.via.str.ptr, "per_user", 8); break;
        case 1: assert_int_equal(v.type, MSGPACK_OBJECT_STR); assert_memory_equal(v.via.str.ptr, "u1", 2); break;
        case 2: assert_int_equal(v.via.u64, 1000); break;
        case 3: assert_int_equal(v.via.u64, 2000); break;
        case 4: assert_int_equal(v.via.u64, 1999); break;
        case 5: assert_int_equal(v.type, MSGPACK_OBJECT_NEGATIVE_INTEGER); assert_int_equal(v.via.i64, -3); break;
        case 6: assert_int_equal(v.type, MSGPACK_OBJECT_BOOLEAN); assert_true(v.via.boolean); break;
        case 7: assert_int_equal(v.via.u64, 12); break;
        case 8: assert_int_equal(v.type, MSGPACK_OBJECT_FLOAT64); assert_true(v.via.f64 == 0.25); break;
        case 9: assert_int_equal(v.via.str.size, 3); break;
        case 10:
            assert_int_equal(v.type, MSGPACK_OBJECT_ARRAY);
            assert_int_equal(v.via.array.size, 3);
            for (int j = 0; j < 3; j++) assert_true(v.via.array.ptr[j].via.f64 == seq[j]);
            break;
        case 11: assert_int_equal(v.type, MSGPACK_OBJECT_NIL); break;
        }
    }
    msgpack_unpacked_destroy(&u);
    /* without id and update flag: 5 + 0 entries */
    rill__buf_clear(&buf);
    rill_record r2 = { .op = "x", .key = rill_i64(5), .start = 0, .end = 1, .ts = 0 };
    assert_int_equal(rill__encode_record(&r2, &buf), RILL_OK);
    msgpack_unpacked_init(&u);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.via.map.size, 5);
    msgpack_unpacked_destroy(&u);
    rill__buf_free(&buf);
}

/* ---- mutations ------------------------------------------------------------------ */

/* Random byte mutations of valid messages: no crash (ASan/UBSan builds
 * check the memory), every call accounted for, and every decoded row
 * survives encode + decode unchanged. */
static void test_mutations_never_crash(void **state) {
    (void)state;
    uint64_t seed = seed_from_env() + 2;
    rng_state = seed;
    printf("test_mutations_never_crash: seed %llu\n", (unsigned long long)seed);
    const char *iters_env = getenv("RILL_MUTATION_ITERS");
    long iters = iters_env ? atol(iters_env) : 300000;
    fx f;
    fx_init(&f, false, false, false, 4096);
    rill_decoder *strict;
    rill_decode_opts so = { .schema = f.schema, .strict = true, .keyless = true,
                            .processing_time = true };
    assert_int_equal(rill__decoder_new(&so, &strict, NULL, 0), RILL_OK);
    rill_batch *again = rill_batch_new(f.schema, 1);
    rill_buf buf = { 0 };
    unsigned char *m = malloc(8192);
    static tev evs[8];
    for (long it = 0; it < iters; it++) {
        if (it % 64 == 0) { /* a fresh valid message now and then */
            msgpack_sbuffer_clear(&f.sb);
            size_t n = 1 + rnd_below(6);
            if (n > 1 || rnd_below(2)) msgpack_pack_array(&f.pk, n);
            for (size_t i = 0; i < n; i++) {
                gen_tev(&evs[i], true);
                pack_tev(&f.pk, &evs[i]);
            }
        }
        size_t len = f.sb.size;
        memcpy(m, f.sb.data, len);
        int muts = 1 + (int)rnd_below(4);
        for (int k = 0; k < muts; k++) {
            size_t at = len ? rnd_below(len) : 0;
            switch (rnd_below(5)) {
            case 0: if (len) m[at] = (unsigned char)rnd(); break;
            case 1: if (len) m[at] ^= (unsigned char)(1u << rnd_below(8)); break;
            case 2: len = at; break; /* truncate */
            case 3: /* insert a byte */
                if (len < 8000) { memmove(m + at + 1, m + at, len - at); m[at] = (unsigned char)rnd(); len++; }
                break;
            default: /* an interesting byte */
                if (len) m[at] = (const unsigned char[]){ 0xc1, 0xdd, 0xdf, 0xdb, 0xcb, 0xff, 0x00, 0x90 }[rnd_below(8)];
            }
        }
        rill_batch_clear(f.batch);
        f.log.n = 0;
        rill_decode_counts before = f.counts;
        rill_decoder *dec = it & 1 ? strict : f.dec;
        assert_int_equal(rill__decoder_decode(dec, m, len, f.batch, on_dead, &f.log, &f.counts), RILL_OK);
        assert_int_equal(f.counts.messages, before.messages + 1);
        assert_int_equal(f.counts.events - before.events, rill_batch_len(f.batch));
        assert_int_equal(f.counts.rejected - before.rejected, f.log.n);
        for (size_t r = 0; r < rill_batch_len(f.batch); r++) {
            rill_batch_clear(again);
            rill__buf_clear(&buf);
            assert_int_equal(rill__encode_batch_row(f.batch, r, &buf), RILL_OK);
            dead_log l2 = { 0 };
            assert_int_equal(rill__decoder_decode(dec, buf.data, buf.len, again, on_dead, &l2, NULL), RILL_OK);
            assert_int_equal(l2.n, 0);
            assert_int_equal(rill_batch_len(again), 1);
            bool same = rill_batch_ts(again, 0) == rill_batch_ts(f.batch, r) &&
                        again->key_hash[0] == f.batch->key_hash[r];
            for (size_t i = 0; i < NF && same; i++) {
                rill_value a = rill_batch_get(again, 0, i), b = rill_batch_get(f.batch, r, i);
                same = a.type == b.type;
                if (same && a.type == RILL_F64) same = a.as.f64 == b.as.f64;
                if (same && a.type == RILL_I64) same = a.as.i64 == b.as.i64;
                if (same && a.type == RILL_BOOL) same = a.as.b == b.as.b;
                if (same && a.type == RILL_STRING)
                    same = a.as.str.len == b.as.str.len && !memcmp(a.as.str.ptr, b.as.str.ptr, a.as.str.len);
            }
            if (!same) fail_msg("iteration %ld: row %zu changed in a round trip (seed %llu)", it, r,
                                (unsigned long long)seed);
        }
    }
    printf("test_mutations_never_crash: %ld messages, %llu events kept, %llu dead letters\n",
           iters, (unsigned long long)f.counts.events, (unsigned long long)f.counts.rejected);
    free(m);
    rill__buf_free(&buf);
    rill_batch_free(again);
    rill__decoder_free(strict);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_int_for_f64_and_nil_is_null),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_bad_events_in_batch),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_processing_time_and_keyless),
        cmocka_unit_test(test_key_limits_and_reason_names),
        cmocka_unit_test(test_nesting_and_claimed_lengths),
        cmocka_unit_test(test_f64_list_field),
        cmocka_unit_test(test_random_against_oracle),
        cmocka_unit_test(test_encoder_roundtrip),
        cmocka_unit_test(test_encode_record),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
