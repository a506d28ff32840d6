/* libkes in local mode (memory, an fs directory, a KES config file): every function, every result
 * code a local handle can give, NULL arguments, and the panic boundary.
 *
 *   test_local SCRATCH_DIR    (works in a fresh directory under it) */
#include "contract.h"

#include <sys/stat.h>
#include <unistd.h>

/* In libkes, not in kes.h: panics inside the boundary (src/internal.rs). */
kes_result kes_internal_test_panic(kes_error **err_out);

static char scratch[2048];

static const char *path(const char *name) {
    static char buf[4][4096];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, 4096, "%s/%s", scratch, name);
    return out;
}

static void write_file(const char *file, const char *text) {
    FILE *f = fopen(file, "wb");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

static void codes_and_version(void) {
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", KES_VERSION_MAJOR, KES_VERSION_MINOR,
             KES_VERSION_PATCH);
    CHECK_STR(kes_version(), version);
    static const struct {
        kes_result code;
        unsigned number;
        const char *name;
    } codes[] = {
        {KES_OK, 0, "KES_OK"},
        {KES_INVALID_ARGUMENT, 1, "KES_INVALID_ARGUMENT"},
        {KES_KEY_NOT_FOUND, 2, "KES_KEY_NOT_FOUND"},
        {KES_KEY_EXISTS, 3, "KES_KEY_EXISTS"},
        {KES_NOT_ALLOWED, 4, "KES_NOT_ALLOWED"},
        {KES_DECRYPT_FAILED, 5, "KES_DECRYPT_FAILED"},
        {KES_KEY_STORE_UNAVAILABLE, 6, "KES_KEY_STORE_UNAVAILABLE"},
        {KES_HMAC_NOT_SUPPORTED, 7, "KES_HMAC_NOT_SUPPORTED"},
        {KES_UNSUPPORTED_ALGORITHM, 8, "KES_UNSUPPORTED_ALGORITHM"},
        {KES_NOT_FOUND, 9, "KES_NOT_FOUND"},
        {KES_CONNECTION, 10, "KES_CONNECTION"},
        {KES_PROTOCOL, 11, "KES_PROTOCOL"},
        {KES_CONFIG, 12, "KES_CONFIG"},
        {KES_FORKED, 13, "KES_FORKED"},
        {KES_INTERNAL, 14, "KES_INTERNAL"},
        {KES_IO, 15, "KES_IO"},
        {KES_PANIC, 100, "KES_PANIC"},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(codes[i].code == codes[i].number);
        CHECK_STR(kes_result_name(codes[i].code), codes[i].name);
    }
    CHECK_STR(kes_result_name(16), "KES_UNKNOWN");
    CHECK_STR(kes_result_name(99), "KES_UNKNOWN");
}

