/* tests/test_util.h — helpers the test programs share: clocks, temporary
 * directories, child processes, external tools, deterministic random
 * generators, the build and data directories from the environment.
 *
 * The idea: each test program is one translation unit, so the helpers are
 * static inline functions in this header and need no extra object in the
 * build. Child processes are recorded in a tu_procs the test owns (usually
 * a file-level variable) so that teardown can kill and reap whatever a
 * failed check left running.
 *
 * Include it after <cmocka.h> (the process and directory helpers assert
 * with cmocka). It does not hold any oracle or any check of rill itself:
 * those stay in the tests, written plainly.
 */
#ifndef RILL_TEST_UTIL_H
#define RILL_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- time ---------------------------------------------------------------------- */

/* Milliseconds on the monotonic clock. */
static inline int64_t tu_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sleep ms milliseconds, resuming after signals. */
static inline void tu_sleep_ms(int ms) {
    struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) && errno == EINTR) {}
}

/* ---- directories ----------------------------------------------------------------- */

/* Remove path and everything below it (symlinks are removed, not followed).
 * Errors are ignored: what cannot be removed stays. */
static inline void tu_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                size_t n = strlen(path) + strlen(e->d_name) + 2;
                char *sub = malloc(n);
                if (!sub) break;
                snprintf(sub, n, "%s/%s", path, e->d_name);
                tu_rm_rf(sub);
                free(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Copy the regular files of directory from into a new directory to; a
 * failure fails the test. */
static inline void tu_copy_dir(const char *from, const char *to) {
    assert_int_equal(mkdir(to, 0700), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char src[1024], dst[1024];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat st;
        if (lstat(src, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        assert_true(in && out);
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        assert_int_equal(fclose(out), 0);
    }
    closedir(d);
}

/* ---- the environment -------------------------------------------------------------- */

/* The build directory (RILL_BUILD_DIR, set by ctest; "." without it) into buf. */
static inline void tu_build_dir(char *buf, size_t n) {
    const char *b = getenv("RILL_BUILD_DIR");
    snprintf(buf, n, "%s", b ? b : ".");
}

/* The path of the shared data file name into buf: $RILL_DATA_DIR/name, else
 * $RILL_SOURCE_DIR/../shared/data/name, else ../shared/data/name. The file
 * may not exist; the caller checks. */
static inline void tu_data_file(char *buf, size_t n, const char *name) {
    const char *dir = getenv("RILL_DATA_DIR");
    const char *src = getenv("RILL_SOURCE_DIR");
    if (dir)
        snprintf(buf, n, "%s/%s", dir, name);
    else if (src)
        snprintf(buf, n, "%s/../shared/data/%s", src, name);
    else
        snprintf(buf, n, "../shared/data/%s", name);
}

/* ---- child processes --------------------------------------------------------------- */

/* The children a test started and has not reaped yet. Zero-initialised. */
typedef struct tu_procs {
    pid_t pid[8];
    size_t n;
} tu_procs;

/* Start argv (argv[0] a path) with stdout to out_fd (-1: inherited) and
 * stderr to err_fd (-1: inherited); record it in ps. A failed fork fails
 * the test; a failed exec makes the child exit 127. */
static inline pid_t tu_spawn(tu_procs *ps, char *const argv[], int out_fd, int err_fd) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (out_fd >= 0) dup2(out_fd, 1);
        if (err_fd >= 0) dup2(err_fd, 2);
        execv(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    assert_true(ps->n < sizeof ps->pid / sizeof ps->pid[0]);
    ps->pid[ps->n++] = pid;
    return pid;
}

/* Drop pid from ps (it was reaped). */
static inline void tu_forget(tu_procs *ps, pid_t pid) {
    for (size_t i = 0; i < ps->n; i++)
        if (ps->pid[i] == pid) ps->pid[i] = ps->pid[--ps->n];
}

/* Wait up to ms for pid: its exit status, -1 if it did not exit in time
 * (it is then killed and reaped) or died by a signal. pid leaves ps. */
static inline int tu_wait_exit(tu_procs *ps, pid_t pid, int ms) {
    int64_t until = tu_now_ms() + ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (tu_now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            tu_forget(ps, pid);
            return -1;
        }
        tu_sleep_ms(10);
    }
    tu_forget(ps, pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Kill (SIGKILL) and reap every child still in ps; ps is empty after. */
static inline void tu_kill_all(tu_procs *ps) {
    for (size_t i = 0; i < ps->n; i++) {
        kill(ps->pid[i], SIGKILL);
        waitpid(ps->pid[i], NULL, 0);
    }
    ps->n = 0;
}

/* ---- external tools ----------------------------------------------------------------- */

/* The first of names (NULL-terminated) found executable on PATH
 * (/usr/bin:/bin without one), its path into out: 0, or -1 if none is. */
static inline int tu_find_tool(const char *const *names, char *out, size_t outlen) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    for (const char *const *n = names; *n; n++) {
        const char *p = path;
        while (*p) {
            size_t len = strcspn(p, ":");
            snprintf(out, outlen, "%.*s/%s", (int)len, p, *n);
            if (access(out, X_OK) == 0) return 0;
            p += len;
            if (*p == ':') p++;
        }
    }
    return -1;
}

/* Run argv (argv[0] a path) with stdout and stderr to /dev/null and wait
 * for it: its exit status, -1 if it could not start or died by a signal. */
static inline int tu_run_quiet(char *const argv[]) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- random numbers ------------------------------------------------------------------ */

/* The seed in environment variable var (any strtoull base-0 form), or dflt
 * when it is unset or empty. */
static inline uint64_t tu_seed_env(const char *var, uint64_t dflt) {
    const char *s = getenv(var);
    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* splitmix64: the next number of the sequence at *state. */
static inline uint64_t tu_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xorshift64* (shifts 12, 25, 27): the next number of the sequence at *state
 * (which must not be 0). */
static inline uint64_t tu_xorshift64s(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

/* xorshift64 (shifts 13, 7, 17): the next state after *state, stored there. */
static inline uint64_t tu_xorshift64(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* A small deterministic generator for learning tests: xorshift64* state. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;

/* Uniform in [0, 1), 53 bits. */
static inline double tu_unif(tu_rng *r) { return (double)(tu_xorshift64s(&r->s) >> 11) * 0x1.0p-53; }

/* Standard normal (Box-Muller, one of the pair). */
static inline double tu_gauss(tu_rng *r) {
    double u = tu_unif(r), v = tu_unif(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

#endif
