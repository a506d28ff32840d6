/* Sealed messages through libkes: kes_seal, kes_open, kes_seal_stream, kes_open_stream,
 * kes_open_range.
 *
 *   test_envelope local SCRATCH_DIR VECTORS_JSON STREAM_MIB
 *       in memory and fs mode: round trips, wrong context, tampered, cut and extended envelopes (one
 *       shot and streaming), several MiB streamed in odd chunk sizes, ranges (bytes read counted),
 *       failing callbacks, NULL and invalid arguments, and the invalid vectors of
 *       tests/vectors/envelope.json that a Keys handle can check.
 *   test_envelope remote SERVER_DIR KES_ENVELOPE_TOOL STREAM_MIB
 *       against a real kesrs server: the same round trips, remote <-> local fs handle over the
 *       server's key directory, KES_NOT_ALLOWED, and C <-> Rust: what C seals the Rust tool (core's
 *       Envelope, ffi-c/examples/kes_envelope.rs) opens, and what it seals C opens. */
#include "streams.h"

#include <sys/stat.h>
#include <unistd.h>

static const char AUTH_MESSAGE[] = "decryption failed: ciphertext is not authentic";

/* Checks that a failed call's error is KES_DECRYPT_FAILED with KES's message and `detail` in its
 * detail; frees it. */
static void expect_not_authentic(kes_result got, kes_error *err, const char *detail, int line) {
    if (got != KES_DECRYPT_FAILED || err == NULL || kes_error_status(err) != 400 ||
        strcmp(kes_error_message(err), AUTH_MESSAGE) != 0 ||
        (detail != NULL && strstr(kes_error_detail(err), detail) == NULL)) {
        fprintf(stderr, "line %d: %s, want KES_DECRYPT_FAILED (%s): %s\n", line,
                kes_result_name(got), detail ? detail : "", err ? kes_error_detail(err) : "");
        exit(1);
    }
    kes_error_free(err);
}

/* Opens `sealed` one shot and streaming; both must fail as not authentic with `detail`. */
static void expect_rejected(const kes_keys *keys, const uint8_t *sealed, size_t len,
                            const uint8_t *ctx, size_t ctx_len, const char *detail, int line) {
    kes_buf *plain = NULL;
    kes_error *err = NULL;
    kes_result r = kes_open(keys, sealed, len, ctx, ctx_len, &plain, &err);
    expect_not_authentic(r, err, detail, line);
    CHECK(plain == NULL);
    stream s = stream_over(sealed, len);
    s.chunks = ODD;
    s.n_chunks = sizeof ODD / sizeof ODD[0];
    err = NULL;
    r = kes_open_stream(keys, ctx, ctx_len, stream_read, stream_write, &s, &err);
    expect_not_authentic(r, err, detail, line);
    /* Only whole authenticated packages were handed out (the short final one only when what
     * follows it is the failure). */
    CHECK(s.out.len % 65536 == 0 ||
          (detail != NULL && strcmp(detail, "data after the final package") == 0));
    bytes_free(&s.out);
}
#define REJECTED(keys, sealed, len, ctx, ctx_len, detail) \
    expect_rejected(keys, sealed, len, ctx, ctx_len, detail, __LINE__)

/* ---- the contract every handle keeps ----------------------------------------------------------- */

