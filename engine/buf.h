/* engine/buf.h — a growable byte buffer (internal).
 *
 * The encoder appends msgpack bytes to one; sinks send data[0..len) and then
 * clear it, keeping the memory for the next record. A zero-initialised
 * rill_buf is empty and valid.
 */
#ifndef RILL_ENGINE_BUF_H
#define RILL_ENGINE_BUF_H

#include <stddef.h>

typedef struct rill_buf {
    char *data; /* malloc'd, owned by the buffer; NULL while cap == 0 */
    size_t len, cap;
} rill_buf;

/* Make room for at least n more bytes. RILL_ENOMEM leaves b as it was. */
int rill__buf_reserve(rill_buf *b, size_t n);

/* Append n bytes of p. RILL_ENOMEM leaves b as it was. */
int rill__buf_append(rill_buf *b, const void *p, size_t n);

/* Forget the contents, keep the memory. */
static inline void rill__buf_clear(rill_buf *b) { b->len = 0; }

/* Release the memory; b is empty and reusable afterwards. Accepts NULL. */
void rill__buf_free(rill_buf *b);

#endif
