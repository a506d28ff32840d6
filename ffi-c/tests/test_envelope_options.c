/* Envelope options and string-map contexts through libkes: kes_envelope_builder (accepted key names,
 * data-key reuse), the kes_envelope_* operations, and kes_context_from_map.
 *
 *   test_envelope_options local                an in-memory handle
 *   test_envelope_options remote SERVER_DIR    a remote handle on a real kesrs server (server.sh)
 *
 * Reuse is asserted through the sealed headers (docs/envelope.md section 2): messages that share a
 * data key carry the same data-key ciphertext, one KES `generate` for all of them. */
#include "streams.h"

#include <unistd.h>

#define SHARED_KEY 0x01
static const char NOT_ACCEPTED[] = "invalid envelope: key is not accepted";

/* Key names of this run's own: the plain and the memcheck run share the remote server. */
static char app_key[64], other_key[64], gone_key[64], accept_pattern[64];

/* ---- the envelope header ----------------------------------------------------------------------- */

static uint8_t header_flags(const kes_buf *sealed) { return kes_buf_data(sealed)[5]; }

/* Whether two envelopes' headers hold the same data-key ciphertext: one data key from KES. */
static int same_data_key(const kes_buf *a, const kes_buf *b) {
    const uint8_t *x = kes_buf_data(a), *y = kes_buf_data(b);
    size_t x_len = (size_t)x[7] | ((size_t)x[8] << 8), y_len = (size_t)y[7] | ((size_t)y[8] << 8);
    return x_len == y_len && x[6] == y[6] && memcmp(x + 9 + x[6], y + 9 + y[6], x_len) == 0;
}

/* Seals `len` bytes of test data with `envelope`; checks that the handle's kes_open opens it. */
static kes_buf *seal_with(const kes_envelope *envelope, const kes_keys *keys, const char *key,
                          size_t len, const char *ctx) {
    uint8_t *plain = pattern(len, (unsigned)len);
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_envelope_seal, envelope, key, plain, len, (const uint8_t *)ctx, strlen(ctx),
           &sealed);
    EXPECT(KES_OK, kes_open, keys, kes_buf_data(sealed), kes_buf_len(sealed), (const uint8_t *)ctx,
           strlen(ctx), &opened);
    CHECK(kes_buf_len(opened) == len && memcmp(kes_buf_data(opened), plain, len) == 0);
    kes_buf_free(opened);
    free(plain);
    return sealed;
}

/* An envelope over `keys` with data-key reuse within the limits. */
static kes_envelope *reusing(const kes_keys *keys, uint64_t messages, uint64_t bytes,
                             uint64_t max_age_ms) {
    kes_envelope_builder *builder = NULL;
    kes_envelope *envelope = NULL;
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_reuse_data_keys, builder, messages, bytes, max_age_ms);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &envelope);
    kes_envelope_builder_free(builder);
    return envelope;
}

/* An envelope over `keys` that opens only the key names `patterns` match. */
static kes_envelope *accepting(const kes_keys *keys, const char *const *patterns, size_t n) {
    kes_envelope_builder *builder = NULL;
    kes_envelope *envelope = NULL;
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_accept_keys, builder, patterns, n);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &envelope);
    kes_envelope_builder_free(builder);
    return envelope;
}

/* ---- the builder ------------------------------------------------------------------------------- */

