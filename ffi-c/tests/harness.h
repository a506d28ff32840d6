/* A few checks for the libkes C tests: a failed check prints where and exits non-zero. */
#ifndef KES_TEST_HARNESS_H
#define KES_TEST_HARNESS_H

#include <kes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define CHECK_STR(got, want)                                                            \
    do {                                                                                \
        const char *got_ = (got);                                                       \
        const char *want_ = (want);                                                     \
        if (got_ == NULL || strcmp(got_, want_) != 0) {                                 \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__,   \
                    #got, got_ ? got_ : "(null)", want_);                               \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* Checks that a call's result, and the error it handed out, agree with `want`; frees the error. */
static inline void expect_result(kes_result got, kes_error *err, kes_result want, int want_status,
                                 const char *want_message, const char *call, const char *file,
                                 int line) {
    int ok = got == want;
    if (want == KES_OK) {
        ok = ok && err == NULL;
    } else {
        ok = ok && err != NULL && kes_error_code(err) == got;
        if (ok && want_status != 0) ok = kes_error_status(err) == want_status;
        if (ok && want_message != NULL) ok = strcmp(kes_error_message(err), want_message) == 0;
    }
    if (!ok) {
        fprintf(stderr, "%s:%d: %s\n  returned %s, want %s (status %d, \"%s\")\n", file, line, call,
                kes_result_name(got), kes_result_name(want), want_status,
                want_message ? want_message : "");
        if (err != NULL) {
            fprintf(stderr, "  error: %s, status %d, message \"%s\", detail \"%s\"\n",
                    kes_result_name(kes_error_code(err)), kes_error_status(err),
                    kes_error_message(err), kes_error_detail(err));
        }
        exit(1);
    }
    kes_error_free(err);
}

/* EXPECT(KES_OK, kes_create_key, keys, "k"): calls with a fresh `kes_error **` appended. */
#define EXPECT(want, fn, ...) EXPECT_ERR(want, 0, NULL, fn, __VA_ARGS__)
/* The same, and also checks the error's KES status and message. */
#define EXPECT_ERR(want, status, message, fn, ...)                                      \
    do {                                                                                \
        kes_error *err_ = NULL;                                                         \
        kes_result got_ = fn(__VA_ARGS__, &err_);                                       \
        expect_result(got_, err_, (want), (status), (message), #fn "(" #__VA_ARGS__ ")", \
                      __FILE__, __LINE__);                                              \
    } while (0)

/* The contents of a small file, NUL-terminated, trailing whitespace removed; exits if unreadable. */
static inline char *read_text(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    char *text = (char *)calloc(1, 8192);
    CHECK(text != NULL);
    size_t n = fread(text, 1, 8191, f);
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\r')) text[--n] = 0;
    return text;
}

#endif