/* Every function with each pointer NULL in turn: KES_INVALID_ARGUMENT, outputs untouched. */
static void null_arguments(const kes_keys *keys) {
    kes_keys *sentinel_keys = (kes_keys *)&sentinel_keys;
    kes_keys *out = sentinel_keys;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: keys_out is NULL", kes_keys_in_memory,
               NULL);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: path is NULL", kes_keys_from_fs, NULL,
               &out);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_from_fs, path("unused"), NULL);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_from_config, NULL, &out);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_from_config, path("unused"), NULL);
    const char *endpoints[] = {"https://127.0.0.1:1", NULL};
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, NULL, 1, "kes:v1:x", NULL, NULL, NULL, &out);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: no endpoint given", kes_keys_connect,
               endpoints, 0, "kes:v1:x", NULL, NULL, NULL, &out);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: endpoints[1] is NULL", kes_keys_connect,
               endpoints, 2, "kes:v1:x", NULL, NULL, NULL, &out);
    CHECK(out == sentinel_keys);

    const char *name = "null-args";
    EXPECT(KES_OK, kes_create_key, keys, name);
    uint8_t byte = 0, mac[KES_HMAC_LEN];
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: keys is NULL", kes_create_key, NULL,
               name);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: name is NULL", kes_create_key, keys,
               NULL);
    EXPECT(KES_INVALID_ARGUMENT, kes_import_key, NULL, name, &byte, 1, "AES256");
    EXPECT(KES_INVALID_ARGUMENT, kes_import_key, keys, NULL, &byte, 1, "AES256");
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: key is NULL but its length is 32",
               kes_import_key, keys, "null-import", NULL, 32, "AES256");
    EXPECT(KES_INVALID_ARGUMENT, kes_import_key, keys, "null-import", &byte, 1, NULL);
    kes_key_info *info = (kes_key_info *)&byte;
    EXPECT(KES_INVALID_ARGUMENT, kes_describe_key, NULL, name, &info);
    EXPECT(KES_INVALID_ARGUMENT, kes_describe_key, keys, NULL, &info);
    EXPECT(KES_INVALID_ARGUMENT, kes_describe_key, keys, name, NULL);
    CHECK(info == (kes_key_info *)&byte);
    EXPECT(KES_INVALID_ARGUMENT, kes_delete_key, NULL, name);
    EXPECT(KES_INVALID_ARGUMENT, kes_delete_key, keys, NULL);
    kes_key_iter *iter = (kes_key_iter *)&byte;
    EXPECT(KES_INVALID_ARGUMENT, kes_list_keys, NULL, "*", &iter);
    EXPECT(KES_INVALID_ARGUMENT, kes_list_keys, keys, NULL, &iter);
    EXPECT(KES_INVALID_ARGUMENT, kes_list_keys, keys, "*", NULL);
    CHECK(iter == (kes_key_iter *)&byte);
    const char *next = "sentinel";
    EXPECT(KES_INVALID_ARGUMENT, kes_key_iter_next, NULL, &next);
    CHECK_STR(next, "sentinel");
    kes_data_key *dek = (kes_data_key *)&byte;
    EXPECT(KES_INVALID_ARGUMENT, kes_generate_key, NULL, name, NULL, 0, &dek);
    EXPECT(KES_INVALID_ARGUMENT, kes_generate_key, keys, NULL, NULL, 0, &dek);
    EXPECT(KES_INVALID_ARGUMENT, kes_generate_key, keys, name, NULL, 1, &dek);
    EXPECT(KES_INVALID_ARGUMENT, kes_generate_key, keys, name, NULL, 0, NULL);
    CHECK(dek == (kes_data_key *)&byte);
    kes_buf *buf = (kes_buf *)&byte;
    EXPECT(KES_INVALID_ARGUMENT, kes_encrypt, NULL, name, &byte, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_encrypt, keys, NULL, &byte, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_encrypt, keys, name, NULL, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_encrypt, keys, name, &byte, 1, NULL, 1, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_encrypt, keys, name, &byte, 1, NULL, 0, NULL);
    EXPECT(KES_INVALID_ARGUMENT, kes_decrypt, NULL, name, &byte, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_decrypt, keys, NULL, &byte, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_decrypt, keys, name, NULL, 1, NULL, 0, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_decrypt, keys, name, &byte, 1, NULL, 1, &buf);
    EXPECT(KES_INVALID_ARGUMENT, kes_decrypt, keys, name, &byte, 1, NULL, 0, NULL);
    CHECK(buf == (kes_buf *)&byte);
    EXPECT(KES_INVALID_ARGUMENT, kes_hmac, NULL, name, NULL, 0, mac, sizeof mac);
    EXPECT(KES_INVALID_ARGUMENT, kes_hmac, keys, NULL, NULL, 0, mac, sizeof mac);
    EXPECT(KES_INVALID_ARGUMENT, kes_hmac, keys, name, NULL, 1, mac, sizeof mac);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: mac_out is NULL", kes_hmac, keys, name,
               NULL, 0, NULL, sizeof mac);
    EXPECT(KES_INVALID_ARGUMENT, kes_status, NULL, NULL);
    /* An empty (NULL, 0) plaintext is allowed. */
    buf = NULL;
    EXPECT(KES_OK, kes_encrypt, keys, name, NULL, 0, NULL, 0, &buf);
    kes_buf *empty = NULL;
    EXPECT(KES_OK, kes_decrypt, keys, name, kes_buf_data(buf), kes_buf_len(buf), NULL, 0, &empty);
    CHECK(kes_buf_len(empty) == 0);
    kes_buf_free(empty);
    kes_buf_free(buf);
    EXPECT(KES_OK, kes_delete_key, keys, name);

    /* Accessors on NULL: NULL or 0. Frees of NULL: nothing. */
    CHECK(kes_error_code(NULL) == KES_INVALID_ARGUMENT);
    CHECK(kes_error_status(NULL) == 0);
    CHECK_STR(kes_error_message(NULL), "");
    CHECK_STR(kes_error_detail(NULL), "");
    CHECK(kes_buf_data(NULL) == NULL && kes_buf_len(NULL) == 0);
    CHECK(kes_data_key_plaintext(NULL) == NULL && kes_data_key_plaintext_len(NULL) == 0);
    CHECK(kes_data_key_ciphertext(NULL) == NULL && kes_data_key_ciphertext_len(NULL) == 0);
    CHECK(kes_key_info_name(NULL) == NULL && kes_key_info_algorithm(NULL) == NULL);
    CHECK(kes_key_info_created_at(NULL) == 0 && kes_key_info_created_by(NULL) == NULL);
    kes_error_free(NULL);
    kes_buf_free(NULL);
    kes_data_key_free(NULL);
    kes_key_info_free(NULL);
    kes_key_iter_free(NULL);
    kes_keys_free(NULL);
}