static void builder_arguments(const kes_keys *keys) {
    kes_envelope_builder *builder = NULL;
    kes_envelope *envelope = NULL;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: builder_out is NULL",
               kes_envelope_builder_new, NULL);
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);

    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: builder is NULL",
               kes_envelope_builder_accept_keys, NULL, NULL, 0);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: patterns is NULL but its length is 2",
               kes_envelope_builder_accept_keys, builder, NULL, 2);
    const char *with_null[] = {"a-*", NULL};
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: patterns[1] is NULL",
               kes_envelope_builder_accept_keys, builder, with_null, 2);
    const char *bad_pattern[] = {"a/b"};
    EXPECT(KES_INVALID_ARGUMENT, kes_envelope_builder_accept_keys, builder, bad_pattern, 1);
    const char *not_utf8[] = {"\xff"};
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: patterns[0] is not UTF-8",
               kes_envelope_builder_accept_keys, builder, not_utf8, 1);

    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: builder is NULL",
               kes_envelope_builder_reuse_data_keys, NULL, 1, 1, 1);
    const char *reuse_message = "invalid envelope: data key reuse limits must be non-zero";
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, reuse_message, kes_envelope_builder_reuse_data_keys,
               builder, 0, 1, 1);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, reuse_message, kes_envelope_builder_reuse_data_keys,
               builder, 1, 0, 1);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, reuse_message, kes_envelope_builder_reuse_data_keys,
               builder, 1, 1, 0);

    /* A failed build leaves the builder as it was; a successful one uses it up. */
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: keys is NULL",
               kes_envelope_builder_build, builder, NULL, &envelope);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: envelope_out is NULL",
               kes_envelope_builder_build, builder, keys, NULL);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: builder is NULL",
               kes_envelope_builder_build, NULL, keys, &envelope);
    CHECK(envelope == NULL);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &envelope);
    CHECK(envelope != NULL);
    const char *already = "invalid argument: the builder was already built";
    kes_envelope *second = NULL;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, already, kes_envelope_builder_build, builder, keys,
               &second);
    CHECK(second == NULL);
    const char *any[] = {"*"};
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, already, kes_envelope_builder_accept_keys, builder, any,
               1);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, already, kes_envelope_builder_reuse_data_keys, builder, 1,
               1, 1);
    kes_envelope_builder_free(builder);
    kes_envelope_builder_free(NULL);

    /* The operations on a NULL envelope. */
    kes_buf *out = NULL;
    stream s = stream_over((const uint8_t *)"x", 1);
    const char *null_envelope = "invalid argument: envelope is NULL";
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, null_envelope, kes_envelope_seal, NULL, app_key,
               (const uint8_t *)"x", 1, NULL, 0, &out);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, null_envelope, kes_envelope_open, NULL,
               (const uint8_t *)"x", 1, NULL, 0, &out);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, null_envelope, kes_envelope_seal_stream, NULL, app_key,
               NULL, 0, stream_read, stream_write, &s);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, null_envelope, kes_envelope_open_stream, NULL, NULL, 0,
               stream_read, stream_write, &s);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, null_envelope, kes_envelope_open_range, NULL, NULL, 0,
               stream_read_at, 1, 0, 1, stream_write, &s);
    CHECK(out == NULL && s.reads == 0 && s.writes == 0);
    kes_envelope_free(envelope);
    kes_envelope_free(NULL);
}

/* An envelope keeps its handle's keys: it works after kes_keys_free. */
static void outlives_handle(void) {
    kes_keys *keys = NULL;
    kes_envelope_builder *builder = NULL;
    kes_envelope *envelope = NULL;
    EXPECT(KES_OK, kes_keys_in_memory, &keys);
    EXPECT(KES_OK, kes_create_key, keys, "short-lived");
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &envelope);
    kes_envelope_builder_free(builder);
    kes_keys_free(keys);
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_envelope_seal, envelope, "short-lived", (const uint8_t *)"still", 5, NULL, 0,
           &sealed);
    EXPECT(KES_OK, kes_envelope_open, envelope, kes_buf_data(sealed), kes_buf_len(sealed), NULL, 0,
           &opened);
    CHECK(kes_buf_len(opened) == 5 && memcmp(kes_buf_data(opened), "still", 5) == 0);
    kes_buf_free(opened);
    kes_buf_free(sealed);
    kes_envelope_free(envelope);
}

/* ---- accepted key names ------------------------------------------------------------------------ */

/* Opens `sealed` with `envelope` one shot, streamed and as a range: refused as not accepted before
 * anything is written. */
