package gocompat

// MinIO's own call sequences (shared/spec/minio-client.md): the start-up
// probe, the contexts it sends, the describe keep-alive, list-all, the
// lockdown HMAC. Each asserts what MinIO would conclude.

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/minio/kms-go/kes"
)

// minioContext serialises a context map the way MinIO does before sending
// it as associated data: keys sorted, no whitespace, Go JSON string escaping.
func minioContext(m map[string]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(m[k])
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func TestMinIOContextBytes(t *testing.T) {
	for want, m := range map[string]map[string]string{
		"e30=":                     {},
		"eyJoZWFsdGhjaGVjayI6IiJ9": {"healthcheck": ""},
		"eyJNaW5JTyBhZG1pbiBBUEkiOiJLTVNLZXlTdGF0dXNIYW5kbGVyIn0=": {"MinIO admin API": "KMSKeyStatusHandler"},
		"eyJNaW5JTyBhZG1pbiBBUEkiOiJTZXJ2ZXJJbmZvSGFuZGxlciJ9":     {"MinIO admin API": "ServerInfoHandler"},
	} {
		if got := base64.StdEncoding.EncodeToString(minioContext(m)); got != want {
			t.Errorf("minioContext(%v) = %s, want %s", m, got, want)
		}
	}
}

// minioStartupHEAD is MinIO's start-up probe (cmd/common-main.go
// handleKMSConfig at HEAD): generate with context {} on the default key,
// create it on ErrKeyNotFound, tolerate ErrKeyExists and ErrNotAllowed.
// A non-nil result is where MinIO calls logger.Fatal and exits.
func minioStartupHEAD(t *testing.T, c *kes.Client, key string) error {
	ctx := testCtx(t)
	_, err := c.GenerateKey(ctx, key, minioContext(map[string]string{}))
	if errors.Is(err, kes.ErrKeyNotFound) {
		err = c.CreateKey(ctx, key)
	}
	if err != nil && !errors.Is(err, kes.ErrKeyExists) && !errors.Is(err, kes.ErrNotAllowed) {
		return fmt.Errorf("MinIO exits: Failed to connect to KMS: %s", describeErr(err))
	}
	return nil
}

// minioStartup2024 is the RELEASE.2024-02 probe: create first.
func minioStartup2024(t *testing.T, c *kes.Client, key string) error {
	err := c.CreateKey(testCtx(t), key)
	if err != nil && !errors.Is(err, kes.ErrKeyExists) && !errors.Is(err, kes.ErrNotAllowed) {
		return fmt.Errorf("MinIO exits: Unable to initialize a connection to KES: %s", describeErr(err))
	}
	return nil
}

func TestMinIOStartupProbe(t *testing.T) {
	ctx := testCtx(t)
	nodeA, nodeB := srv.minioClient(t), srv.apiKeyClient(t)
	const d = "minio-default-key"
	empty := minioContext(map[string]string{})

	// Both nodes probe before either created the key.
	_, err := nodeA.GenerateKey(ctx, d, empty)
	wantErrIs(t, "node A: GenerateKey(missing default key, {})", err, kes.ErrKeyNotFound)
	_, err = nodeB.GenerateKey(ctx, d, empty)
	wantErrIs(t, "node B: GenerateKey(missing default key, {})", err, kes.ErrKeyNotFound)
	must(t, "node A: CreateKey", nodeA.CreateKey(ctx, d))
	wantErrIs(t, "node B: CreateKey (lost the race)", nodeB.CreateKey(ctx, d), kes.ErrKeyExists)
	for name, c := range map[string]*kes.Client{"A": nodeA, "B": nodeB} {
		dek, err := c.GenerateKey(ctx, d, empty)
		if err != nil || len(dek.Plaintext) != 32 {
			t.Errorf("node %s: GenerateKey after start-up: want a 32-byte DEK, got %d bytes, %s", name, len(dek.Plaintext), describeErr(err))
		}
	}
	// A restarted node: the probe's generate succeeds at once.
	if err := minioStartupHEAD(t, srv.minioClient(t), d); err != nil {
		t.Errorf("restart: %v", err)
	}

	// Several nodes starting at the same moment on a fresh key: all come up,
	// and exactly one CreateKey wins.
	const race = "minio-race-key"
	var wg sync.WaitGroup
	errs := make([]error, 6)
	creates := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := srv.minioClient(t)
			errs[i] = minioStartupHEAD(t, c, race)
			creates[i] = c.CreateKey(testCtx(t), race+"-create")
		}(i)
	}
	wg.Wait()
	won := 0
	for i := range errs {
		if errs[i] != nil {
			t.Errorf("concurrent start-up, node %d: %v", i, errs[i])
		}
		switch {
		case creates[i] == nil:
			won++
		case !errors.Is(creates[i], kes.ErrKeyExists):
			t.Errorf("concurrent CreateKey, node %d: want nil or ErrKeyExists, got %s", i, describeErr(creates[i]))
		}
	}
	if won != 1 {
		t.Errorf("concurrent CreateKey of one name: want exactly 1 success, got %d", won)
	}

	// RELEASE.2024-02: create first; the second node gets ErrKeyExists.
	if err := minioStartup2024(t, nodeA, "minio-2024-key"); err != nil {
		t.Errorf("2024-02 node A: %v", err)
	}
	wantErrIs(t, "2024-02 node B: CreateKey", nodeB.CreateKey(ctx, "minio-2024-key"), kes.ErrKeyExists)
	if err := minioStartup2024(t, nodeB, "minio-2024-key"); err != nil {
		t.Errorf("2024-02 node B: %v", err)
	}

	// An identity that may generate but not create: MinIO tolerates the
	// ErrNotAllowed and starts (and then fails every SSE request).
	if err := minioStartupHEAD(t, srv.appClient(), "app-minio-default"); err != nil {
		t.Errorf("start-up without create permission: %v", err)
	}
	_, err = srv.adminClient().DescribeKey(ctx, "app-minio-default")
	wantErrIs(t, "DescribeKey(app-minio-default)", err, kes.ErrKeyNotFound)
}

