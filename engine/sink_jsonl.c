/* engine/sink_jsonl.c — a JSON-lines file sink.
 *
 * Each output becomes one line: a JSON object whose first member is
 * "topic" (the output's name), followed by the members of the msgpack map
 * in their order. msgpack values map to JSON as: nil -> null, booleans and
 * integers as they are, floats in the shortest form that reads back to the
 * same double (non-finite -> null), str -> string (bytes that are not UTF-8
 * are escaped as \u00XX so the line stays valid JSON), bin -> a string of
 * lowercase hex digits, arrays and maps recursively (a map key that is not
 * a string is written as a string of its value).
 *
 * The map is unpacked with msgpack-c into one reused zone, so a steady
 * stream of records allocates nothing; lines go through stdio's buffer and
 * are flushed at the end of every micro-batch. The file is appended to; a
 * torn last line (a killed process) is ended on open. It does not rotate
 * files or sync them to disk.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sink.h"

typedef struct jsink {
    rill__sink base;
    FILE *f;
    bool is_stdout;
    msgpack_zone zone;
} jsink;

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void put_string(FILE *f, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    putc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc(c, f);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default: fprintf(f, "\\u%04x", c);
            }
            i++;
        } else if (c < 0x80) {
            putc(c, f);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l) {
                fwrite(p + i, 1, l, f);
                i += l;
            } else {
                fprintf(f, "\\u%04x", c);
                i++;
            }
        }
    }
    putc('"', f);
}

static void put_double(FILE *f, double d) {
    if (!isfinite(d)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    fputs(buf, f);
}

static void put_value(FILE *f, const msgpack_object *o);

static void put_key(FILE *f, const msgpack_object *k) {
    char buf[32];
    switch (k->type) {
    case MSGPACK_OBJECT_STR: put_string(f, k->via.str.ptr, k->via.str.size); return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(buf, sizeof buf, "%" PRIu64, k->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(buf, sizeof buf, "%" PRId64, k->via.i64);
        break;
    case MSGPACK_OBJECT_BOOLEAN: snprintf(buf, sizeof buf, "%s", k->via.boolean ? "true" : "false"); break;
    default: buf[0] = 0;
    }
    put_string(f, buf, strlen(buf));
}

static void put_value(FILE *f, const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", f); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: put_double(f, o->via.f64); break;
    case MSGPACK_OBJECT_STR: put_string(f, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        putc('"', f);
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            fprintf(f, "%02x", (unsigned char)o->via.bin.ptr[i]);
        putc('"', f);
        break;
    case MSGPACK_OBJECT_ARRAY:
        putc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i) putc(',', f);
            put_value(f, &o->via.array.ptr[i]);
        }
        putc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        putc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i) putc(',', f);
            put_key(f, &o->via.map.ptr[i].key);
            putc(':', f);
            put_value(f, &o->via.map.ptr[i].val);
        }
        putc('}', f);
        break;
    default: fputs("null", f);
    }
}

static int jsink_send(rill__sink *s, const char *topic, const void *payload, size_t len) {
    jsink *j = (jsink *)s;
    msgpack_object o;
    size_t off = 0;
    int urc = msgpack_unpack(payload, len, &off, &j->zone, &o);
    fputs("{\"topic\":", j->f);
    put_string(j->f, topic, strlen(topic));
    if ((urc == MSGPACK_UNPACK_SUCCESS || urc == MSGPACK_UNPACK_EXTRA_BYTES) &&
        o.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            putc(',', j->f);
            put_key(j->f, &o.via.map.ptr[i].key);
            putc(':', j->f);
            put_value(j->f, &o.via.map.ptr[i].val);
        }
    }
    fputs("}\n", j->f);
    msgpack_zone_clear(&j->zone);
    if (ferror(j->f)) {
        snprintf(s->errmsg, sizeof s->errmsg, "JSON-lines sink %s: write failed: %s",
                 s->endpoint, strerror(errno));
        clearerr(j->f);
        return RILL_EIO;
    }
    return RILL_OK;
}

static int jsink_flush(rill__sink *s) {
    jsink *j = (jsink *)s;
    if (fflush(j->f)) {
        snprintf(s->errmsg, sizeof s->errmsg, "JSON-lines sink %s: write failed: %s",
                 s->endpoint, strerror(errno));
        return RILL_EIO;
    }
    return RILL_OK;
}

static void jsink_close(rill__sink *s, int linger_ms) {
    jsink *j = (jsink *)s;
    if (j->f) {
        if (j->is_stdout) fflush(j->f);
        else fclose(j->f);
    }
    msgpack_zone_destroy(&j->zone);
    free(j);
}

static const rill__sink_methods jsink_methods = {
    .version = RILL__SINK_METHODS_VERSION,
    .kind = "jsonl",
    .send = jsink_send,
    .flush = jsink_flush,
    .close = jsink_close,
};

int rill__sink_jsonl_open(const rill_engine_sink *spec, rill__sink **out, char *err,
                          size_t errlen) {
    *out = NULL;
    if (!spec->endpoint || !spec->endpoint[0]) {
        snprintf(err, errlen, "JSON-lines sink: a file path is required");
        return RILL_EINVAL;
    }
    jsink *j = calloc(1, sizeof *j);
    if (!j || !msgpack_zone_init(&j->zone, 4096)) {
        free(j);
        snprintf(err, errlen, "JSON-lines sink: out of memory");
        return RILL_ENOMEM;
    }
    j->base.m = &jsink_methods;
    snprintf(j->base.endpoint, sizeof j->base.endpoint, "%s", spec->endpoint);
    if (!strcmp(spec->endpoint, "-")) {
        j->f = stdout;
        j->is_stdout = true;
    } else {
        j->f = fopen(spec->endpoint, "a+");
        if (!j->f) {
            snprintf(err, errlen, "JSON-lines sink: cannot open %s: %s", spec->endpoint,
                     strerror(errno));
            jsink_close(&j->base, 0);
            return RILL_EIO;
        }
        /* A process killed mid-line left a torn last line: end it, so the
         * next record starts a line of its own. */
        if (fseek(j->f, -1, SEEK_END) == 0 && fgetc(j->f) != '\n') {
            fseek(j->f, 0, SEEK_END);
            putc('\n', j->f);
        }
    }
    *out = &j->base;
    return RILL_OK;
}
