/* Sealed messages with a kes_envelope, built once with the options a program wants (the keys it
 * accepts to open with, data-key reuse) and then used from any thread: seal a small message bound to
 * an object's bucket and name, as MinIO binds one, and open it; see a message under another key
 * refused; seal a file as a stream into another file and open it back; read a range of it with
 * pread(2), touching only the packages it covers.
 *
 *   kes_example_envelope KEY_DIRECTORY WORK_DIRECTORY */
#define _POSIX_C_SOURCE 200809L
#include <kes.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Ends the program if a call failed, saying what libkes reported. */
static void check(const char *what, kes_result result, kes_error **err) {
    if (result == KES_OK) return;
    fprintf(stderr, "%s: %s (%u): %s\n", what, kes_result_name(result), kes_error_status(*err),
            kes_error_detail(*err));
    kes_error_free(*err);
    exit(1);
}

/* Creates a key, unless an earlier run did. */
static void create_key(kes_keys *keys, const char *name) {
    kes_error *err = NULL;
    kes_result r = kes_create_key(keys, name, &err);
    if (r == KES_KEY_EXISTS) {
        kes_error_free(err);
        return;
    }
    check("create key", r, &err);
}

/* Callbacks over stdio files and a file descriptor; `user` is what the libkes call was given. */
typedef struct {
    FILE *in, *out;
} files;

static ptrdiff_t read_file(void *user, uint8_t *buf, size_t len) {
    files *f = (files *)user;
    size_t n = fread(buf, 1, len, f->in);
    return n == 0 && ferror(f->in) ? -1 : (ptrdiff_t)n;
}

static int write_file(void *user, const uint8_t *buf, size_t len) {
    files *f = (files *)user;
    return fwrite(buf, 1, len, f->out) == len ? 0 : -1;
}

typedef struct {
    int fd;
    FILE *out;
} ranged;

static ptrdiff_t read_at_fd(void *user, uint64_t offset, uint8_t *buf, size_t len) {
    return pread(((ranged *)user)->fd, buf, len, (off_t)offset);
}

static int write_range(void *user, const uint8_t *buf, size_t len) {
    return fwrite(buf, 1, len, ((ranged *)user)->out) == len ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s KEY_DIRECTORY WORK_DIRECTORY\n", argv[0]);
        return 2;
    }
    kes_error *err = NULL;
    kes_keys *keys = NULL;
    check("open keys", kes_keys_from_fs(argv[1], &keys, &err), &err);
    const char *key = "my-app-key";
    create_key(keys, key);

    /* The envelope opens only messages whose header names one of this program's keys, and seals up
     * to 1000 messages (1 GiB, one minute) with one data key: one KES call for all of them. */
    kes_envelope_builder *builder = NULL;
    kes_envelope *envelope = NULL;
    const char *accepted[] = {"my-app-*"};
    check("builder", kes_envelope_builder_new(&builder, &err), &err);
    check("accept", kes_envelope_builder_accept_keys(builder, accepted, 1, &err), &err);
    check("reuse", kes_envelope_builder_reuse_data_keys(builder, 1000, 1 << 30, 60 * 1000, &err),
          &err);
    check("build", kes_envelope_builder_build(builder, keys, &envelope, &err), &err);
    kes_envelope_builder_free(builder);

    /* The context: the object's bucket and name, as MinIO binds them (docs/envelope.md section 1).
     * Opening needs the same map. */
    const char *names[] = {"bucket", "object"};
    const char *values[] = {"photos", "cat.jpg"};
    kes_buf *context = NULL;
    check("context", kes_context_from_map(names, values, 2, &context, &err), &err);
    const uint8_t *ctx = kes_buf_data(context);
    const size_t ctx_len = kes_buf_len(context);

    /* 1. In memory. */
    const char *secret = "a small secret";
    kes_buf *sealed = NULL, *opened = NULL;
    check("seal",
          kes_envelope_seal(envelope, key, (const uint8_t *)secret, strlen(secret), ctx, ctx_len,
                            &sealed, &err),
          &err);
    check("open",
          kes_envelope_open(envelope, kes_buf_data(sealed), kes_buf_len(sealed), ctx, ctx_len,
                            &opened, &err),
          &err);
    printf("sealed %zu bytes into %zu, opened \"%.*s\"\n", strlen(secret), kes_buf_len(sealed),
           (int)kes_buf_len(opened), (const char *)kes_buf_data(opened));
    kes_buf_free(opened); /* wipes the plaintext */
    kes_buf_free(sealed);

    /* 2. A message sealed under a key the envelope does not accept: refused before KES is asked. */
    create_key(keys, "other-key");
    check("seal under other-key",
          kes_seal(keys, "other-key", (const uint8_t *)secret, strlen(secret), ctx, ctx_len,
                   &sealed, &err),
          &err);
    kes_result r = kes_envelope_open(envelope, kes_buf_data(sealed), kes_buf_len(sealed), ctx,
                                     ctx_len, &opened, &err);
    kes_buf_free(sealed);
    if (r != KES_NOT_ALLOWED) {
        fprintf(stderr, "a message under other-key was not refused: %s\n", kes_result_name(r));
        return 1;
    }
    printf("other-key: %s (%s)\n", kes_result_name(r), kes_error_message(err));
    kes_error_free(err);
    err = NULL;

    /* 3. A file, streamed: memory stays at about two 64 KiB packages whatever the size. */
    char plain[4096], sealed_path[4096], back[4096];
    mkdir(argv[2], 0700);
    snprintf(plain, sizeof plain, "%s/plain", argv[2]);
    snprintf(sealed_path, sizeof sealed_path, "%s/plain.sealed", argv[2]);
    snprintf(back, sizeof back, "%s/plain.opened", argv[2]);
    FILE *p = fopen(plain, "wb");
    if (p == NULL) return 1;
    for (int i = 0; i < 300000; i++) fputc('a' + i % 26, p);
    fclose(p);
    files f = {fopen(plain, "rb"), fopen(sealed_path, "wb")};
    if (f.in == NULL || f.out == NULL) return 1;
    r = kes_envelope_seal_stream(envelope, key, ctx, ctx_len, read_file, write_file, &f, &err);
    fclose(f.in);
    if (fclose(f.out) != 0 && r == KES_OK) return 1;
    check("seal stream", r, &err);
    f.in = fopen(sealed_path, "rb");
    f.out = fopen(back, "wb");
    if (f.in == NULL || f.out == NULL) return 1;
    r = kes_envelope_open_stream(envelope, ctx, ctx_len, read_file, write_file, &f, &err);
    fclose(f.in);
    fclose(f.out);
    if (r != KES_OK) unlink(back); /* not authentic as a whole: do not keep what was written */
    check("open stream", r, &err);
    printf("streamed %s -> %s -> %s\n", plain, sealed_path, back);

    /* 4. 26 bytes from the middle, reading only the package that holds them. */
    ranged g = {open(sealed_path, O_RDONLY), stdout};
    struct stat st;
    if (g.fd < 0 || fstat(g.fd, &st) != 0) return 1;
    printf("range: ");
    r = kes_envelope_open_range(envelope, ctx, ctx_len, read_at_fd, (uint64_t)st.st_size, 150020,
                                26, write_range, &g, &err);
    close(g.fd);
    printf("\n");
    check("open range", r, &err);

    kes_buf_free(context);
    kes_envelope_free(envelope);
    kes_keys_free(keys);
    return 0;
}
