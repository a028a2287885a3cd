/* engine/buf.c — a growable byte buffer.
 *
 * Doubling growth from 256 bytes; the memory is kept across clears so a sink
 * that encodes one record after another allocates only while records grow.
 * It does not shrink, and it is not shared between threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"
#include "rill/error.h"

int rill__buf_reserve(rill_buf *b, size_t n) {
    if (b->cap - b->len >= n) return RILL_OK;
    if (n > SIZE_MAX / 2 - b->len) return RILL_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return RILL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return RILL_OK;
}

int rill__buf_append(rill_buf *b, const void *p, size_t n) {
    int rc = rill__buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return RILL_OK;
}

void rill__buf_free(rill_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
