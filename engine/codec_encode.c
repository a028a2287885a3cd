/* engine/codec_encode.c — msgpack encoding of output records and events.
 *
 * msgpack-c's packer writes through a callback straight into a rill_buf, so
 * a record costs no allocation once the buffer has grown to its size. The
 * event encoder writes exactly the wire format the decoder reads (see
 * engine/codec.h), which is what producers, tools and tests use.
 *
 * Not done here: framing (one record = one ZeroMQ message is the sink's
 * business) and JSON (the report mirror has its own writer).
 */
#include <msgpack.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/codec.h"
#include "rill/error.h"

static int buf_write(void *data, const char *p, size_t n) {
    return rill__buf_append(data, p, n);
}

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    int rc = msgpack_pack_str(pk, n);
    return rc ? rc : msgpack_pack_str_body(pk, s, n);
}

/* Any value; returns RILL_OK or the buffer's error. */
static int pack_value(msgpack_packer *pk, rill_value v) {
    int rc;
    switch (v.type) {
    case RILL_F64: return msgpack_pack_double(pk, v.as.f64);
    case RILL_I64: return msgpack_pack_int64(pk, v.as.i64);
    case RILL_BOOL: return v.as.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case RILL_STRING:
        rc = msgpack_pack_str(pk, v.as.str.len);
        return rc ? rc : msgpack_pack_str_body(pk, v.as.str.ptr, v.as.str.len);
    case RILL_F64_LIST:
        rc = msgpack_pack_array(pk, v.as.list.len);
        for (size_t i = 0; !rc && i < v.as.list.len; i++)
            rc = msgpack_pack_double(pk, v.as.list.ptr[i]);
        return rc;
    default: return msgpack_pack_nil(pk);
    }
}

static int pack_entry(msgpack_packer *pk, const char *name, rill_value v) {
    int rc = pack_cstr(pk, name);
    return rc ? rc : pack_value(pk, v);
}

int rill__encode_record(const rill_record *r, rill_buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    bool has_id = r->id.type != RILL_NULL;
    bool update = (r->flags & RILL_RECORD_UPDATE) != 0;
    int rc = msgpack_pack_map(&pk, 5 + has_id + update + r->n_values);
    if (!rc) rc = pack_entry(&pk, "op", rill_str(r->op ? r->op : ""));
    if (!rc) rc = pack_entry(&pk, "key", r->key);
    if (!rc) rc = pack_entry(&pk, "start", rill_i64(r->start));
    if (!rc) rc = pack_entry(&pk, "end", rill_i64(r->end));
    if (!rc) rc = pack_entry(&pk, "ts", rill_i64(r->ts));
    if (!rc && has_id) rc = pack_entry(&pk, "id", r->id);
    if (!rc && update) rc = pack_entry(&pk, "update", rill_bool(true));
    for (size_t i = 0; !rc && i < r->n_values; i++)
        rc = pack_entry(&pk, r->names[i], r->values[i]);
    return rc ? RILL_ENOMEM : RILL_OK;
}

int rill__encode_event(const rill_schema *s, int64_t ts, rill_value key, rill_value id,
                       const rill_value *values, rill_buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    size_t nf = rill_schema_len(s), n = 2 + (id.type != RILL_NULL);
    for (size_t i = 0; i < nf; i++) n += values[i].type != RILL_NULL;
    int rc = msgpack_pack_map(&pk, n);
    if (!rc) rc = pack_entry(&pk, "ts", rill_i64(ts));
    if (!rc) rc = pack_entry(&pk, "key", key);
    if (!rc && id.type != RILL_NULL) rc = pack_entry(&pk, "id", id);
    for (size_t i = 0; !rc && i < nf; i++)
        if (values[i].type != RILL_NULL)
            rc = pack_entry(&pk, rill_schema_field(s, i)->name, values[i]);
    return rc ? RILL_ENOMEM : RILL_OK;
}

int rill__encode_batch_row(const rill_batch *b, size_t row, rill_buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    const rill_schema *s = rill_batch_schema(b);
    size_t nf = rill_schema_len(s), n = 2;
    rill_value id = rill_batch_id(b, row);
    n += id.type != RILL_NULL;
    for (size_t i = 0; i < nf; i++) n += b->cols[i].valid[row] != 0;
    int rc = msgpack_pack_map(&pk, n);
    if (!rc) rc = pack_entry(&pk, "ts", rill_i64(b->ts[row]));
    if (!rc) rc = pack_entry(&pk, "key", rill_batch_key(b, row));
    if (!rc && id.type != RILL_NULL) rc = pack_entry(&pk, "id", id);
    for (size_t i = 0; !rc && i < nf; i++)
        if (b->cols[i].valid[row])
            rc = pack_entry(&pk, rill_schema_field(s, i)->name, rill_batch_get(b, row, i));
    return rc ? RILL_ENOMEM : RILL_OK;
}

int rill__encode_array_header(size_t n, rill_buf *out) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    return msgpack_pack_array(&pk, n) ? RILL_ENOMEM : RILL_OK;
}
