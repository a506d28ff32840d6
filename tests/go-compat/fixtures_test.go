package gocompat

// Key files and ciphertexts written by one server, read by another:
//
//   - testdata/gokes: produced by running Go KES (fs key store). Every kind
//     of server must describe those keys the same way, decrypt those
//     ciphertexts and compute the same HMACs. Regenerate with
//     KES_SERVER_KIND=kes KES_SERVER_BIN=<Go KES> GOCOMPAT_WRITE_FIXTURES=1 go test -run TestGoKESFixtures
//   - the reverse: keys the server under test writes, read back by Go KES
//     (gokes_reverse_test.go, built only with -tags gokes).

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

type fixtureSet struct {
	ProducedBy string       `json:"produced_by"`
	Keys       []fixtureKey `json:"keys"`
}

type fixtureKey struct {
	Name        string              `json:"name"`
	Algorithm   string              `json:"algorithm"`
	CreatedAt   time.Time           `json:"created_at"`
	CreatedBy   kes.Identity        `json:"created_by"`
	Ciphertexts []fixtureCiphertext `json:"ciphertexts"`
	HMACs       []fixtureHMAC       `json:"hmacs"`
}

type fixtureCiphertext struct {
	Via        string `json:"via"` // Encrypt or GenerateKey
	Context    []byte `json:"context"`
	Plaintext  []byte `json:"plaintext"`
	Ciphertext []byte `json:"ciphertext"`
}

type fixtureHMAC struct {
	Message []byte `json:"message"`
	HMAC    []byte `json:"hmac"`
}

const fixtureDir = "testdata/gokes"

// produceFixtures creates and imports keys on s and records what s returns.
func produceFixtures(t *testing.T, s *server, prefix string) fixtureSet {
	t.Helper()
	ctx := testCtx(t)
	admin := s.adminClient()
	must(t, "CreateKey", admin.CreateKey(ctx, prefix+"-created"))
	must(t, "ImportKey ChaCha20", admin.ImportKey(ctx, prefix+"-chacha", &kes.ImportKeyRequest{Key: randBytes(32), Cipher: kes.ChaCha20}))
	must(t, "ImportKey AES256", admin.ImportKey(ctx, prefix+"-aes", &kes.ImportKeyRequest{Key: randBytes(32), Cipher: kes.AES256}))
	minio := s.minioClient(t)
	must(t, "CreateKey by the API key", minio.CreateKey(ctx, prefix+"-minio"))

	var set fixtureSet
	for _, name := range []string{prefix + "-created", prefix + "-chacha", prefix + "-aes", prefix + "-minio"} {
		info, err := admin.DescribeKey(ctx, name)
		must(t, "DescribeKey", err)
		k := fixtureKey{Name: name, Algorithm: info.Algorithm.String(), CreatedAt: info.CreatedAt, CreatedBy: info.CreatedBy}
		for _, c := range [][]byte{nil, []byte("{}"), minioContext(map[string]string{"bkt": "bkt/obj1"})} {
			pt := randBytes(20)
			ct, err := admin.Encrypt(ctx, name, pt, c)
			must(t, "Encrypt", err)
			k.Ciphertexts = append(k.Ciphertexts, fixtureCiphertext{Via: "Encrypt", Context: c, Plaintext: pt, Ciphertext: ct})
			dek, err := minio.GenerateKey(ctx, name, c)
			must(t, "GenerateKey", err)
			k.Ciphertexts = append(k.Ciphertexts, fixtureCiphertext{Via: "GenerateKey", Context: c, Plaintext: dek.Plaintext, Ciphertext: dek.Ciphertext})
		}
		for _, m := range []string{"root access key", "root secret key"} {
			mac, err := minio.HMAC(ctx, name, []byte(m))
			must(t, "HMAC", err)
			k.HMACs = append(k.HMACs, fixtureHMAC{Message: []byte(m), HMAC: mac})
		}
		set.Keys = append(set.Keys, k)
	}
	return set
}

