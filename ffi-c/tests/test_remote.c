/* libkes in remote mode against a real kesrs server (started by server.sh): every operation over an
 * API key and over a client certificate, data keys that cross between local and remote handles,
 * KES_NOT_ALLOWED, KES_CONNECTION, the server's key store failing, and bad connection arguments. And
 * against the misbehaving server of tests/fake-kes (also started by server.sh): the codes only a
 * wrong answer gives, KES_NOT_FOUND, KES_PROTOCOL and KES_INTERNAL.
 *
 *   test_remote SERVER_DIR */
#include "contract.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[2048];

static const char *file(const char *name) {
    static char buf[4][4096];
    static int next;
    char *out = buf[next++ % 4];
    snprintf(out, 4096, "%s/%s", dir, name);
    return out;
}

static kes_keys *connect_api_key(const char *endpoint, const char *api_key) {
    kes_keys *keys = NULL;
    const char *endpoints[] = {endpoint};
    EXPECT(KES_OK, kes_keys_connect, endpoints, 1, api_key, NULL, NULL, file("server.cert"), &keys);
    return keys;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char *endpoint = read_text(dir, "endpoint");
    char *admin_key = read_text(dir, "admin.key");
    char *stranger_key = read_text(dir, "stranger.key");

    /* The admin, by API key: every operation. */
    kes_keys *admin = connect_api_key(endpoint, admin_key);
    contract(admin, "remote");

    /* A client certificate from files, with a policy; the first endpoint is down (failover). */
    kes_keys *client = NULL;
    const char *endpoints[] = {"https://127.0.0.1:1", endpoint};
    EXPECT(KES_OK, kes_keys_connect, endpoints, 2, NULL, file("client.cert"), file("client.key"),
           file("server.cert"), &client);
    contract(client, "cert");
    EXPECT(KES_OK, kes_create_key, client, "by-client");
    kes_key_info *info = NULL;
    EXPECT(KES_OK, kes_describe_key, client, "by-client", &info);
    CHECK(kes_key_info_created_by(info) != NULL && strlen(kes_key_info_created_by(info)) == 64);
    kes_key_info_free(info);

    /* The server's fs store opened in-process: what one side makes, the other decrypts. */
    kes_keys *local = NULL;
    EXPECT(KES_OK, kes_keys_from_fs, file("keys"), &local);
    kes_data_key *dek = NULL;
    kes_buf *plaintext = NULL;
    EXPECT(KES_OK, kes_generate_key, local, "by-client", (const uint8_t *)"ctx", 3, &dek);
    EXPECT(KES_OK, kes_decrypt, client, "by-client", kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), (const uint8_t *)"ctx", 3, &plaintext);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    EXPECT(KES_OK, kes_generate_key, admin, "by-client", NULL, 0, &dek);
    EXPECT(KES_OK, kes_decrypt, local, "by-client", kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), NULL, 0, &plaintext);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    uint8_t mac_local[KES_HMAC_LEN], mac_remote[KES_HMAC_LEN];
    EXPECT(KES_OK, kes_hmac, local, "by-client", (const uint8_t *)"m", 1, mac_local, KES_HMAC_LEN);
    EXPECT(KES_OK, kes_hmac, client, "by-client", (const uint8_t *)"m", 1, mac_remote, KES_HMAC_LEN);
    CHECK(memcmp(mac_local, mac_remote, KES_HMAC_LEN) == 0);

    /* KES_NOT_ALLOWED: an API key the server does not know. */
    kes_keys *stranger = connect_api_key(endpoint, stranger_key);
    EXPECT_ERR(KES_NOT_ALLOWED, 403, "not authorized: insufficient permissions", kes_describe_key,
               stranger, "by-client", &info);
    EXPECT_ERR(KES_NOT_ALLOWED, 403, "not authorized: insufficient permissions", kes_generate_key,
               stranger, "by-client", NULL, 0, &dek);
    kes_keys_free(stranger);

    /* KES_CONNECTION: nobody listens; a server whose certificate is not trusted. */
    kes_keys *down = connect_api_key("https://127.0.0.1:1", admin_key);
    EXPECT(KES_CONNECTION, kes_generate_key, down, "by-client", NULL, 0, &dek);
    EXPECT(KES_CONNECTION, kes_status, down, NULL);
    kes_keys_free(down);
    kes_keys *untrusted = NULL;
    const char *one[] = {endpoint};
    EXPECT(KES_OK, kes_keys_connect, one, 1, admin_key, NULL, NULL, NULL, &untrusted);
    EXPECT(KES_CONNECTION, kes_describe_key, untrusted, "by-client", &info);
    /* The failure says what failed and what to do, not how rustls names it. */
    kes_error *tls = NULL;
    CHECK(kes_status(untrusted, NULL, &tls) == KES_CONNECTION);
    CHECK(strstr(kes_error_detail(tls), "the server's certificate is not trusted") != NULL);
    CHECK(strstr(kes_error_detail(tls), "UnknownIssuer") == NULL);
    kes_error_free(tls);
    kes_keys_free(untrusted);

    /* Bad connection arguments: KES_INVALID_ARGUMENT, no handle. */
    kes_keys *none = NULL;
    EXPECT_ERR(KES_INVALID_ARGUMENT, 400,
               "invalid argument: give either api_key, or cert_file and key_file", kes_keys_connect,
               one, 1, admin_key, file("client.cert"), file("client.key"), NULL, &none);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, one, 1, NULL, file("client.cert"), NULL, NULL,
           &none);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, one, 1, NULL, NULL, NULL, NULL, &none);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, one, 1, "kes:v1:not-a-key", NULL, NULL, NULL,
           &none);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, one, 1, admin_key, NULL, NULL, file("missing.pem"),
           &none);
    EXPECT(KES_INVALID_ARGUMENT, kes_keys_connect, one, 1, NULL, file("missing.cert"),
           file("client.key"), NULL, &none);
    CHECK(none == NULL);

    /* The server's key store fails: KES_KEY_STORE_UNAVAILABLE, as the server reports it (502). */
    CHECK(rename(file("keys"), file("keys.moved")) == 0);
    FILE *blocker = fopen(file("keys"), "wb");
    CHECK(blocker != NULL && fclose(blocker) == 0);
    EXPECT_ERR(KES_KEY_STORE_UNAVAILABLE, 502, "failed to create key", kes_create_key, admin,
               "store-down");
    CHECK(unlink(file("keys")) == 0 && rename(file("keys.moved"), file("keys")) == 0);
    EXPECT(KES_OK, kes_status, admin, NULL);

    /* A server that answers wrongly: an unexpected 404, a 200 that is not JSON, a 500. */
    char *wrong_endpoint = read_text(dir, "wrong-endpoint");
    kes_keys *wrong = connect_api_key(wrong_endpoint, admin_key);
    info = NULL;
    EXPECT_ERR(KES_NOT_FOUND, 404, "policy does not exist", kes_describe_key, wrong,
               "policy-missing", &info);
    EXPECT_ERR(KES_PROTOCOL, 502, "kes: invalid server response: malformed response body", kes_describe_key, wrong,
               "garbage", &info);
    EXPECT_ERR(KES_INTERNAL, 500, "boom", kes_describe_key, wrong, "boom", &info);
    CHECK(info == NULL);
    kes_keys_free(wrong);
    free(wrong_endpoint);

    EXPECT(KES_OK, kes_delete_key, client, "by-client");
    kes_keys_free(local);
    kes_keys_free(client);
    kes_keys_free(admin);
    free(endpoint);
    free(admin_key);
    free(stranger_key);
    /* The freed handles' connections close in the background, on libkes's runtime. Give them a moment
     * before exit, so that memcheck sees their memory freed rather than in use. */
    usleep(500 * 1000);
    printf("test_remote: ok\n");
    return 0;
}