static void one_shot(const kes_keys *keys, const char *key) {
    static const uint8_t ctx[] = "{\"bucket\":\"b/o\"}";
    const size_t ctx_len = sizeof ctx - 1;
    const size_t sizes[] = {0, 1, 65535, 65536, 65537, 3 * 65536, 200001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *plain = pattern(n, (unsigned)i);
        kes_buf *sealed = NULL, *opened = NULL;
        EXPECT(KES_OK, kes_seal, keys, key, plain, n, ctx, ctx_len, &sealed);
        size_t packages = (n + 65535) / 65536;
        CHECK(kes_buf_len(sealed) == header_len(kes_buf_data(sealed)) + n + 32 * packages);
        CHECK(kes_buf_data(sealed)[6] == strlen(key));
        EXPECT(KES_OK, kes_open, keys, kes_buf_data(sealed), kes_buf_len(sealed), ctx, ctx_len,
               &opened);
        CHECK(kes_buf_len(opened) == n && (n == 0 || memcmp(kes_buf_data(opened), plain, n) == 0));
        kes_buf_free(opened);
        /* The wrong context, and none at all. */
        REJECTED(keys, kes_buf_data(sealed), kes_buf_len(sealed), (const uint8_t *)"{}", 2, NULL);
        REJECTED(keys, kes_buf_data(sealed), kes_buf_len(sealed), NULL, 0, NULL);
        kes_buf_free(sealed);
        free(plain);
    }
    /* No context on both sides. */
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_seal, keys, key, (const uint8_t *)"hi", 2, NULL, 0, &sealed);
    EXPECT(KES_OK, kes_open, keys, kes_buf_data(sealed), kes_buf_len(sealed), NULL, 0, &opened);
    CHECK(kes_buf_len(opened) == 2 && memcmp(kes_buf_data(opened), "hi", 2) == 0);
    kes_buf_free(opened);
    /* KES refuses the data key for another context before the envelope's own check. */
    REJECTED(keys, kes_buf_data(sealed), kes_buf_len(sealed), (const uint8_t *)"x", 1, NULL);
    kes_buf_free(sealed);
}

static void tampering(const kes_keys *keys, const char *key) {
    static const uint8_t ctx[] = "tamper";
    const size_t n = 3 * 65536 + 100; /* four packages */
    uint8_t *plain = pattern(n, 9);
    kes_buf *sealed = NULL;
    EXPECT(KES_OK, kes_seal, keys, key, plain, n, ctx, 6, &sealed);
    const size_t len = kes_buf_len(sealed), hlen = header_len(kes_buf_data(sealed));
    uint8_t *copy = (uint8_t *)malloc(len + 1);
    CHECK(copy != NULL);
#define RESET() memcpy(copy, kes_buf_data(sealed), len)
    /* A changed header byte: the tag, the salt, the flags. */
    RESET();
    copy[hlen - 1] ^= 1;
    REJECTED(keys, copy, len, ctx, 6, "header authentication failed");
    RESET();
    copy[hlen - 40] ^= 0x80;
    REJECTED(keys, copy, len, ctx, 6, "header authentication failed");
    RESET();
    copy[5] |= 0x01; /* the SHARED_KEY flag */
    REJECTED(keys, copy, len, ctx, 6, "header authentication failed");
    /* A changed byte in the third package: streaming hands out the first two, and nothing else. */
    RESET();
    copy[hlen + 2 * PACKAGE + 500] ^= 4;
    REJECTED(keys, copy, len, ctx, 6, "package 2 authentication failed");
    {
        stream s = stream_over(copy, len);
        kes_error *err = NULL;
        kes_result r = kes_open_stream(keys, ctx, 6, stream_read, stream_write, &s, &err);
        expect_not_authentic(r, err, "package 2 authentication failed", __LINE__);
        CHECK(s.out.len == 2 * 65536 && memcmp(s.out.data, plain, 2 * 65536) == 0);
        bytes_free(&s.out);
    }
    /* Packages swapped. */
    RESET();
    memcpy(copy + hlen, kes_buf_data(sealed) + hlen + PACKAGE, PACKAGE);
    memcpy(copy + hlen + PACKAGE, kes_buf_data(sealed) + hlen, PACKAGE);
    REJECTED(keys, copy, len, ctx, 6, "package 0 authentication failed");
    /* Cut: inside the last package, at a package boundary, inside a package header, after the
     * header; and a byte appended. */
    RESET();
    REJECTED(keys, copy, len - 1, ctx, 6, "stream is truncated");
    REJECTED(keys, copy, hlen + 3 * PACKAGE, ctx, 6, "stream is truncated");
    REJECTED(keys, copy, hlen + PACKAGE + 5, ctx, 6, "stream is truncated");
    REJECTED(keys, copy, hlen, ctx, 6, "stream is truncated");
    copy[len] = 0;
    REJECTED(keys, copy, len + 1, ctx, 6, "data after the final package");
    /* Cut inside the header: an envelope no longer (KES_INVALID_ARGUMENT, before any key is asked). */
    kes_buf *opened = NULL;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid envelope: truncated header", kes_open, keys, copy,
               hlen - 1, ctx, 6, &opened);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid envelope: not a kesrs envelope", kes_open, keys,
               (const uint8_t *)"hello, world", 12, ctx, 6, &opened);
    CHECK(opened == NULL);