static void expect_not_accepted(const kes_envelope *envelope, const kes_buf *sealed,
                                const char *ctx) {
    kes_buf *opened = NULL;
    EXPECT_ERR(KES_NOT_ALLOWED, 403, NOT_ACCEPTED, kes_envelope_open, envelope, kes_buf_data(sealed),
               kes_buf_len(sealed), (const uint8_t *)ctx, strlen(ctx), &opened);
    CHECK(opened == NULL);
    stream s = stream_over(kes_buf_data(sealed), kes_buf_len(sealed));
    EXPECT_ERR(KES_NOT_ALLOWED, 403, NOT_ACCEPTED, kes_envelope_open_stream, envelope,
               (const uint8_t *)ctx, strlen(ctx), stream_read, stream_write, &s);
    CHECK(s.writes == 0);
    s = stream_over(kes_buf_data(sealed), kes_buf_len(sealed));
    EXPECT_ERR(KES_NOT_ALLOWED, 403, NOT_ACCEPTED, kes_envelope_open_range, envelope,
               (const uint8_t *)ctx, strlen(ctx), stream_read_at, kes_buf_len(sealed), 0, 1,
               stream_write, &s);
    CHECK(s.writes == 0);
}

/* Opens `sealed` (`len` bytes of pattern(len, len)) with `envelope` one shot, streamed and as a
 * range. */
static void expect_opens(const kes_envelope *envelope, const kes_buf *sealed, size_t len,
                         const char *ctx) {
    uint8_t *plain = pattern(len, (unsigned)len);
    kes_buf *opened = NULL;
    EXPECT(KES_OK, kes_envelope_open, envelope, kes_buf_data(sealed), kes_buf_len(sealed),
           (const uint8_t *)ctx, strlen(ctx), &opened);
    CHECK(kes_buf_len(opened) == len && memcmp(kes_buf_data(opened), plain, len) == 0);
    kes_buf_free(opened);
    stream s = stream_over(kes_buf_data(sealed), kes_buf_len(sealed));
    s.chunks = ODD;
    s.n_chunks = sizeof ODD / sizeof ODD[0];
    EXPECT(KES_OK, kes_envelope_open_stream, envelope, (const uint8_t *)ctx, strlen(ctx),
           stream_read, stream_write, &s);
    CHECK(s.out.len == len && memcmp(s.out.data, plain, len) == 0);
    bytes_free(&s.out);
    s = stream_over(kes_buf_data(sealed), kes_buf_len(sealed));
    EXPECT(KES_OK, kes_envelope_open_range, envelope, (const uint8_t *)ctx, strlen(ctx),
           stream_read_at, kes_buf_len(sealed), len / 2, len - len / 2, stream_write, &s);
    CHECK(s.out.len == len - len / 2 && memcmp(s.out.data, plain + len / 2, s.out.len) == 0);
    bytes_free(&s.out);
    free(plain);
}

static void accept_keys(const kes_keys *keys) {
    const char *ctx = "accept";
    kes_envelope *any = accepting(keys, (const char *[]){"*"}, 1);
    kes_buf *app = seal_with(any, keys, app_key, 70000, ctx);
    kes_buf *other = seal_with(any, keys, other_key, 70000, ctx);

    /* A prefix pattern: the app's key opens, the other is refused. */
    const char *prefix[] = {"no-such-*", accept_pattern};
    kes_envelope *app_only = accepting(keys, prefix, 2);
    expect_opens(app_only, app, 70000, ctx);
    expect_not_accepted(app_only, other, ctx);
    /* An exact name. */
    kes_envelope *exact = accepting(keys, (const char *[]){other_key}, 1);
    expect_opens(exact, other, 70000, ctx);
    expect_not_accepted(exact, app, ctx);
    /* No pattern: nothing opens. */
    kes_envelope *none = accepting(keys, NULL, 0);
    expect_not_accepted(none, app, ctx);
    /* The handle's own functions accept any key, as before. */
    kes_buf *opened = NULL;
    EXPECT(KES_OK, kes_open, keys, kes_buf_data(other), kes_buf_len(other), (const uint8_t *)ctx,
           strlen(ctx), &opened);
    kes_buf_free(opened);

    /* Refused before KES is asked: with the key gone, still "not accepted", not "key does not
     * exist" (which the handle's kes_open then gives). */
    kes_buf *gone = seal_with(any, keys, gone_key, 10, ctx);
    EXPECT(KES_OK, kes_delete_key, keys, gone_key);
    expect_not_accepted(app_only, gone, ctx);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_open, keys, kes_buf_data(gone),
               kes_buf_len(gone), (const uint8_t *)ctx, strlen(ctx), &opened);

    /* The last call's list counts. */
    kes_envelope_builder *builder = NULL;
    kes_envelope *replaced = NULL;
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_accept_keys, builder, (const char *[]){app_key}, 1);
    EXPECT(KES_OK, kes_envelope_builder_accept_keys, builder, (const char *[]){other_key}, 1);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &replaced);
    kes_envelope_builder_free(builder);
    expect_opens(replaced, other, 70000, ctx);
    expect_not_accepted(replaced, app, ctx);

    kes_envelope_free(replaced);
    kes_envelope_free(none);
    kes_envelope_free(exact);
    kes_envelope_free(app_only);
    kes_envelope_free(any);
    kes_buf_free(gone);
    kes_buf_free(other);
    kes_buf_free(app);
}

