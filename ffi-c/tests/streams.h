/* Byte buffers, stream callbacks over them, test data and the envelope header's layout: what the
 * envelope tests (test_envelope.c, test_envelope_options.c) share. */
#ifndef KES_TEST_STREAMS_H
#define KES_TEST_STREAMS_H

#include "harness.h"

#include <stddef.h>
#include <stdint.h>

#define PACKAGE (65536 + 32)

/* ---- growable byte buffers and the callbacks over them ---------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} bytes;

static inline void bytes_append(bytes *b, const uint8_t *data, size_t len) {
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len) cap *= 2;
        b->data = (uint8_t *)realloc(b->data, cap);
        CHECK(b->data != NULL);
        b->cap = cap;
    }
    if (len > 0) memcpy(b->data + b->len, data, len);
    b->len += len;
}

static inline void bytes_free(bytes *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* A stream's two ends: `in` is read from `pos` in chunks whose sizes cycle through `chunks` (0 = as
 * much as asked); `out` collects what is written. Counts calls and the largest sizes seen. */
typedef struct {
    const uint8_t *in;
    size_t in_len, pos;
    const size_t *chunks;
    size_t n_chunks, next_chunk;
    bytes out;
    size_t reads, writes, max_asked, max_written;
    long fail_read_at, fail_write_at; /* the call number (from 1) that fails; 0 for none */
    int too_much;                     /* the read callback returns more than asked */
    uint64_t read_at_bytes;           /* bytes read through read_at */
} stream;

static inline ptrdiff_t stream_read(void *user, uint8_t *buf, size_t len) {
    stream *s = (stream *)user;
    s->reads++;
    CHECK(len >= 1);
    if (len > s->max_asked) s->max_asked = len;
    if (s->fail_read_at != 0 && (long)s->reads == s->fail_read_at) return -5;
    if (s->too_much) return (ptrdiff_t)len + 1;
    size_t n = s->in_len - s->pos;
    if (n > len) n = len;
    if (s->n_chunks > 0) {
        size_t chunk = s->chunks[s->next_chunk++ % s->n_chunks];
        if (chunk != 0 && n > chunk) n = chunk;
    }
    if (n > 0) memcpy(buf, s->in + s->pos, n);
    s->pos += n;
    return (ptrdiff_t)n;
}

static inline int stream_write(void *user, const uint8_t *buf, size_t len) {
    stream *s = (stream *)user;
    s->writes++;
    CHECK(len >= 1 && len <= PACKAGE);
    if (len > s->max_written) s->max_written = len;
    if (s->fail_write_at != 0 && (long)s->writes == s->fail_write_at) return 7;
    bytes_append(&s->out, buf, len);
    return 0;
}

static inline ptrdiff_t stream_read_at(void *user, uint64_t offset, uint8_t *buf, size_t len) {
    stream *s = (stream *)user;
    s->reads++;
    if (s->fail_read_at != 0 && (long)s->reads == s->fail_read_at) return -5;
    if (offset >= s->in_len) return 0;
    size_t n = s->in_len - (size_t)offset;
    if (n > len) n = len;
    if (s->n_chunks > 0) {
        size_t chunk = s->chunks[s->next_chunk++ % s->n_chunks];
        if (chunk != 0 && n > chunk) n = chunk;
    }
    memcpy(buf, s->in + offset, n);
    s->read_at_bytes += n;
    return (ptrdiff_t)n;
}

static inline stream stream_over(const uint8_t *in, size_t len) {
    stream s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.in_len = len;
    return s;
}

/* Odd chunk sizes: a byte, a prime, one less and one more than a package, all that is asked. */
static const size_t ODD[] = {1, 7, 4093, 65535, 0, 13, 65537, 100003, 3};

static inline uint8_t *pattern(size_t len, unsigned seed) {
    uint8_t *p = (uint8_t *)malloc(len ? len : 1);
    CHECK(p != NULL);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 24);
    }
    return p;
}

/* The envelope's header length, from its first 9 bytes (docs/envelope.md section 2). */
static inline size_t header_len(const uint8_t *sealed) {
    return 73 + (size_t)sealed[6] + ((size_t)sealed[7] | ((size_t)sealed[8] << 8));
}

#endif
