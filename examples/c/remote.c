/* Keys on a KES server (kesrs, or MinIO's KES), configured as MinIO is:
 *
 *   MINIO_KMS_KES_ENDPOINT=https://127.0.0.1:7373 MINIO_KMS_KES_API_KEY=kes:v1:... \
 *   MINIO_KMS_KES_CAPATH=server.cert MINIO_KMS_KES_KEY_NAME=my-key kes_example_remote */
#include <kes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, kes_result result, kes_error *err) {
    fprintf(stderr, "%s: %s (status %u): %s\n", what, kes_result_name(result),
            kes_error_status(err), kes_error_detail(err));
    kes_error_free(err);
    return 1;
}

int main(void) {
    const char *endpoint = getenv("MINIO_KMS_KES_ENDPOINT");
    const char *api_key = getenv("MINIO_KMS_KES_API_KEY");
    const char *ca = getenv("MINIO_KMS_KES_CAPATH"); /* NULL: the system's CAs */
    const char *name = getenv("MINIO_KMS_KES_KEY_NAME");
    if (endpoint == NULL || api_key == NULL || name == NULL) {
        fprintf(stderr, "set MINIO_KMS_KES_ENDPOINT, MINIO_KMS_KES_API_KEY, MINIO_KMS_KES_KEY_NAME\n");
        return 2;
    }
    kes_keys *keys = NULL;
    kes_error *err = NULL;
    const char *endpoints[] = {endpoint};
    kes_result r = kes_keys_connect(endpoints, 1, api_key, NULL, NULL, ca, &keys, &err);
    if (r != KES_OK) return fail("connect", r, err);

    uint64_t latency_ns = 0;
    r = kes_status(keys, &latency_ns, &err);
    if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("status", r, err);
    }
    r = kes_create_key(keys, name, &err);
    if (r == KES_KEY_EXISTS) {
        kes_error_free(err);
        err = NULL;
    } else if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("create", r, err);
    }
    /* What MinIO does per object: a data key bound to the object's path. */
    const char *context = "{\"bucket/object\":\"\"}";
    kes_data_key *dek = NULL;
    r = kes_generate_key(keys, name, (const uint8_t *)context, strlen(context), &dek, &err);
    if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("generate", r, err);
    }
    kes_buf *plaintext = NULL;
    r = kes_decrypt(keys, name, kes_data_key_ciphertext(dek), kes_data_key_ciphertext_len(dek),
                    (const uint8_t *)context, strlen(context), &plaintext, &err);
    if (r != KES_OK) {
        kes_data_key_free(dek);
        kes_keys_free(keys);
        return fail("decrypt", r, err);
    }
    int same = memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0;
    printf("server answered in %.1f ms; data key round trip: %s\n", (double)latency_ns / 1e6,
           same ? "ok" : "MISMATCH");
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    kes_keys_free(keys);
    return same ? 0 : 1;
}
