package gocompat

// Benchmarks through the client MinIO links, against the server under test: what a MinIO node asks
// for on every SSE PUT (GenerateKey) and GET (Decrypt), from 32 goroutines per CPU sharing one client
// (one HTTP/2 connection), with MinIO's credentials and contexts. ./scripts/test runs each a few
// hundred times so they keep working; to compare servers, run them long, once per kind:
//
//	KESRS_BIN=$PWD/../../target/release/kesrs go test -run '^$' -bench . -benchtime 5s
//	KES_SERVER_KIND=kes KES_SERVER_BIN=/path/to/kes go test -run '^$' -bench . -benchtime 5s
//
// On a small machine the Go client itself takes much of the CPU; bench/compare, which loads with the
// leaner `kesrs bench`, shows more of the difference between the servers.

import (
	"context"
	"errors"
	"testing"

	"github.com/minio/kms-go/kes"
)

const benchParallelism = 32

// benchKey creates the key a benchmark uses, through MinIO's client.
func benchKey(b *testing.B, name string) *kes.Client {
	b.Helper()
	c := srv.minioClient(b)
	if err := c.CreateKey(context.Background(), name); err != nil && !errors.Is(err, kes.ErrKeyExists) {
		b.Fatalf("CreateKey(%s): %s", name, describeErr(err))
	}
	return c
}

func BenchmarkGenerateKey(b *testing.B) {
	c := benchKey(b, "bench-generate")
	objectContext := minioContext(map[string]string{"bucket": "bucket/object"})
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			dek, err := c.GenerateKey(context.Background(), "bench-generate", objectContext)
			if err != nil {
				b.Errorf("GenerateKey: %s", describeErr(err))
				return
			}
			if len(dek.Plaintext) != 32 {
				b.Errorf("GenerateKey: a %d-byte data key", len(dek.Plaintext))
				return
			}
		}
	})
}

func BenchmarkDecrypt(b *testing.B) {
	c := benchKey(b, "bench-decrypt")
	objectContext := minioContext(map[string]string{"bucket": "bucket/object"})
	dek, err := c.GenerateKey(context.Background(), "bench-decrypt", objectContext)
	if err != nil {
		b.Fatalf("GenerateKey: %s", describeErr(err))
	}
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			plaintext, err := c.Decrypt(context.Background(), "bench-decrypt", dek.Ciphertext, objectContext)
			if err != nil {
				b.Errorf("Decrypt: %s", describeErr(err))
				return
			}
			if len(plaintext) != 32 {
				b.Errorf("Decrypt: a %d-byte data key", len(plaintext))
				return
			}
		}
	})
}