func TestMinIOContexts(t *testing.T) {
	ctx := testCtx(t)
	c := srv.minioClient(t)
	const d, k = "minio-ctx-default", "minio-ctx-kms"
	if err := minioStartupHEAD(t, c, d); err != nil {
		t.Fatal(err)
	}
	must(t, "CreateKey(SSE-KMS key)", c.CreateKey(ctx, k)) // mc admin kms key create

	other := minioContext(map[string]string{"bkt": "bkt/other-object"})
	for _, tc := range []struct {
		use string
		key string
		ctx map[string]string
	}{
		{"start-up probe", d, map[string]string{}},
		{"readiness probe", d, map[string]string{"healthcheck": ""}},
		{"mc admin kms key status", d, map[string]string{"MinIO admin API": "KMSKeyStatusHandler"}},
		{"bucket SSE validation / server info", k, map[string]string{"MinIO admin API": "ServerInfoHandler"}},
		{"SSE-S3 object", d, map[string]string{"bkt": "bkt/obj1"}},
		{"SSE-KMS object with client context", k, map[string]string{"bkt": "bkt/obj", "project": "x"}},
		{"SSE-KMS object, escaped characters", k, map[string]string{"bkt": "bkt/a<b>&c\u2028d\"e\\f\n", "ü": "\x01"}},
		{"config object", d, map[string]string{".minio.sys": ".minio.sys/config/config.json"}},
		{"IAM object", d, map[string]string{".minio.sys": ".minio.sys/config/iam/format.json"}},
		{"bucket targets", d, map[string]string{"bkt": "bkt", "bucket-targets.json": "bucket-targets.json"}},
		{"batch rotate validation", k, map[string]string{"MinIO batch API": "batchrotate", "job": "j1"}},
	} {
		dek, err := c.GenerateKey(ctx, tc.key, minioContext(tc.ctx))
		if err != nil {
			t.Errorf("%s: GenerateKey: %s", tc.use, describeErr(err))
			continue
		}
		if len(dek.Plaintext) != 32 {
			t.Errorf("%s: GenerateKey: plaintext must be 32 bytes, got %d", tc.use, len(dek.Plaintext))
		}
		// MinIO rebuilds the map and its bytes for decrypt.
		pt, err := c.Decrypt(ctx, tc.key, dek.Ciphertext, minioContext(maps.Clone(tc.ctx)))
		if err != nil || subtle.ConstantTimeCompare(pt, dek.Plaintext) != 1 {
			t.Errorf("%s: Decrypt with the same context: want the DEK, got %s", tc.use, describeErr(err))
		}
		_, err = c.Decrypt(ctx, tc.key, dek.Ciphertext, other)
		wantErrIs(t, tc.use+": Decrypt with another context", err, kes.ErrDecrypt)
	}

	// IAM data written by old MinIO used the legacy context; MinIO tries the
	// new one first and needs exactly ErrDecrypt to fall back.
	legacy := minioContext(map[string]string{".minio.sys": "config/iam/users/u1/identity.json"})
	current := minioContext(map[string]string{".minio.sys": ".minio.sys/config/iam/users/u1/identity.json"})
	dek, err := c.GenerateKey(ctx, d, legacy)
	must(t, "GenerateKey(legacy IAM context)", err)
	_, err = c.Decrypt(ctx, d, dek.Ciphertext, current)
	wantErrIs(t, "IAM: Decrypt with the current context", err, kes.ErrDecrypt)
	pt, err := c.Decrypt(ctx, d, dek.Ciphertext, legacy)
	if err != nil || !bytes.Equal(pt, dek.Plaintext) {
		t.Errorf("IAM: Decrypt with the legacy context: %s", describeErr(err))
	}

	// SSE-KMS with an unknown key id: MinIO maps ErrKeyNotFound to kms:KeyNotFound.
	_, err = c.GenerateKey(ctx, "minio-no-such-key", minioContext(map[string]string{"bkt": "bkt/obj"}))
	wantErrIs(t, "SSE-KMS GenerateKey(unknown key)", err, kes.ErrKeyNotFound)
	_, err = c.Decrypt(ctx, "minio-no-such-key", dek.Ciphertext, legacy)
	wantErrIs(t, "SSE-KMS Decrypt(unknown key)", err, kes.ErrKeyNotFound)
}

