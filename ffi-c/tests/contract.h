/* Every key operation and the errors application code handles, the same for every kind of handle. */
#ifndef KES_TEST_CONTRACT_H
#define KES_TEST_CONTRACT_H

#include "harness.h"

#include <time.h>

static inline void contract(const kes_keys *keys, const char *prefix) {
    char key[128], imported[128], chacha[128], pattern[128];
    snprintf(key, sizeof key, "%s-key", prefix);
    snprintf(imported, sizeof imported, "%s-imported", prefix);
    snprintf(chacha, sizeof chacha, "%s-chacha", prefix);
    snprintf(pattern, sizeof pattern, "%s-*", prefix);

    EXPECT(KES_OK, kes_create_key, keys, key);
    EXPECT_ERR(KES_KEY_EXISTS, 400, "key already exists", kes_create_key, keys, key);

    kes_key_info *info = NULL;
    EXPECT(KES_OK, kes_describe_key, keys, key, &info);
    CHECK_STR(kes_key_info_name(info), key);
    CHECK_STR(kes_key_info_algorithm(info), "AES256");
    long long age = (long long)time(NULL) - (long long)kes_key_info_created_at(info);
    CHECK(age >= -5 && age < 600);
    kes_key_info_free(info);

    /* A data key, bound to its context. */
    static const uint8_t context[] = "bucket/object";
    kes_data_key *dek = NULL;
    EXPECT(KES_OK, kes_generate_key, keys, key, context, sizeof context - 1, &dek);
    CHECK(kes_data_key_plaintext_len(dek) == KES_DATA_KEY_LEN);
    CHECK(kes_data_key_ciphertext_len(dek) > KES_DATA_KEY_LEN);
    kes_buf *plaintext = NULL;
    EXPECT(KES_OK, kes_decrypt, keys, key, kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), context, sizeof context - 1, &plaintext);
    CHECK(kes_buf_len(plaintext) == KES_DATA_KEY_LEN);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    plaintext = NULL;
    static const uint8_t other[] = "another object";
    EXPECT_ERR(KES_DECRYPT_FAILED, 400, "decryption failed: ciphertext is not authentic",
               kes_decrypt, keys, key, kes_data_key_ciphertext(dek),
               kes_data_key_ciphertext_len(dek), other, sizeof other - 1, &plaintext);
    CHECK(plaintext == NULL);
    kes_data_key_free(dek);

    /* Small data, and no context at all. */
    kes_buf *ciphertext = NULL;
    EXPECT(KES_OK, kes_encrypt, keys, key, (const uint8_t *)"a secret", 8, NULL, 0, &ciphertext);
    EXPECT(KES_OK, kes_decrypt, keys, key, kes_buf_data(ciphertext), kes_buf_len(ciphertext), NULL, 0,
           &plaintext);
    CHECK(kes_buf_len(plaintext) == 8 && memcmp(kes_buf_data(plaintext), "a secret", 8) == 0);
    kes_buf_free(plaintext);
    plaintext = NULL;
    /* A tampered ciphertext. */
    uint8_t tampered[1024];
    CHECK(kes_buf_len(ciphertext) <= sizeof tampered);
    memcpy(tampered, kes_buf_data(ciphertext), kes_buf_len(ciphertext));
    tampered[kes_buf_len(ciphertext) / 2] ^= 1;
    kes_error *err = NULL;
    kes_result r = kes_decrypt(keys, key, tampered, kes_buf_len(ciphertext), NULL, 0, &plaintext, &err);
    CHECK(r == KES_DECRYPT_FAILED || r == KES_INVALID_ARGUMENT); /* bit flips may break the framing */
    CHECK(kes_error_code(err) == r);
    kes_error_free(err);
    kes_buf_free(ciphertext);

    /* HMAC: deterministic per key and message. */
    uint8_t mac[KES_HMAC_LEN], again[KES_HMAC_LEN + 8], other_mac[KES_HMAC_LEN];
    EXPECT(KES_OK, kes_hmac, keys, key, (const uint8_t *)"message", 7, mac, sizeof mac);
    EXPECT(KES_OK, kes_hmac, keys, key, (const uint8_t *)"message", 7, again, sizeof again);
    CHECK(memcmp(mac, again, KES_HMAC_LEN) == 0);
    EXPECT(KES_OK, kes_hmac, keys, key, (const uint8_t *)"other message", 13, other_mac,
           sizeof other_mac);
    CHECK(memcmp(mac, other_mac, KES_HMAC_LEN) != 0);
    EXPECT(KES_OK, kes_hmac, keys, key, NULL, 0, other_mac, sizeof other_mac);
    EXPECT(KES_INVALID_ARGUMENT, kes_hmac, keys, key, (const uint8_t *)"m", 1, mac, KES_HMAC_LEN - 1);

    /* Import: 32 bytes for a known algorithm. */
    uint8_t bytes[33];
    memset(bytes, 7, sizeof bytes);
    EXPECT(KES_OK, kes_import_key, keys, imported, bytes, 32, "AES256");
    EXPECT(KES_OK, kes_import_key, keys, chacha, bytes, 32, "XCHACHA20-POLY1305");
    kes_key_info *chacha_info = NULL;
    EXPECT(KES_OK, kes_describe_key, keys, chacha, &chacha_info);
    CHECK_STR(kes_key_info_algorithm(chacha_info), "ChaCha20");
    kes_key_info_free(chacha_info);
    EXPECT(KES_OK, kes_encrypt, keys, imported, (const uint8_t *)"x", 1, NULL, 0, &ciphertext);
    EXPECT(KES_OK, kes_decrypt, keys, imported, kes_buf_data(ciphertext), kes_buf_len(ciphertext),
           NULL, 0, &plaintext);
    CHECK(kes_buf_len(plaintext) == 1 && kes_buf_data(plaintext)[0] == 'x');
    kes_buf_free(plaintext);
    kes_buf_free(ciphertext);
    char short_key[128];
    snprintf(short_key, sizeof short_key, "%s-short", prefix);
    EXPECT_ERR(KES_INVALID_ARGUMENT, 406, "invalid key size for 'AES256'", kes_import_key, keys,
               short_key, bytes, 31, "AES256");
    EXPECT_ERR(KES_INVALID_ARGUMENT, 406, "invalid key size for 'AES256'", kes_import_key, keys,
               short_key, bytes, 33, "AES256");
    EXPECT_ERR(KES_UNSUPPORTED_ALGORITHM, 406, "algorithm 'DES' is not supported", kes_import_key,
               keys, short_key, bytes, 32, "DES");
    EXPECT_ERR(KES_KEY_EXISTS, 400, "key already exists", kes_import_key, keys, imported, bytes, 32,
               "AES256");

    /* List: sorted, only what the pattern selects. */
    kes_key_iter *iter = NULL;
    EXPECT(KES_OK, kes_list_keys, keys, pattern, &iter);
    const char *want[] = {chacha, imported, key};
    for (size_t i = 0; i < 3; i++) {
        const char *name = NULL;
        EXPECT(KES_OK, kes_key_iter_next, iter, &name);
        CHECK_STR(name, want[i]);
    }
    for (int i = 0; i < 2; i++) {
        const char *name = "sentinel";
        EXPECT(KES_OK, kes_key_iter_next, iter, &name);
        CHECK(name == NULL);
    }
    kes_key_iter_free(iter);
    iter = NULL;
    EXPECT(KES_OK, kes_list_keys, keys, key, &iter); /* an exact name */
    const char *only = NULL;
    EXPECT(KES_OK, kes_key_iter_next, iter, &only);
    CHECK_STR(only, key);
    kes_key_iter_free(iter);

    uint64_t latency = 0;
    EXPECT(KES_OK, kes_status, keys, &latency);
    EXPECT(KES_OK, kes_status, keys, NULL);

    /* Delete; then the key is gone for every operation. */
    EXPECT(KES_OK, kes_delete_key, keys, imported);
    EXPECT(KES_OK, kes_delete_key, keys, chacha);
    info = NULL;
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_describe_key, keys, imported, &info);
    CHECK(info == NULL);
    dek = NULL;
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_generate_key, keys, imported, NULL,
               0, &dek);
    CHECK(dek == NULL);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_encrypt, keys, imported,
               (const uint8_t *)"x", 1, NULL, 0, &ciphertext);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_hmac, keys, imported, NULL, 0, mac,
               sizeof mac);
    EXPECT_ERR(KES_KEY_NOT_FOUND, 404, "key does not exist", kes_delete_key, keys, imported);

    /* Invalid names and patterns: KES's messages. */
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400,
               "key name 'a/b' is empty, too long or contains invalid characters", kes_create_key,
               keys, "a/b");
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400,
               "key name '' is empty, too long or contains invalid characters", kes_describe_key,
               keys, "", &info);
    EXPECT(KES_INVALID_ARGUMENT, kes_list_keys, keys, "a*b*", &iter);
    /* Not UTF-8. */
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400, "invalid argument: name is not UTF-8", kes_create_key,
               keys, "\xff\xfe");

    /* Without an error out-parameter, the code alone. */
    CHECK(kes_create_key(keys, key, NULL) == KES_KEY_EXISTS);
    CHECK(kes_delete_key(keys, key, NULL) == KES_OK);
}

#endif
