/* learners/learn_err.h — writing a learner's error message (internal).
 *
 * The learners (linear model, SGD, metrics) report a failure as a negative
 * RILL_E* code and keep the detail as text, either in the caller's buffer
 * (constructors, loaders) or in the object's errmsg array.
 */
#ifndef RILL_LEARNERS_LEARN_ERR_H
#define RILL_LEARNERS_LEARN_ERR_H

#include <stddef.h>

/* Format fmt into buf (len bytes, always NUL-terminated, truncated if
 * longer); buf may be NULL or len 0, then nothing is written. Returns
 * status, so a caller can `return rill__learn_err(...)`. */
int rill__learn_err(char *buf, size_t len, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
