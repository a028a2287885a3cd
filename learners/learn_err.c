/* learners/learn_err.c — the learners' error message writer.
 *
 * One vsnprintf into a caller-owned buffer, returning the status code it
 * was given. It does not allocate, log, or keep any state.
 */
#include <stdarg.h>
#include <stdio.h>

#include "learners/learn_err.h"

int rill__learn_err(char *buf, size_t len, int status, const char *fmt, ...) {
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return status;
}
