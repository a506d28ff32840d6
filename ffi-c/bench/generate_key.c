/* Per-call overhead of libkes: kes_generate_key from C against core's BlockingKeys::generate_key
 * called in a Rust loop, on the same in-memory handle in the same process (release build).
 *
 *   cargo build --release -p kesrs-ffi-c && ffi-c/install.sh PREFIX release
 *   cc -O2 ffi-c/bench/generate_key.c -IPREFIX/include -LPREFIX/lib -lkes -Wl,-rpath,PREFIX/lib
 *   ./a.out [CALLS_PER_ROUND] [ROUNDS]
 *
 * Rounds alternate between the two so that drift (frequency, other load) hits both alike; the best
 * round of each is reported. */
#include <kes.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* In libkes, not in kes.h (src/internal.rs): the same calls, made by core in a Rust loop. */
kes_result kes_internal_bench_core_generate_key(const kes_keys *keys, const char *name,
                                                uint64_t iterations, uint64_t *elapsed_ns_out,
                                                kes_error **err_out);

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    uint64_t calls = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    kes_keys *keys = NULL;
    if (kes_keys_in_memory(&keys, NULL) != KES_OK || kes_create_key(keys, "bench", NULL) != KES_OK) {
        fprintf(stderr, "cannot set up\n");
        return 1;
    }
    double best_c = 1e18, best_core = 1e18;
    for (int round = 0; round < rounds + 1; round++) { /* round 0 warms up */
        uint64_t start = now_ns();
        for (uint64_t i = 0; i < calls; i++) {
            kes_data_key *dek = NULL;
            if (kes_generate_key(keys, "bench", NULL, 0, &dek, NULL) != KES_OK) return 1;
            kes_data_key_free(dek);
        }
        double c = (double)(now_ns() - start) / (double)calls;
        uint64_t core_ns = 0;
        if (kes_internal_bench_core_generate_key(keys, "bench", calls, &core_ns, NULL) != KES_OK) return 1;
        double core = (double)core_ns / (double)calls;
        if (round > 0) {
            if (c < best_c) best_c = c;
            if (core < best_core) best_core = core;
        }
    }
    printf("kes_generate_key (C):                 %8.1f ns/call\n", best_c);
    printf("BlockingKeys::generate_key (Rust):    %8.1f ns/call\n", best_core);
    printf("ratio C / Rust:                       %8.3f (overhead %+.1f %%)\n", best_c / best_core,
           (best_c / best_core - 1.0) * 100.0);
    kes_keys_free(keys);
    return 0;
}
