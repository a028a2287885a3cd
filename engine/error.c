/* engine/error.c — status code names and messages, from RILL_ERRNO_MAP. */
#include "rill/error.h"

const char *rill_strerror(int status) {
    switch (status) {
    case RILL_OK: return "success";
#define RILL__ERR_MSG(name, value, msg) case RILL_E##name: return msg;
    RILL_ERRNO_MAP(RILL__ERR_MSG)
#undef RILL__ERR_MSG
    default: return "unknown status";
    }
}

const char *rill_errname(int status) {
    switch (status) {
    case RILL_OK: return "RILL_OK";
#define RILL__ERR_NAME(name, value, msg) case RILL_E##name: return "RILL_E" #name;
    RILL_ERRNO_MAP(RILL__ERR_NAME)
#undef RILL__ERR_NAME
    default: return "RILL_E?";
    }
}