// TestMinIOKeepAlive: MinIO HEAD describes its default key every 10 s on
// every node and ignores the result; a few calls stand for that.
func TestMinIOKeepAlive(t *testing.T) {
	ctx := testCtx(t)
	c := srv.minioClient(t)
	const d = "minio-keepalive"
	if err := minioStartupHEAD(t, c, d); err != nil {
		t.Fatal(err)
	}
	var first *kes.KeyInfo
	for i := 0; i < 4; i++ {
		info, err := c.DescribeKey(ctx, d)
		must(t, "DescribeKey", err)
		if info.Name != d || info.CreatedBy != env.apiID {
			t.Errorf("DescribeKey #%d: want %s created by the API key identity, got %+v", i, d, info)
		}
		if first == nil {
			first = info
		} else if !info.CreatedAt.Equal(first.CreatedAt) || info.Algorithm != first.Algorithm {
			t.Errorf("DescribeKey #%d: changed from %+v to %+v", i, first, info)
		}
	}
}

// TestMinIOListKeys: mc admin kms key list. HEAD lists with an empty prefix,
// GET /v1/key/list without a slash, and reads one page; the identity's policy
// allows /v1/key/list/*.
func TestMinIOListKeys(t *testing.T) {
	ctx := testCtx(t)
	c := srv.minioClient(t)
	const d = "minio-list-default"
	if err := minioStartupHEAD(t, c, d); err != nil {
		t.Fatal(err)
	}
	names, cont, err := c.ListKeys(ctx, "", -1)
	switch {
	case err != nil:
		t.Errorf(`ListKeys("") (GET /v1/key/list) by an identity allowed /v1/key/list/*: %s`, describeErr(err))
	case !slices.Contains(names, d):
		t.Errorf(`ListKeys(""): the default key %s is missing from %v`, d, names)
	case cont != "":
		t.Errorf(`ListKeys(""): continue_at: want "" (MinIO reads one page), got %q`, cont)
	}

	// RELEASE.2024-02: ListIter from "*" (GET /v1/key/list/%2A).
	iter := kes.ListIter[string]{NextFunc: c.ListKeys}
	var seen []string
	for n, err := iter.SeekTo(ctx, "*"); err != io.EOF; n, err = iter.Next(ctx) {
		if err != nil {
			t.Fatalf("ListIter from *: %s", describeErr(err))
		}
		seen = append(seen, n)
	}
	if !slices.Contains(seen, d) {
		t.Errorf("ListIter from *: the default key %s is missing from %v", d, seen)
	}

	// Other subtree roots without a slash redirect, as in KES (301 with Go
	// <= 1.25, 307 with Go >= 1.26).
	resp, _ := srv.rawDo(t, http.MethodGet, "/v1/key/describe", nil)
	if (resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusTemporaryRedirect) ||
		resp.Header.Get("Location") != "/v1/key/describe/" {
		t.Errorf("GET /v1/key/describe: want a 301 (or 307) to /v1/key/describe/, got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	t.Run("BareListServedDirectly", func(t *testing.T) {
		resp, body := srv.rawDo(t, http.MethodGet, "/v1/key/list", nil)
		if kind == kindKes {
			t.Logf("Go KES: GET /v1/key/list -> %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		kesrsOnly(t, "/v1/key/list without a slash is served directly (KES redirects)")
		var r struct {
			Names      []string `json:"names"`
			ContinueAt *string  `json:"continue_at"`
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /v1/key/list: want 200 application/json, got %d %q: %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if err := json.Unmarshal(body, &r); err != nil || !slices.Contains(r.Names, d) {
			t.Errorf("GET /v1/key/list: want the names, including %s; got %q (%v)", d, body, err)
		}
	})
}

// TestMinIOLockdownHMAC: MINIO_API_ROOT_ACCESS=off derives the root
// credentials from two HMACs of the default key; they must be deterministic
// and at least 24 bytes long.
func TestMinIOLockdownHMAC(t *testing.T) {
	ctx := testCtx(t)
	c := srv.minioClient(t)
	const d = "minio-lockdown"
	if err := minioStartupHEAD(t, c, d); err != nil {
		t.Fatal(err)
	}
	access1, err := c.HMAC(ctx, d, []byte("root access key"))
	must(t, "HMAC(root access key)", err)
	access2, err := srv.apiKeyClient(t).HMAC(ctx, d, []byte("root access key"))
	must(t, "HMAC(root access key), second node", err)
	secret, err := c.HMAC(ctx, d, []byte("root secret key"))
	must(t, "HMAC(root secret key)", err)
	if len(access1) < 24 || len(secret) < 24 {
		t.Errorf("HMAC: want at least 24 bytes, got %d and %d", len(access1), len(secret))
	}
	if !bytes.Equal(access1, access2) {
		t.Errorf("HMAC: two nodes derived different root access keys")
	}
	if bytes.Equal(access1, secret) {
		t.Errorf("HMAC: access and secret key material are equal")
	}
}