/* ---- data-key reuse ---------------------------------------------------------------------------- */

static void reuse(const kes_keys *keys) {
    /* At most 3 messages per data key. */
    kes_envelope *three = reusing(keys, 3, 1 << 20, 600000);
    kes_buf *m[5];
    for (int i = 0; i < 5; i++) m[i] = seal_with(three, keys, app_key, 100, "{\"a\":\"1\"}");
    for (int i = 0; i < 5; i++) CHECK(header_flags(m[i]) == SHARED_KEY);
    CHECK(same_data_key(m[0], m[1]) && same_data_key(m[0], m[2]));
    CHECK(!same_data_key(m[0], m[3]));
    CHECK(same_data_key(m[3], m[4]));
    /* Another context, or another key name: a data key of its own. */
    kes_buf *other_ctx = seal_with(three, keys, app_key, 100, "{\"a\":\"2\"}");
    kes_buf *other_key_msg = seal_with(three, keys, other_key, 100, "{\"a\":\"1\"}");
    CHECK(!same_data_key(other_ctx, m[3]) && !same_data_key(other_ctx, m[0]));
    CHECK(!same_data_key(other_key_msg, m[3]) && !same_data_key(other_key_msg, m[0]));
    /* Streams always get a fresh data key, unshared. */
    uint8_t *plain = pattern(1000, 1);
    stream s = stream_over(plain, 1000);
    EXPECT(KES_OK, kes_envelope_seal_stream, three, app_key, (const uint8_t *)"{\"a\":\"1\"}", 9,
           stream_read, stream_write, &s);
    CHECK(s.out.data[5] == 0);
    kes_buf *streamed = NULL;
    EXPECT(KES_OK, kes_open, keys, s.out.data, s.out.len, (const uint8_t *)"{\"a\":\"1\"}", 9,
           &streamed);
    CHECK(kes_buf_len(streamed) == 1000 && memcmp(kes_buf_data(streamed), plain, 1000) == 0);
    kes_buf_free(streamed);
    bytes_free(&s.out);
    free(plain);
    for (int i = 0; i < 5; i++) kes_buf_free(m[i]);
    kes_buf_free(other_ctx);
    kes_buf_free(other_key_msg);
    kes_envelope_free(three);

    /* At most 250 plaintext bytes per data key: 100 + 100 share, a third 100 needs a new one. */
    kes_envelope *bytes250 = reusing(keys, 100, 250, 600000);
    kes_buf *b1 = seal_with(bytes250, keys, app_key, 100, "b");
    kes_buf *b2 = seal_with(bytes250, keys, app_key, 100, "b");
    kes_buf *b3 = seal_with(bytes250, keys, app_key, 100, "b");
    kes_buf *b4 = seal_with(bytes250, keys, app_key, 150, "b");
    CHECK(same_data_key(b1, b2) && !same_data_key(b1, b3) && same_data_key(b3, b4));
    /* A message larger than the limit gets a key of its own, not shared. */
    kes_buf *big = seal_with(bytes250, keys, app_key, 251, "b");
    CHECK(header_flags(big) == 0 && !same_data_key(big, b3) && !same_data_key(big, b1));
    kes_buf_free(b1);
    kes_buf_free(b2);
    kes_buf_free(b3);
    kes_buf_free(b4);
    kes_buf_free(big);
    kes_envelope_free(bytes250);

    /* A data key older than its age is not used again (only this direction is asserted: sharing
     * within the age would depend on how fast the machine is). */
    kes_envelope *young = reusing(keys, 100, 1 << 20, 200);
    kes_buf *y1 = seal_with(young, keys, app_key, 10, "y");
    usleep(400 * 1000);
    kes_buf *y2 = seal_with(young, keys, app_key, 10, "y");
    CHECK(!same_data_key(y1, y2));
    kes_buf_free(y1);
    kes_buf_free(y2);
    kes_envelope_free(young);

    /* Without reuse (the handle's kes_seal, or an envelope with the defaults): a data key each. */
    kes_buf *d1 = NULL, *d2 = NULL;
    EXPECT(KES_OK, kes_seal, keys, app_key, (const uint8_t *)"x", 1, NULL, 0, &d1);
    EXPECT(KES_OK, kes_seal, keys, app_key, (const uint8_t *)"x", 1, NULL, 0, &d2);
    CHECK(header_flags(d1) == 0 && header_flags(d2) == 0 && !same_data_key(d1, d2));
    kes_buf_free(d1);
    kes_buf_free(d2);
    kes_envelope_builder *builder = NULL;
    kes_envelope *plain_envelope = NULL;
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &plain_envelope);
    kes_envelope_builder_free(builder);
    d1 = seal_with(plain_envelope, keys, app_key, 10, "");
    d2 = seal_with(plain_envelope, keys, app_key, 10, "");
    CHECK(header_flags(d1) == 0 && header_flags(d2) == 0 && !same_data_key(d1, d2));
    kes_buf_free(d1);
    kes_buf_free(d2);
    kes_envelope_free(plain_envelope);
}

