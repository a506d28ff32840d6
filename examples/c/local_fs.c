/* Keys in a local directory (a KES fs key store), no server: make a key, get a data key to encrypt
 * something with, and recover the data key later from its ciphertext alone.
 *
 *   kes_example_local_fs DIRECTORY */
#include <kes.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, kes_result result, kes_error *err) {
    fprintf(stderr, "%s: %s (%u): %s\n", what, kes_result_name(result), kes_error_status(err),
            kes_error_detail(err));
    kes_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    kes_keys *keys = NULL;
    kes_error *err = NULL;
    kes_result r = kes_keys_from_fs(argv[1], &keys, &err);
    if (r != KES_OK) return fail("open", r, err);

    /* A key may exist from an earlier run: that is fine. */
    r = kes_create_key(keys, "my-app-key", &err);
    if (r == KES_KEY_EXISTS) {
        kes_error_free(err);
        err = NULL;
    } else if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("create", r, err);
    }

    /* A data key for one object, bound to the object's name. */
    const char *object = "bucket/object";
    kes_data_key *dek = NULL;
    r = kes_generate_key(keys, "my-app-key", (const uint8_t *)object, strlen(object), &dek, &err);
    if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("generate", r, err);
    }
    /* ... encrypt the object with kes_data_key_plaintext(dek); store kes_data_key_ciphertext(dek)
     * beside it. Later, the ciphertext and the object's name give the plaintext key back: */
    kes_buf *plaintext = NULL;
    r = kes_decrypt(keys, "my-app-key", kes_data_key_ciphertext(dek), kes_data_key_ciphertext_len(dek),
                    (const uint8_t *)object, strlen(object), &plaintext, &err);
    if (r != KES_OK) {
        kes_data_key_free(dek);
        kes_keys_free(keys);
        return fail("decrypt", r, err);
    }
    int same = kes_buf_len(plaintext) == KES_DATA_KEY_LEN &&
               memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0;
    printf("data key: %zu-byte ciphertext, decrypts to the same key: %s\n",
           kes_data_key_ciphertext_len(dek), same ? "yes" : "NO");

    kes_buf_free(plaintext);  /* wiped, then freed */
    kes_data_key_free(dek);   /* the plaintext key too */
    kes_keys_free(keys);
    return same ? 0 : 1;
}