// verifyFixtures checks that s describes, decrypts and MACs like the server
// that produced set.
func verifyFixtures(t *testing.T, s *server, set fixtureSet) {
	t.Helper()
	ctx := testCtx(t)
	admin, minio := s.adminClient(), s.minioClient(t)
	for _, k := range set.Keys {
		info, err := admin.DescribeKey(ctx, k.Name)
		if err != nil {
			t.Errorf("%s: DescribeKey: %s", k.Name, describeErr(err))
			continue
		}
		if info.Name != k.Name || info.Algorithm.String() != k.Algorithm || !info.CreatedAt.Equal(k.CreatedAt) || info.CreatedBy != k.CreatedBy {
			t.Errorf("%s: DescribeKey: want %s created %v by %s, got %s created %v by %s",
				k.Name, k.Algorithm, k.CreatedAt, k.CreatedBy, info.Algorithm, info.CreatedAt, info.CreatedBy)
		}
		for i, c := range k.Ciphertexts {
			pt, err := minio.Decrypt(ctx, k.Name, c.Ciphertext, c.Context)
			if err != nil || !bytes.Equal(pt, c.Plaintext) {
				t.Errorf("%s: ciphertext #%d (%s, context %q): Decrypt: want %x, got %x %s", k.Name, i, c.Via, c.Context, c.Plaintext, pt, describeErr(err))
			}
			_, err = minio.Decrypt(ctx, k.Name, c.Ciphertext, []byte("another context"))
			wantErrIs(t, k.Name+": Decrypt with another context", err, kes.ErrDecrypt)
		}
		for _, h := range k.HMACs {
			mac, err := minio.HMAC(ctx, k.Name, h.Message)
			if err != nil || !bytes.Equal(mac, h.HMAC) {
				t.Errorf("%s: HMAC(%q): want %x, got %x %s", k.Name, h.Message, h.HMAC, mac, describeErr(err))
			}
		}
		// New ciphertexts from s still open there.
		dek, err := minio.GenerateKey(ctx, k.Name, []byte("{}"))
		must(t, k.Name+": GenerateKey", err)
		pt, err := minio.Decrypt(ctx, k.Name, dek.Ciphertext, []byte("{}"))
		if err != nil || !bytes.Equal(pt, dek.Plaintext) {
			t.Errorf("%s: GenerateKey/Decrypt round trip: %s", k.Name, describeErr(err))
		}
	}
}

func readKeyFiles(t *testing.T, dir string, set fixtureSet) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, k := range set.Keys {
		b, err := os.ReadFile(filepath.Join(dir, k.Name))
		must(t, "read key file", err)
		files[k.Name] = b
	}
	return files
}

// TestGoKESFixtures: key files written by Go KES, copied into this server's
// fs key store, and ciphertexts Go KES produced with them.
func TestGoKESFixtures(t *testing.T) {
	if os.Getenv("GOCOMPAT_WRITE_FIXTURES") != "" {
		if kind != kindKes {
			t.Fatalf("GOCOMPAT_WRITE_FIXTURES needs KES_SERVER_KIND=kes: the fixtures must come from Go KES")
		}
		writeGoKESFixtures(t)
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "fixtures.json"))
	must(t, "read "+fixtureDir+"/fixtures.json", err)
	var set fixtureSet
	must(t, "parse fixtures.json", json.Unmarshal(b, &set))
	if len(set.Keys) == 0 {
		t.Fatalf("fixtures.json has no keys")
	}
	s := startTestServer(t, serverOptions{seedKeys: readKeyFiles(t, filepath.Join(fixtureDir, "keys"), set)})
	verifyFixtures(t, s, set)
}

func writeGoKESFixtures(t *testing.T) {
	s := startTestServer(t, serverOptions{})
	set := produceFixtures(t, s, "gokes")
	v, err := s.adminClient().Version(testCtx(t))
	must(t, "Version", err)
	set.ProducedBy = "Go KES version " + v + " " + os.Getenv("GOCOMPAT_FIXTURE_NOTE") +
		" (fs key store), by TestGoKESFixtures with GOCOMPAT_WRITE_FIXTURES=1"
	files := readKeyFiles(t, s.keysDir, set)
	s.Stop()

	must(t, "clear old fixtures", os.RemoveAll(fixtureDir))
	must(t, "mkdir", os.MkdirAll(filepath.Join(fixtureDir, "keys"), 0o755))
	for name, b := range files {
		must(t, "write key file", os.WriteFile(filepath.Join(fixtureDir, "keys", name), b, 0o644))
	}
	out, err := json.MarshalIndent(set, "", "  ")
	must(t, "marshal fixtures", err)
	must(t, "write fixtures.json", os.WriteFile(filepath.Join(fixtureDir, "fixtures.json"), append(out, '\n'), 0o644))
	t.Logf("wrote %d Go KES keys and their ciphertexts to %s", len(set.Keys), fixtureDir)
}
