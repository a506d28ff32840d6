/* Sealed messages: seal a small message in memory and open it; seal a file as a stream into another
 * file and open it back; read a range of it with pread(2), touching only the packages it covers.
 *
 *   kes_example_envelope KEY_DIRECTORY WORK_DIRECTORY */
#define _POSIX_C_SOURCE 200809L
#include <kes.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, kes_result result, kes_error *err) {
    fprintf(stderr, "%s: %s (%u): %s\n", what, kes_result_name(result), kes_error_status(err),
            kes_error_detail(err));
    kes_error_free(err);
    return 1;
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
    kes_keys *keys = NULL;
    kes_error *err = NULL;
    kes_result r = kes_keys_from_fs(argv[1], &keys, &err);
    if (r != KES_OK) return fail("open keys", r, err);
    r = kes_create_key(keys, "my-app-key", &err);
    if (r == KES_KEY_EXISTS) {
        kes_error_free(err);
        err = NULL;
    } else if (r != KES_OK) {
        kes_keys_free(keys);
        return fail("create", r, err);
    }
    /* The context: the object's name, as MinIO binds it (docs/envelope.md section 1). */
    const uint8_t *ctx = (const uint8_t *)"{\"bucket\":\"photos/cat.jpg\"}";
    const size_t ctx_len = strlen((const char *)ctx);

    /* 1. In memory. */
    const char *secret = "a small secret";
    kes_buf *sealed = NULL, *opened = NULL;
    r = kes_seal(keys, "my-app-key", (const uint8_t *)secret, strlen(secret), ctx, ctx_len, &sealed,
                 &err);
    if (r != KES_OK) return fail("seal", r, err);
    r = kes_open(keys, kes_buf_data(sealed), kes_buf_len(sealed), ctx, ctx_len, &opened, &err);
    if (r != KES_OK) return fail("open", r, err);
    printf("sealed %zu bytes into %zu, opened \"%.*s\"\n", strlen(secret), kes_buf_len(sealed),
           (int)kes_buf_len(opened), (const char *)kes_buf_data(opened));
    kes_buf_free(opened); /* wipes the plaintext */
    kes_buf_free(sealed);

    /* 2. A file, streamed: memory stays at about two 64 KiB packages whatever the size. */
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
    r = kes_seal_stream(keys, "my-app-key", ctx, ctx_len, read_file, write_file, &f, &err);
    fclose(f.in);
    if (fclose(f.out) != 0 && r == KES_OK) return 1;
    if (r != KES_OK) return fail("seal stream", r, err);
    f.in = fopen(sealed_path, "rb");
    f.out = fopen(back, "wb");
    if (f.in == NULL || f.out == NULL) return 1;
    r = kes_open_stream(keys, ctx, ctx_len, read_file, write_file, &f, &err);
    fclose(f.in);
    fclose(f.out);
    if (r != KES_OK) {
        unlink(back); /* not authentic as a whole: do not keep what was written */
        return fail("open stream", r, err);
    }
    printf("streamed %s -> %s -> %s\n", plain, sealed_path, back);

    /* 3. 26 bytes from the middle, reading only the package that holds them. */
    ranged g = {open(sealed_path, O_RDONLY), stdout};
    struct stat st;
    if (g.fd < 0 || fstat(g.fd, &st) != 0) return 1;
    printf("range: ");
    r = kes_open_range(keys, ctx, ctx_len, read_at_fd, (uint64_t)st.st_size, 150020, 26, write_range,
                       &g, &err);
    close(g.fd);
    printf("\n");
    if (r != KES_OK) return fail("open range", r, err);

    kes_keys_free(keys);
    return 0;
}