#undef RESET
    free(copy);
    kes_buf_free(sealed);
    free(plain);
}

static void streaming(const kes_keys *keys, const char *key, size_t mib) {
    static const uint8_t ctx[] = "stream";
    const size_t n = mib * 1024 * 1024 + 12345;
    uint8_t *plain = pattern(n, 3);
    /* Seal in odd read sizes. */
    stream seal = stream_over(plain, n);
    seal.chunks = ODD;
    seal.n_chunks = sizeof ODD / sizeof ODD[0];
    EXPECT(KES_OK, kes_seal_stream, keys, key, ctx, 6, stream_read, stream_write, &seal);
    CHECK(seal.pos == n && seal.max_asked <= KES_STREAM_CHUNK);
    CHECK(seal.max_written == PACKAGE); /* one package per write */
    size_t packages = (n + 65535) / 65536;
    CHECK(seal.out.len == header_len(seal.out.data) + n + 32 * packages);
    /* The one-shot open agrees. */
    kes_buf *opened = NULL;
    EXPECT(KES_OK, kes_open, keys, seal.out.data, seal.out.len, ctx, 6, &opened);
    CHECK(kes_buf_len(opened) == n && memcmp(kes_buf_data(opened), plain, n) == 0);
    kes_buf_free(opened);
    /* Open in odd read sizes. */
    stream open = stream_over(seal.out.data, seal.out.len);
    open.chunks = ODD + 1;
    open.n_chunks = sizeof ODD / sizeof ODD[0] - 1;
    EXPECT(KES_OK, kes_open_stream, keys, ctx, 6, stream_read, stream_write, &open);
    CHECK(open.out.len == n && memcmp(open.out.data, plain, n) == 0);
    CHECK(open.max_written <= KES_STREAM_CHUNK && open.max_asked <= KES_STREAM_CHUNK + 32);
    bytes_free(&open.out);
    /* A truncated stream, cut at a package boundary: every package handed out is authentic. */
    size_t hlen = header_len(seal.out.data);
    open = stream_over(seal.out.data, hlen + 5 * PACKAGE);
    kes_error *err = NULL;
    kes_result r = kes_open_stream(keys, ctx, 6, stream_read, stream_write, &open, &err);
    expect_not_authentic(r, err, "stream is truncated", __LINE__);
    CHECK(open.out.len == 5 * 65536 && memcmp(open.out.data, plain, open.out.len) == 0);
    bytes_free(&open.out);
    /* A kes_seal envelope opens as a stream, too. */
    kes_buf *sealed = NULL;
    EXPECT(KES_OK, kes_seal, keys, key, plain, 100000, ctx, 6, &sealed);
    open = stream_over(kes_buf_data(sealed), kes_buf_len(sealed));
    EXPECT(KES_OK, kes_open_stream, keys, ctx, 6, stream_read, stream_write, &open);
    CHECK(open.out.len == 100000 && memcmp(open.out.data, plain, 100000) == 0);
    bytes_free(&open.out);
    kes_buf_free(sealed);
    /* An empty stream. */
    stream empty = stream_over(NULL, 0);
    EXPECT(KES_OK, kes_seal_stream, keys, key, NULL, 0, stream_read, stream_write, &empty);
    CHECK(empty.writes == 1 && empty.out.len == header_len(empty.out.data));
    CHECK(empty.out.data[5] == 0x02); /* EMPTY */
    open = stream_over(empty.out.data, empty.out.len);
    EXPECT(KES_OK, kes_open_stream, keys, NULL, 0, stream_read, stream_write, &open);
    CHECK(open.out.len == 0 && open.writes == 0);
    bytes_free(&empty.out);

    /* Ranges, with the bytes read through read_at counted. */
    const size_t len = seal.out.len;
    struct {
        uint64_t offset, len;
    } ranges[] = {{0, 1},       {0, n},           {65535, 2},        {65536, 65536},
                  {3 * 65536 + 5, 200000},        {n - 1, 1},        {n / 2, 0},
                  {123457, 1},  {n - 70000, 70000}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        stream s = stream_over(seal.out.data, len);
        s.chunks = ODD;
        s.n_chunks = sizeof ODD / sizeof ODD[0];
        EXPECT(KES_OK, kes_open_range, keys, ctx, 6, stream_read_at, (uint64_t)len,
               ranges[i].offset, ranges[i].len, stream_write, &s);
        CHECK(s.out.len == ranges[i].len);
        CHECK(s.out.len == 0 || memcmp(s.out.data, plain + ranges[i].offset, s.out.len) == 0);
        if (s.read_at_bytes > hlen + ranges[i].len + 2 * PACKAGE) {
            fprintf(stderr, "range %llu+%llu read %llu bytes, more than %llu\n",
                    (unsigned long long)ranges[i].offset, (unsigned long long)ranges[i].len,
                    (unsigned long long)s.read_at_bytes,
                    (unsigned long long)(hlen + ranges[i].len + 2 * PACKAGE));
            exit(1);
        }
        bytes_free(&s.out);
    }
    {
        /* A range's packages are authenticated; what lies outside them is not read. */
        uint8_t *copy = (uint8_t *)malloc(len);
        CHECK(copy != NULL);
        memcpy(copy, seal.out.data, len);
        copy[hlen + 7 * PACKAGE + 100] ^= 1; /* package 7 */
        stream s = stream_over(copy, len);
        EXPECT(KES_OK, kes_open_range, keys, ctx, 6, stream_read_at, (uint64_t)len, 0, 65536,
               stream_write, &s);
        CHECK(s.out.len == 65536 && memcmp(s.out.data, plain, 65536) == 0);
        bytes_free(&s.out);
        s = stream_over(copy, len);
        err = NULL;
        r = kes_open_range(keys, ctx, 6, stream_read_at, (uint64_t)len, 7 * 65536 + 10, 10,
                           stream_write, &s, &err);
        expect_not_authentic(r, err, "package 7 authentication failed", __LINE__);
        CHECK(s.out.len == 0);
        /* The wrong context; a source cut at a package boundary, whose last package is not final. */
        s = stream_over(seal.out.data, len);
        err = NULL;
        r = kes_open_range(keys, (const uint8_t *)"other", 5, stream_read_at, (uint64_t)len, 0, 1,
                           stream_write, &s, &err);
        expect_not_authentic(r, err, NULL, __LINE__); /* KES refuses the data key */
        err = NULL;
        r = kes_open_range(keys, ctx, 6, stream_read_at, (uint64_t)(hlen + 4 * PACKAGE),
                           3 * 65536, 65536, stream_write, &s, &err);
        expect_not_authentic(r, err, "stream is truncated", __LINE__);
        CHECK(s.out.len == 0);
        /* Out of bounds. */
        EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid envelope: range is out of bounds",
                   kes_open_range, keys, ctx, 6, stream_read_at, (uint64_t)len, n - 1, 2,
                   stream_write, &s);
        EXPECT(KES_INVALID_ARGUMENT, kes_open_range, keys, ctx, 6, stream_read_at, (uint64_t)len,
               UINT64_MAX, 1, stream_write, &s);
        /* read_at fails, or ends before source_len. */
        s = stream_over(seal.out.data, len);
        s.fail_read_at = 3;
        err = NULL;
        r = kes_open_range(keys, ctx, 6, stream_read_at, (uint64_t)len, 0, 10, stream_write, &s,
                           &err);
        CHECK(r == KES_IO && strstr(kes_error_detail(err), "-5") != NULL);
        kes_error_free(err);
        s = stream_over(seal.out.data, len - 100);
        EXPECT(KES_IO, kes_open_range, keys, ctx, 6, stream_read_at, (uint64_t)len, n - 10, 10,
               stream_write, &s);
        free(copy);
    }

    /* Failing callbacks: KES_IO, with the callback's number in the detail. */
    stream s = stream_over(plain, n);
    s.fail_read_at = 4;
    err = NULL;
    r = kes_seal_stream(keys, key, ctx, 6, stream_read, stream_write, &s, &err);
    CHECK(r == KES_IO && strstr(kes_error_detail(err), "read callback returned -5") != NULL);
    kes_error_free(err);
    bytes_free(&s.out);
    s = stream_over(plain, n);
    s.fail_write_at = 2;
    err = NULL;
    r = kes_seal_stream(keys, key, ctx, 6, stream_read, stream_write, &s, &err);
    CHECK(r == KES_IO && strstr(kes_error_detail(err), "write callback returned 7") != NULL);
    kes_error_free(err);
    bytes_free(&s.out);
    s = stream_over(plain, n);
    s.too_much = 1;
    EXPECT(KES_IO, kes_seal_stream, keys, key, ctx, 6, stream_read, stream_write, &s);
    s = stream_over(seal.out.data, seal.out.len);
    s.fail_read_at = 5;
    EXPECT(KES_IO, kes_open_stream, keys, ctx, 6, stream_read, stream_write, &s);
    bytes_free(&s.out);
    s = stream_over(seal.out.data, seal.out.len);
    s.fail_write_at = 2;
    EXPECT(KES_IO, kes_open_stream, keys, ctx, 6, stream_read, stream_write, &s);
    bytes_free(&s.out);

    bytes_free(&seal.out);
    free(plain);
}