static void panics_stop_at_the_boundary(const kes_keys *keys) {
    kes_error *err = NULL;
    CHECK(kes_internal_test_panic(&err) == KES_PANIC);
    CHECK(kes_error_code(err) == KES_PANIC);
    CHECK(kes_error_status(err) == 500);
    CHECK(strstr(kes_error_message(err), "kes_internal_test_panic was called") != NULL);
    kes_error_free(err);
    CHECK(kes_internal_test_panic(NULL) == KES_PANIC);
    /* The library still works. */
    EXPECT(KES_OK, kes_status, keys, NULL);
}

static void fs_and_config(void) {
    kes_keys *fs = NULL;
    EXPECT(KES_OK, kes_keys_from_fs, path("keys"), &fs);
    contract(fs, "fs");
    EXPECT(KES_OK, kes_create_key, fs, "shared");
    kes_data_key *dek = NULL;
    EXPECT(KES_OK, kes_generate_key, fs, "shared", (const uint8_t *)"ctx", 3, &dek);

    /* A KES server's config file over the same directory; ${ENV} expands as the server's. */
    CHECK(setenv("KES_C_TEST_KEYS", path("keys"), 1) == 0);
    write_file(path("config.yml"),
               "address: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: /nowhere/k\n  "
               "cert: /nowhere/c\ncache:\n  expiry:\n    any: 1m\nkeystore:\n  fs:\n    path: "
               "${KES_C_TEST_KEYS}\n");
    kes_keys *config = NULL;
    EXPECT(KES_OK, kes_keys_from_config, path("config.yml"), &config);
    kes_buf *plaintext = NULL;
    EXPECT(KES_OK, kes_decrypt, config, "shared", kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), (const uint8_t *)"ctx", 3, &plaintext);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    contract(config, "config");
    kes_keys_free(config);

    /* KES_CONFIG: an invalid file, a missing one. */
    write_file(path("bad.yml"), "keystore:\n  fs: {}\n");
    config = NULL;
    kes_error *err = NULL;
    CHECK(kes_keys_from_config(path("bad.yml"), &config, &err) == KES_CONFIG);
    CHECK(config == NULL && kes_error_status(err) == 500);
    CHECK_STR(kes_error_message(err), "invalid configuration");
    CHECK(strlen(kes_error_detail(err)) > strlen("invalid configuration"));
    kes_error_free(err);
    EXPECT(KES_CONFIG, kes_keys_from_config, path("missing.yml"), &config);

    /* KES_HMAC_NOT_SUPPORTED: a legacy JSON key, as old KES versions wrote them. */
    write_file(path("keys/legacy"),
               "{\"bytes\":\"BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=\",\"algorithm\":\"AES256\"}");
    uint8_t mac[KES_HMAC_LEN];
    EXPECT_ERR(KES_HMAC_NOT_SUPPORTED, 409, "key does not support HMAC", kes_hmac, fs, "legacy",
               NULL, 0, mac, sizeof mac);
    kes_key_info *info = NULL;
    EXPECT(KES_OK, kes_describe_key, fs, "legacy", &info);
    CHECK(kes_key_info_created_at(info) < 0); /* Go's zero time */
    CHECK(kes_key_info_created_by(info) == NULL);
    kes_key_info_free(info);

    /* KES_KEY_STORE_UNAVAILABLE: the directory is replaced by a file under an open handle, and a
     * directory that cannot be created. */
    CHECK(rename(path("keys"), path("keys.moved")) == 0);
    write_file(path("keys"), "not a directory");
    EXPECT_ERR(KES_KEY_STORE_UNAVAILABLE, 502, "failed to create key", kes_create_key, fs,
               "after-move");
    kes_keys *broken = NULL;
    EXPECT(KES_KEY_STORE_UNAVAILABLE, kes_keys_from_fs, path("keys/sub"), &broken);
    CHECK(broken == NULL);
    kes_keys_free(fs);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    mkdir(argv[1], 0700);
    snprintf(scratch, sizeof scratch, "%s/local-XXXXXX", argv[1]);
    CHECK(mkdtemp(scratch) != NULL);

    codes_and_version();
    kes_keys *memory = NULL;
    EXPECT(KES_OK, kes_keys_in_memory, &memory);
    contract(memory, "memory");
    null_arguments(memory);
    panics_stop_at_the_boundary(memory);
    kes_keys_free(memory);
    fs_and_config();
    printf("test_local: ok\n");
    return 0;
}