/* ---- string-map contexts ----------------------------------------------------------------------- */

static kes_buf *context_of(const char *const *names, const char *const *values, size_t n) {
    kes_buf *context = NULL;
    EXPECT(KES_OK, kes_context_from_map, names, values, n, &context);
    return context;
}

static void expect_context(const char *const *names, const char *const *values, size_t n,
                           const char *want) {
    kes_buf *context = context_of(names, values, n);
    if (kes_buf_len(context) != strlen(want) ||
        memcmp(kes_buf_data(context), want, strlen(want)) != 0) {
        fprintf(stderr, "context is \"%.*s\", want \"%s\"\n", (int)kes_buf_len(context),
                (const char *)kes_buf_data(context), want);
        exit(1);
    }
    kes_buf_free(context);
}

static void contexts(const kes_keys *keys) {
    /* MinIO's canonical JSON: sorted by name, no spaces, Go's escaping. */
    expect_context((const char *[]){"object", "bucket"}, (const char *[]){"o/1", "b"}, 2,
                   "{\"bucket\":\"b\",\"object\":\"o/1\"}");
    expect_context(NULL, NULL, 0, "{}");
    expect_context((const char *[]){"a", "a"}, (const char *[]){"first", "last"}, 2,
                   "{\"a\":\"last\"}");
    expect_context((const char *[]){"k"}, (const char *[]){"<a&b>\"\\\n\t\x01\xc3\xa9"}, 1,
                   "{\"k\":\"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\t\\u0001\xc3\xa9\"}");

    kes_buf *context = NULL;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: names is NULL but its length is 1",
               kes_context_from_map, NULL, (const char *[]){"v"}, 1, &context);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: values is NULL but its length is 1",
               kes_context_from_map, (const char *[]){"n"}, NULL, 1, &context);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: values[1] is NULL",
               kes_context_from_map, (const char *[]){"a", "b"}, (const char *[]){"1", NULL}, 2,
               &context);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: names[0] is not UTF-8",
               kes_context_from_map, (const char *[]){"\xc3"}, (const char *[]){"1"}, 1, &context);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: context_out is NULL",
               kes_context_from_map, NULL, NULL, 0, NULL);
    CHECK(context == NULL);

    /* The map and its bytes are one context: sealed with either, opened with the other. */
    static const char canonical[] = "{\"bucket\":\"photos\",\"object\":\"2026/cat.jpg\"}";
    const size_t canonical_len = sizeof canonical - 1;
    kes_buf *map = context_of((const char *[]){"object", "bucket"},
                              (const char *[]){"2026/cat.jpg", "photos"}, 2);
    kes_buf *reordered = context_of((const char *[]){"bucket", "object"},
                                    (const char *[]){"photos", "2026/cat.jpg"}, 2);
    kes_buf *sealed = NULL, *opened = NULL;
    EXPECT(KES_OK, kes_seal, keys, app_key, (const uint8_t *)"meow", 4, kes_buf_data(map),
           kes_buf_len(map), &sealed);
    EXPECT(KES_OK, kes_open, keys, kes_buf_data(sealed), kes_buf_len(sealed),
           (const uint8_t *)canonical, canonical_len, &opened);
    CHECK(kes_buf_len(opened) == 4 && memcmp(kes_buf_data(opened), "meow", 4) == 0);
    kes_buf_free(opened);
    kes_buf_free(sealed);
    EXPECT(KES_OK, kes_seal, keys, app_key, (const uint8_t *)"purr", 4, (const uint8_t *)canonical,
           canonical_len, &sealed);
    EXPECT(KES_OK, kes_open, keys, kes_buf_data(sealed), kes_buf_len(sealed),
           kes_buf_data(reordered), kes_buf_len(reordered), &opened);
    CHECK(kes_buf_len(opened) == 4 && memcmp(kes_buf_data(opened), "purr", 4) == 0);
    kes_buf_free(opened);
    /* Another map is another context. */
    kes_buf *other = context_of((const char *[]){"bucket"}, (const char *[]){"photos"}, 1);
    kes_error *err = NULL;
    CHECK(kes_open(keys, kes_buf_data(sealed), kes_buf_len(sealed), kes_buf_data(other),
                   kes_buf_len(other), &opened, &err) == KES_DECRYPT_FAILED);
    kes_error_free(err);
    kes_buf_free(sealed);
    /* And a data key: generated with the map, decrypted with the bytes. */
    kes_data_key *dek = NULL;
    kes_buf *plaintext = NULL;
    EXPECT(KES_OK, kes_generate_key, keys, app_key, kes_buf_data(map), kes_buf_len(map), &dek);
    EXPECT(KES_OK, kes_decrypt, keys, app_key, kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), (const uint8_t *)canonical, canonical_len,
           &plaintext);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    kes_buf_free(other);
    kes_buf_free(reordered);
    kes_buf_free(map);
}