/* NULL and invalid arguments: KES_INVALID_ARGUMENT, nothing written. */
static void bad_arguments(const kes_keys *keys, const char *key) {
    kes_buf *buf = NULL;
    stream s = stream_over((const uint8_t *)"x", 1);
    const uint8_t b = 0;
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, NULL, key, &b, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, keys, NULL, &b, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, keys, "no/such name", &b, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, keys, key, NULL, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, keys, key, &b, 1, NULL, 5, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal, keys, key, &b, 1, NULL, 0, NULL);
    EXPECT(KES_INVALID_ARGUMENT, kes_open, NULL, &b, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_open, keys, NULL, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_open, keys, NULL, 0, NULL, 0, &buf); /* empty: no envelope */
    EXPECT(KES_INVALID_ARGUMENT, kes_open, keys, &b, 1, NULL, 3, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_open, keys, &b, 1, NULL, 0, NULL);
    CHECK(buf == NULL);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal_stream, NULL, key, NULL, 0, stream_read, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal_stream, keys, NULL, NULL, 0, stream_read, stream_write,
           &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal_stream, keys, key, NULL, 1, stream_read, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal_stream, keys, key, NULL, 0, NULL, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_seal_stream, keys, key, NULL, 0, stream_read, NULL, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_stream, NULL, NULL, 0, stream_read, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_stream, keys, NULL, 1, stream_read, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_stream, keys, NULL, 0, NULL, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_stream, keys, NULL, 0, stream_read, NULL, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_range, NULL, NULL, 0, stream_read_at, 1, 0, 1,
           stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_range, keys, NULL, 2, stream_read_at, 1, 0, 1,
           stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_range, keys, NULL, 0, NULL, 1, 0, 1, stream_write, &s);
    EXPECT(KES_INVALID_ARGUMENT, kes_open_range, keys, NULL, 0, stream_read_at, 1, 0, 1, NULL, &s);
    CHECK(s.reads == 0 && s.writes == 0); /* arguments are checked before any callback */
    /* A key that does not exist: before any callback. */
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_seal_stream, keys, "no-such-key",
               NULL, 0, stream_read, stream_write, &s);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_seal, keys, "no-such-key", &b, 1,
               NULL, 0, &buf);
    CHECK(s.reads == 0 && s.writes == 0 && buf == NULL);
}

