/* fork() after handles exist (and while other threads use one): in the child, an inherited handle
 * fails at once with KES_FORKED and a new handle works; the parent is unaffected. The child has an
 * alarm: a hang kills it and fails the test.
 *
 *   test_fork [SERVER_DIR]     with SERVER_DIR, an inherited remote handle is checked too */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const kes_keys *busy_keys;
static volatile int stop;

static void *busy(void *arg) {
    (void)arg;
    while (!stop) {
        kes_data_key *dek = NULL;
        EXPECT(KES_OK, kes_generate_key, busy_keys, "parent", NULL, 0, &dek);
        kes_data_key_free(dek);
    }
    return NULL;
}

static void child(const kes_keys *memory, const kes_keys *remote) {
    alarm(20);
    kes_data_key *dek = NULL;
    EXPECT_ERR(KES_FORKED, 500,
               "this handle was opened in the parent process: open a new one after fork()",
               kes_generate_key, memory, "parent", NULL, 0, &dek);
    EXPECT(KES_FORKED, kes_create_key, memory, "child");
    EXPECT(KES_FORKED, kes_status, memory, NULL);
    if (remote != NULL) EXPECT(KES_FORKED, kes_status, remote, NULL);
    CHECK(dek == NULL);

    kes_keys *fresh = NULL;
    EXPECT(KES_OK, kes_keys_in_memory, &fresh);
    EXPECT(KES_OK, kes_create_key, fresh, "child");
    EXPECT(KES_OK, kes_generate_key, fresh, "child", NULL, 0, &dek);
    kes_buf *plaintext = NULL;
    EXPECT(KES_OK, kes_decrypt, fresh, "child", kes_data_key_ciphertext(dek),
           kes_data_key_ciphertext_len(dek), NULL, 0, &plaintext);
    CHECK(memcmp(kes_buf_data(plaintext), kes_data_key_plaintext(dek), KES_DATA_KEY_LEN) == 0);
    kes_buf_free(plaintext);
    kes_data_key_free(dek);
    kes_keys_free(fresh);
    /* Freeing the inherited handles only releases memory: it neither hangs nor touches the parent's. */
    kes_keys_free((kes_keys *)memory);
    kes_keys_free((kes_keys *)remote);
}

static void fork_and_check(const kes_keys *memory, const kes_keys *remote) {
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        child(memory, remote);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "child failed: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        exit(1);
    }
    /* The parent's handle still works. */
    kes_data_key *dek = NULL;
    EXPECT(KES_OK, kes_generate_key, memory, "parent", NULL, 0, &dek);
    kes_data_key_free(dek);
}

int main(int argc, char **argv) {
    kes_keys *memory = NULL, *remote = NULL;
    EXPECT(KES_OK, kes_keys_in_memory, &memory);
    EXPECT(KES_OK, kes_create_key, memory, "parent");
    if (argc == 2) {
        char *endpoint = read_text(argv[1], "endpoint");
        char *api_key = read_text(argv[1], "admin.key");
        char ca[4096];
        snprintf(ca, sizeof ca, "%s/server.cert", argv[1]);
        const char *endpoints[] = {endpoint};
        EXPECT(KES_OK, kes_keys_connect, endpoints, 1, api_key, NULL, NULL, ca, &remote);
        EXPECT(KES_OK, kes_status, remote, NULL); /* a live connection exists at the fork */
        free(endpoint);
        free(api_key);
    }

    fork_and_check(memory, remote);

    /* Again while four threads are inside libkes. */
    busy_keys = memory;
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&threads[i], NULL, busy, NULL) == 0);
    for (int round = 0; round < 5; round++) {
        usleep(20000);
        fork_and_check(memory, remote);
    }
    stop = 1;
    for (int i = 0; i < 4; i++) CHECK(pthread_join(threads[i], NULL) == 0);

    kes_keys_free(remote);
    kes_keys_free(memory);
    usleep(500 * 1000); /* as in test_remote: the remote handle's connection closes in the background */
    printf("test_fork: ok\n");
    return 0;
}
