/* 8 threads hammer one handle with mixed operations for a few seconds: every call must succeed, and
 * what one thread encrypts another decrypts. They also share one kes_envelope that reuses data keys
 * (its cache is shared state) and open each other's messages with the handle.
 *
 *   test_threads SECONDS                 an in-memory handle
 *   test_threads SECONDS SERVER_DIR      a remote handle (server.sh) */
#include "harness.h"

#include <pthread.h>
#include <time.h>

#define THREADS 8

static const kes_keys *keys;
static double seconds;
static kes_data_key *shared_dek; /* made before the threads start; read by all */
static const kes_envelope *envelope; /* reuses a data key for up to 16 messages */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *hammer(void *arg) {
    long id = (long)arg;
    char own[64];
    snprintf(own, sizeof own, "thread-%ld", id);
    EXPECT(KES_OK, kes_create_key, keys, own);
    unsigned long calls = 0;
    double deadline = now() + seconds;
    for (unsigned long i = 0; now() < deadline; i++) {
        const char *name = (i % 2) ? own : "shared";
        kes_data_key *dek = NULL;
        kes_buf *buf = NULL, *plaintext = NULL;
        uint8_t mac[KES_HMAC_LEN];
        switch (i % 7) {
        case 0:
            EXPECT(KES_OK, kes_generate_key, keys, name, (const uint8_t *)own, strlen(own), &dek);
            EXPECT(KES_OK, kes_decrypt, keys, name, kes_data_key_ciphertext(dek),
                   kes_data_key_ciphertext_len(dek), (const uint8_t *)own, strlen(own), &plaintext);
            CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
            break;
        case 1:
            EXPECT(KES_OK, kes_encrypt, keys, name, (const uint8_t *)own, strlen(own), NULL, 0, &buf);
            EXPECT(KES_OK, kes_decrypt, keys, name, kes_buf_data(buf), kes_buf_len(buf), NULL, 0,
                   &plaintext);
            CHECK(kes_buf_len(plaintext) == strlen(own));
            break;
        case 2:
            EXPECT(KES_OK, kes_decrypt, keys, "shared", kes_data_key_ciphertext(shared_dek),
                   kes_data_key_ciphertext_len(shared_dek), NULL, 0, &plaintext);
            CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(shared_dek),
                         KES_DATA_KEY_LEN) == 0);
            break;
        case 3:
            EXPECT(KES_OK, kes_hmac, keys, name, (const uint8_t *)"m", 1, mac, sizeof mac);
            break;
        case 4: {
            kes_key_info *info = NULL;
            EXPECT(KES_OK, kes_describe_key, keys, name, &info);
            CHECK_STR(kes_key_info_name(info), name);
            kes_key_info_free(info);
            break;
        }
        case 5:
            EXPECT(KES_OK, kes_envelope_seal, envelope, "shared", (const uint8_t *)own, strlen(own),
                   (const uint8_t *)"ctx", 3, &buf);
            EXPECT(KES_OK, kes_open, keys, kes_buf_data(buf), kes_buf_len(buf),
                   (const uint8_t *)"ctx", 3, &plaintext);
            CHECK(kes_buf_len(plaintext) == strlen(own) &&
                  memcmp(kes_buf_data(plaintext), own, strlen(own)) == 0);
            break;
        default: {
            kes_key_iter *iter = NULL;
            EXPECT(KES_OK, kes_list_keys, keys, "thread-*", &iter);
            const char *listed = NULL;
            EXPECT(KES_OK, kes_key_iter_next, iter, &listed);
            CHECK(listed != NULL);
            kes_key_iter_free(iter);
            EXPECT(KES_OK, kes_status, keys, NULL);
            break;
        }
        }
        kes_data_key_free(dek);
        kes_buf_free(buf);
        kes_buf_free(plaintext);
        calls++;
    }
    EXPECT(KES_OK, kes_delete_key, keys, own);
    return (void *)calls;
}

int main(int argc, char **argv) {
    CHECK(argc == 2 || argc == 3);
    seconds = atof(argv[1]);
    kes_keys *handle = NULL;
    if (argc == 2) {
        EXPECT(KES_OK, kes_keys_in_memory, &handle);
    } else {
        char *endpoint = read_text(argv[2], "endpoint");
        char *api_key = read_text(argv[2], "admin.key");
        char ca[4096];
        snprintf(ca, sizeof ca, "%s/server.cert", argv[2]);
        const char *endpoints[] = {endpoint};
        EXPECT(KES_OK, kes_keys_connect, endpoints, 1, api_key, NULL, NULL, ca, &handle);
        free(endpoint);
        free(api_key);
    }
    keys = handle;
    EXPECT(KES_OK, kes_create_key, keys, "shared");
    EXPECT(KES_OK, kes_generate_key, keys, "shared", NULL, 0, &shared_dek);
    kes_envelope_builder *builder = NULL;
    kes_envelope *reusing = NULL;
    EXPECT(KES_OK, kes_envelope_builder_new, &builder);
    EXPECT(KES_OK, kes_envelope_builder_reuse_data_keys, builder, 16, 1 << 20, 60000);
    EXPECT(KES_OK, kes_envelope_builder_build, builder, keys, &reusing);
    kes_envelope_builder_free(builder);
    envelope = reusing;

    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, hammer, (void *)i) == 0);
    unsigned long total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *calls = NULL;
        CHECK(pthread_join(threads[i], &calls) == 0);
        CHECK((unsigned long)calls > 0);
        total += (unsigned long)calls;
    }
    EXPECT(KES_OK, kes_delete_key, keys, "shared");
    kes_data_key_free(shared_dek);
    kes_envelope_free(reusing);
    kes_keys_free(handle);
    printf("test_threads: ok, %lu rounds in %.1f s on %d threads (%s)\n", total, seconds, THREADS,
           argc == 2 ? "memory" : "remote");
    return 0;
}