static void envelope_contract(const kes_keys *keys, const char *key, size_t mib) {
    one_shot(keys, key);
    tampering(keys, key);
    streaming(keys, key, mib);
    bad_arguments(keys, key);
}

/* ---- tests/vectors/envelope.json --------------------------------------------------------------- */

static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static size_t b64_decode(const char *in, size_t in_len, uint8_t *out) {
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in_len; i++) {
        int v = b64_value(in[i]);
        if (v < 0) continue; /* padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

/* The string value of `"field": "..."` on `line`, copied to `out` (no escapes in the fields read). */
static int field(const char *line, const char *name, char *out, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\": \"", name);
    const char *at = strstr(line, key);
    if (at == NULL) return 0;
    at += strlen(key);
    const char *end = strchr(at, '"');
    CHECK(end != NULL && (size_t)(end - at) < cap);
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = 0;
    return 1;
}

/* The invalid vectors that fail before KES is asked for the data key (checks 1-8 of docs/envelope.md
 * section 5) are checked here, through a Keys handle, with their error, status and message. The others
 * need the vector's data key for the vector's made-up KES ciphertext, which no Keys handle can give:
 * they are counted and left to core/tests/envelope_vectors.rs. */
static void vectors(const kes_keys *keys, const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char line[1 << 20];
    char name[256] = "", error[256] = "", message[256] = "";
    static char b64[1 << 20];
    static uint8_t sealed[1 << 19];
    int in_invalid = 0, has_b64 = 0, status = 0;
    int checked = 0, skipped = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "\"invalid\": [") != NULL) in_invalid = 1;
        if (!in_invalid) continue;
        field(line, "name", name, sizeof name);
        field(line, "error", error, sizeof error);
        field(line, "message", message, sizeof message);
        const char *st = strstr(line, "\"status\": ");
        if (st != NULL) status = atoi(st + 10);
        if (field(line, "sealed_b64", b64, sizeof b64)) has_b64 = 1;
        if (strncmp(line, "    }", 5) != 0) continue;
        /* The end of one vector. */
        int before_kes = strncmp(message, "invalid envelope: ", 18) == 0 &&
                         strcmp(error, "data key is not 32 bytes") != 0 &&
                         strcmp(error, "key is not accepted") != 0;
        if (has_b64 && before_kes) {
            size_t len = b64_decode(b64, strlen(b64), sealed);
            kes_buf *out = NULL;
            kes_error *err = NULL;
            kes_result r = kes_open(keys, sealed, len, NULL, 0, &out, &err);
            char want_detail[600];
            snprintf(want_detail, sizeof want_detail, "invalid argument: %s", message);
            if (r != KES_INVALID_ARGUMENT || kes_error_status(err) != status ||
                strcmp(kes_error_message(err), message) != 0 || out != NULL) {
                fprintf(stderr, "vector \"%s\": %s %d \"%s\" (%s), want %d \"%s\"\n", name,
                        kes_result_name(r), kes_error_status(err), kes_error_message(err),
                        kes_error_detail(err), status, message);
                exit(1);
            }
            kes_error_free(err);
            checked++;
        } else {
            skipped++;
        }
        has_b64 = 0;
        name[0] = error[0] = message[0] = 0;
    }
    fclose(f);
    printf("vectors: %d invalid envelopes checked through a Keys handle, %d need the vector's data "
           "key\n",
           checked, skipped);
    CHECK(checked >= 11);
}

