/* Streaming seal and open through libkes (kes_seal_stream, kes_open_stream) against the same work done
 * by core's Envelope over the same BlockingKeys in a Rust loop, in the same process (release build).
 *
 *   cargo build --release -p kesrs-ffi-c && ffi-c/install.sh PREFIX release
 *   cc -O2 ffi-c/bench/envelope.c -IPREFIX/include -LPREFIX/lib -lkes -Wl,-rpath,PREFIX/lib
 *   ./a.out [MIB] [ROUNDS]
 *
 * Both sides read the plaintext by copying it from the same 64 KiB pattern into a 64 KiB buffer (C:
 * the read callback; Rust: a loop), discard the sealed bytes, and open the same sealed message from
 * memory into a 64 KiB buffer, discarding the plaintext. Rounds alternate between the two so that
 * drift (frequency, other load) hits both alike; the best round of each is reported. */
#include <kes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* In libkes, not in kes.h (src/internal.rs): the same streams, through core in a Rust loop. */
kes_result kes_internal_bench_core_envelope(const kes_keys *keys, const char *name,
                                            const uint8_t *pattern, size_t pattern_len,
                                            uint64_t plaintext_len, const uint8_t *sealed,
                                            size_t sealed_len, uint64_t *seal_ns_out,
                                            uint64_t *open_ns_out, kes_error **err_out);

static uint8_t pattern[65536];

typedef struct {
    uint64_t left;       /* plaintext still to hand out (seal) */
    const uint8_t *src;  /* sealed bytes (open) */
    size_t src_len, pos;
    uint8_t *keep;       /* where the sealed bytes go, or NULL to discard them */
    size_t kept;
    uint64_t written;
} io;

static ptrdiff_t read_plain(void *user, uint8_t *buf, size_t len) {
    io *s = (io *)user;
    size_t n = len < sizeof pattern ? len : sizeof pattern;
    if (n > s->left) n = (size_t)s->left;
    memcpy(buf, pattern, n);
    s->left -= n;
    return (ptrdiff_t)n;
}

static ptrdiff_t read_sealed(void *user, uint8_t *buf, size_t len) {
    io *s = (io *)user;
    size_t n = s->src_len - s->pos;
    if (n > len) n = len;
    memcpy(buf, s->src + s->pos, n);
    s->pos += n;
    return (ptrdiff_t)n;
}

static int write_out(void *user, const uint8_t *buf, size_t len) {
    io *s = (io *)user;
    if (s->keep != NULL) memcpy(s->keep + s->kept, buf, len);
    s->kept += len;
    s->written += len;
    return 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    const uint64_t len = mib << 20;
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (uint8_t)(31 * i + 7);
    kes_keys *keys = NULL;
    if (kes_keys_in_memory(&keys, NULL) != KES_OK || kes_create_key(keys, "bench", NULL) != KES_OK) {
        fprintf(stderr, "cannot set up\n");
        return 1;
    }
    const uint8_t *ctx = (const uint8_t *)"bench";
    /* The message both sides open: sealed once, kept in memory. */
    size_t cap = (size_t)len + 2048 + 32 * (size_t)((len + 65535) / 65536);
    io setup = {.left = len, .keep = malloc(cap)};
    if (setup.keep == NULL ||
        kes_seal_stream(keys, "bench", ctx, 5, read_plain, write_out, &setup, NULL) != KES_OK) {
        fprintf(stderr, "cannot seal\n");
        return 1;
    }
    double best[4] = {1e18, 1e18, 1e18, 1e18}; /* C seal, C open, Rust seal, Rust open: s */
    for (int round = 0; round < rounds + 1; round++) { /* round 0 warms up */
        io seal = {.left = len};
        uint64_t start = now_ns();
        if (kes_seal_stream(keys, "bench", ctx, 5, read_plain, write_out, &seal, NULL) != KES_OK)
            return 1;
        double c_seal = (double)(now_ns() - start) / 1e9;
        io open = {.src = setup.keep, .src_len = setup.kept};
        start = now_ns();
        if (kes_open_stream(keys, ctx, 5, read_sealed, write_out, &open, NULL) != KES_OK ||
            open.written != len)
            return 1;
        double c_open = (double)(now_ns() - start) / 1e9;
        uint64_t seal_ns = 0, open_ns = 0;
        if (kes_internal_bench_core_envelope(keys, "bench", pattern, sizeof pattern, len, setup.keep,
                                             setup.kept, &seal_ns, &open_ns, NULL) != KES_OK)
            return 1;
        double t[4] = {c_seal, c_open, (double)seal_ns / 1e9, (double)open_ns / 1e9};
        if (round > 0)
            for (int i = 0; i < 4; i++)
                if (t[i] < best[i]) best[i] = t[i];
    }
    double mb = (double)len / (1 << 20);
    printf("%llu MiB, best of %d rounds\n", (unsigned long long)mib, rounds);
    printf("seal  C (kes_seal_stream):          %8.1f MiB/s\n", mb / best[0]);
    printf("seal  Rust (Envelope::seal_writer): %8.1f MiB/s\n", mb / best[2]);
    printf("open  C (kes_open_stream):          %8.1f MiB/s\n", mb / best[1]);
    printf("open  Rust (Envelope::open_reader): %8.1f MiB/s\n", mb / best[3]);
    printf("ratio C / Rust time: seal %.3f (%+.1f %%), open %.3f (%+.1f %%)\n", best[0] / best[2],
           (best[0] / best[2] - 1) * 100, best[1] / best[3], (best[1] / best[3] - 1) * 100);
    free(setup.keep);
    kes_keys_free(keys);
    return 0;
}