static void run(const kes_keys *keys, const char *prefix) {
    snprintf(app_key, sizeof app_key, "%s-app-%ld", prefix, (long)getpid());
    snprintf(accept_pattern, sizeof accept_pattern, "%s-app-*", prefix);
    snprintf(other_key, sizeof other_key, "%s-other-%ld", prefix, (long)getpid());
    snprintf(gone_key, sizeof gone_key, "%s-gone-%ld", prefix, (long)getpid());
    EXPECT(KES_OK, kes_create_key, keys, app_key);
    EXPECT(KES_OK, kes_create_key, keys, other_key);
    EXPECT(KES_OK, kes_create_key, keys, gone_key);
    builder_arguments(keys);
    accept_keys(keys);
    reuse(keys);
    contexts(keys);
    EXPECT(KES_OK, kes_delete_key, keys, app_key);
    EXPECT(KES_OK, kes_delete_key, keys, other_key);
}

int main(int argc, char **argv) {
    kes_keys *keys = NULL;
    if (argc == 2 && strcmp(argv[1], "local") == 0) {
        EXPECT(KES_OK, kes_keys_in_memory, &keys);
        run(keys, "opt");
        outlives_handle();
    } else if (argc == 3 && strcmp(argv[1], "remote") == 0) {
        char *endpoint = read_text(argv[2], "endpoint");
        char *api_key = read_text(argv[2], "admin.key");
        char ca[4096];
        snprintf(ca, sizeof ca, "%s/server.cert", argv[2]);
        const char *endpoints[] = {endpoint};
        EXPECT(KES_OK, kes_keys_connect, endpoints, 1, api_key, NULL, NULL, ca, &keys);
        free(endpoint);
        free(api_key);
        run(keys, "opt");
    } else {
        fprintf(stderr, "usage: test_envelope_options local | remote SERVER_DIR\n");
        return 2;
    }
    kes_keys_free(keys);
    usleep(500 * 1000); /* as test_remote: let a remote handle's connections close before exit */
    printf("test_envelope_options %s: ok\n", argv[1]);
    return 0;
}