/* ---- modes ------------------------------------------------------------------------------------- */

static int local(const char *scratch, const char *vectors_path, size_t mib) {
    kes_keys *memory = NULL;
    EXPECT(KES_OK, kes_keys_in_memory, &memory);
    EXPECT(KES_OK, kes_create_key, memory, "envelope-key");
    envelope_contract(memory, "envelope-key", mib);
    vectors(memory, vectors_path);
    kes_keys_free(memory);

    /* fs: two handles over one directory. */
    char dir[4096];
    mkdir(scratch, 0700);
    snprintf(dir, sizeof dir, "%s/envelope-XXXXXX", scratch);
    CHECK(mkdtemp(dir) != NULL);
    kes_keys *fs = NULL, *fs2 = NULL;
    EXPECT(KES_OK, kes_keys_from_fs, dir, &fs);
    EXPECT(KES_OK, kes_keys_from_fs, dir, &fs2);
    EXPECT(KES_OK, kes_create_key, fs, "fs-envelope");
    one_shot(fs, "fs-envelope");
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_seal, fs, "fs-envelope", (const uint8_t *)"across", 6, NULL, 0, &sealed);
    EXPECT(KES_OK, kes_open, fs2, kes_buf_data(sealed), kes_buf_len(sealed), NULL, 0, &opened);
    CHECK(kes_buf_len(opened) == 6 && memcmp(kes_buf_data(opened), "across", 6) == 0);
    kes_buf_free(opened);
    /* The key deleted: KES's error (from a new handle; fs2 has the key in its cache). */
    EXPECT(KES_OK, kes_delete_key, fs, "fs-envelope");
    kes_keys *fs3 = NULL;
    EXPECT(KES_OK, kes_keys_from_fs, dir, &fs3);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_open, fs3, kes_buf_data(sealed),
               kes_buf_len(sealed), NULL, 0, &opened);
    kes_keys_free(fs3);
    kes_buf_free(sealed);
    kes_keys_free(fs);
    kes_keys_free(fs2);
    printf("test_envelope local: ok\n");
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

static bytes read_file(const char *path) {
    bytes b;
    memset(&b, 0, sizeof b);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) bytes_append(&b, chunk, n);
    fclose(f);
    return b;
}

static int remote(const char *dir, const char *tool, size_t mib) {
    char *endpoint = read_text(dir, "endpoint");
    char *admin_key = read_text(dir, "admin.key");
    char *stranger_key = read_text(dir, "stranger.key");
    char path[4096], keys_dir[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/server.cert", dir);
    snprintf(keys_dir, sizeof keys_dir, "%s/keys", dir);
    const char *endpoints[] = {endpoint};
    kes_keys *admin = NULL, *stranger = NULL, *local_fs = NULL;
    EXPECT(KES_OK, kes_keys_connect, endpoints, 1, admin_key, NULL, NULL, path, &admin);
    EXPECT(KES_OK, kes_keys_connect, endpoints, 1, stranger_key, NULL, NULL, path, &stranger);
    EXPECT(KES_OK, kes_keys_from_fs, keys_dir, &local_fs);
    /* A key of this run's own (the plain and the memcheck run share the server), outside the
     * prefixes test_remote lists ("remote-*", "cert-*"). */
    char key[64];
    snprintf(key, sizeof key, "sealed-%ld", (long)getpid());
    EXPECT(KES_OK, kes_create_key, admin, key);
    envelope_contract(admin, key, mib);

    /* Remote <-> local fs over the server's key directory. */
    static const uint8_t ctx[] = "cross";
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_seal, admin, key, (const uint8_t *)"from remote", 11, ctx, 5,
           &sealed);
    EXPECT(KES_OK, kes_open, local_fs, kes_buf_data(sealed), kes_buf_len(sealed), ctx, 5, &opened);
    CHECK(kes_buf_len(opened) == 11 && memcmp(kes_buf_data(opened), "from remote", 11) == 0);
    kes_buf_free(opened);
    EXPECT_ERR(KES_NOT_ALLOWED, 403, "not authorized: insufficient permissions", kes_open, stranger,
               kes_buf_data(sealed), kes_buf_len(sealed), ctx, 5, &opened);
    kes_buf_free(sealed);
    EXPECT(KES_OK, kes_seal, local_fs, key, (const uint8_t *)"from local", 10, ctx, 5,
           &sealed);
    EXPECT(KES_OK, kes_open, admin, kes_buf_data(sealed), kes_buf_len(sealed), ctx, 5, &opened);
    CHECK(kes_buf_len(opened) == 10 && memcmp(kes_buf_data(opened), "from local", 10) == 0);
    kes_buf_free(opened);
    kes_buf_free(sealed);

    /* C seals (remote, streaming) -> Rust opens (core's Envelope over the fs directory). */
    const size_t n = mib * 1024 * 1024 + 777;
    uint8_t *plain = pattern(n, 42);
    stream s = stream_over(plain, n);
    s.chunks = ODD;
    s.n_chunks = sizeof ODD / sizeof ODD[0];
    EXPECT(KES_OK, kes_seal_stream, admin, key, ctx, 5, stream_read, stream_write, &s);
    char c_sealed[4096], rust_opened[4096], plain_path[4096], rust_sealed[4096];
    snprintf(c_sealed, sizeof c_sealed, "%s/%s.c-sealed", dir, key);
    snprintf(rust_opened, sizeof rust_opened, "%s/%s.rust-opened", dir, key);
    snprintf(plain_path, sizeof plain_path, "%s/%s.plain", dir, key);
    snprintf(rust_sealed, sizeof rust_sealed, "%s/%s.rust-sealed", dir, key);
    write_file(c_sealed, s.out.data, s.out.len);
    bytes_free(&s.out);
    snprintf(cmd, sizeof cmd, "'%s' open '%s' cross < '%s' > '%s'", tool, keys_dir, c_sealed,
             rust_opened);
    CHECK(system(cmd) == 0);
    bytes got = read_file(rust_opened);
    CHECK(got.len == n && memcmp(got.data, plain, n) == 0);
    bytes_free(&got);
    /* ... and with the wrong context, Rust refuses it too. */
    snprintf(cmd, sizeof cmd, "'%s' open '%s' other < '%s' > /dev/null 2>&1", tool, keys_dir,
             c_sealed);
    CHECK(system(cmd) != 0);

    /* Rust seals -> C opens (remote, streaming and one shot). */
    write_file(plain_path, plain, n);
    snprintf(cmd, sizeof cmd, "'%s' seal '%s' %s cross < '%s' > '%s'", tool, keys_dir, key,
             plain_path, rust_sealed);
    CHECK(system(cmd) == 0);
    bytes from_rust = read_file(rust_sealed);
    s = stream_over(from_rust.data, from_rust.len);
    s.chunks = ODD;
    s.n_chunks = sizeof ODD / sizeof ODD[0];
    EXPECT(KES_OK, kes_open_stream, admin, ctx, 5, stream_read, stream_write, &s);
    CHECK(s.out.len == n && memcmp(s.out.data, plain, n) == 0);
    bytes_free(&s.out);
    EXPECT(KES_OK, kes_open, admin, from_rust.data, from_rust.len, ctx, 5, &opened);
    CHECK(kes_buf_len(opened) == n && memcmp(kes_buf_data(opened), plain, n) == 0);
    kes_buf_free(opened);
    s = stream_over(from_rust.data, from_rust.len);
    EXPECT(KES_OK, kes_open_range, admin, ctx, 5, stream_read_at, from_rust.len, n / 3, 100000,
           stream_write, &s);
    CHECK(s.out.len == 100000 && memcmp(s.out.data, plain + n / 3, 100000) == 0);
    bytes_free(&s.out);
    bytes_free(&from_rust);

    free(plain);
    kes_keys_free(local_fs);
    kes_keys_free(stranger);
    kes_keys_free(admin);
    free(endpoint);
    free(admin_key);
    free(stranger_key);
    usleep(500 * 1000); /* as test_remote: let freed connections close before exit */
    printf("test_envelope remote: ok\n");
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc == 5);
    size_t mib = (size_t)strtoul(argv[4], NULL, 10);
    CHECK(mib >= 1);
    if (strcmp(argv[1], "local") == 0) return local(argv[2], argv[3], mib);
    if (strcmp(argv[1], "remote") == 0) return remote(argv[2], argv[3], mib);
    fprintf(stderr, "usage: test_envelope local SCRATCH VECTORS MIB | remote SERVER TOOL MIB\n");
    return 2;
}
