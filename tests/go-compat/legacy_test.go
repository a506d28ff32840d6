package gocompat

// Stored keys and ciphertexts that KES wrote: the vectors from KES's own
// tests (tests/vectors/kes-vectors.json) placed in the fs key store and used
// through the Go client, and key files plus ciphertexts produced by running
// Go KES (testdata/gokes, see TestGoKESFixtures).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

type kesVectors struct {
	CiphertextDecrypt []struct {
		Source         string `json:"source"`
		KeyType        string `json:"key_type"`
		KeyB64         string `json:"key_b64"`
		ContextB64     string `json:"context_b64"`
		Format         string `json:"ciphertext_format"`
		CiphertextJSON string `json:"ciphertext_json_text"`
		CiphertextB64  string `json:"ciphertext_b64"`
		Expected       string `json:"expected"`
		PlaintextB64   string `json:"plaintext_b64"`
	} `json:"ciphertext_decrypt"`
	StoredKeyParse  []storedKeyVector `json:"stored_key_parse"`
	StoredKeyEncode []struct {
		storedKeyVector
		ExpectedValue string `json:"expected_stored_value_text"`
	} `json:"stored_key_encode"`
}

type storedKeyVector struct {
	Source     string  `json:"source"`
	Value      string  `json:"stored_value_text"`
	Expected   string  `json:"expected"`
	KeyType    string  `json:"key_type"`
	KeyB64     string  `json:"key_b64"`
	HasHMACKey *bool   `json:"has_hmac_key"`
	HMACKeyB64 string  `json:"hmac_key_b64"`
	CreatedAt  *string `json:"created_at"`
	CreatedBy  string  `json:"created_by"`
}

func loadVectors(t *testing.T) *kesVectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "vectors", "kes-vectors.json"))
	must(t, "read tests/vectors/kes-vectors.json", err)
	var v kesVectors
	must(t, "parse kes-vectors.json", json.Unmarshal(b, &v))
	if len(v.CiphertextDecrypt) == 0 || len(v.StoredKeyParse) == 0 {
		t.Fatalf("kes-vectors.json: no ciphertext_decrypt or stored_key_parse vectors")
	}
	return &v
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	must(t, "base64 "+s, err)
	return b
}

func parseAlg(t *testing.T, s string) kes.KeyAlgorithm {
	t.Helper()
	var a kes.KeyAlgorithm
	must(t, "key type "+s, a.UnmarshalText([]byte(s)))
	return a
}

// TestLegacyVectors: every stored-key and ciphertext vector of KES, through
// the fs key store and the Go client.
func TestLegacyVectors(t *testing.T) {
	v := loadVectors(t)
	seed := map[string][]byte{}
	for i, c := range v.CiphertextDecrypt {
		// Each decrypt vector's key, stored in the legacy JSON format.
		seed[fmt.Sprintf("vec-dec-%d", i)] = fmt.Appendf(nil, `{"bytes":%q,"algorithm":%q}`, c.KeyB64, c.KeyType)
	}
	for i, k := range v.StoredKeyParse {
		seed[fmt.Sprintf("vec-key-%d", i)] = []byte(k.Value)
	}
	for i, k := range v.StoredKeyEncode {
		if k.Expected != "error" {
			seed[fmt.Sprintf("vec-enc-%d", i)] = []byte(k.ExpectedValue)
		}
	}
	s := startTestServer(t, serverOptions{seedKeys: seed})
	ctx := testCtx(t)
	c := s.adminClient()

	for i, vec := range v.CiphertextDecrypt {
		name := fmt.Sprintf("vec-dec-%d", i)
		ct := []byte(vec.CiphertextJSON)
		if vec.Format != "json-legacy" {
			ct = b64(t, vec.CiphertextB64)
		}
		pt, err := c.Decrypt(ctx, name, ct, b64(t, vec.ContextB64))
		if vec.Expected == "ok" {
			if err != nil || !bytes.Equal(pt, b64(t, vec.PlaintextB64)) {
				t.Errorf("%s (%s, %s): Decrypt: want the plaintext, got %x %s", name, vec.Source, vec.Format, pt, describeErr(err))
			}
		} else {
			wantErrIs(t, fmt.Sprintf("%s (%s, %s): Decrypt", name, vec.Source, vec.Format), err, kes.ErrDecrypt)
		}
	}

	check := func(name string, k storedKeyVector) {
		info, err := c.DescribeKey(ctx, name)
		if k.Expected != "ok" {
			wantAPIError(t, name+" ("+k.Source+"): DescribeKey of an unparsable stored key", err, http.StatusBadGateway, "failed to read key")
			return
		}
		if err != nil {
			t.Errorf("%s (%s): DescribeKey: %s", name, k.Source, describeErr(err))
			return
		}
		alg := parseAlg(t, k.KeyType)
		wantAt := time.Time{} // legacy keys without created_at: the zero time
		if k.CreatedAt != nil {
			wantAt, err = time.Parse(time.RFC3339Nano, *k.CreatedAt)
			must(t, "created_at", err)
		}
		if info.Name != name || info.Algorithm != alg || !info.CreatedAt.Equal(wantAt) || info.CreatedBy != kes.Identity(k.CreatedBy) {
			t.Errorf("%s (%s): DescribeKey: want %s created %v by %q, got %+v", name, k.Source, alg, wantAt, k.CreatedBy, info)
		}

		// The server encrypts with the stored key and its stored type.
		ct, err := c.Encrypt(ctx, name, []byte("legacy"), []byte("ad"))
		must(t, name+": Encrypt", err)
		if pt, err := openLocal(b64(t, k.KeyB64), alg, ct, []byte("ad")); err != nil || string(pt) != "legacy" {
			t.Errorf("%s (%s): Encrypt: the ciphertext does not open with the stored key: %v", name, k.Source, err)
		}

		mac, err := c.HMAC(ctx, name, []byte("root access key"))
		if k.HasHMACKey != nil && *k.HasHMACKey || k.HMACKeyB64 != "" {
			want := hmacSHA256(b64(t, k.HMACKeyB64), []byte("root access key"))
			if err != nil || !bytes.Equal(mac, want) {
				t.Errorf("%s (%s): HMAC: want HMAC-SHA-256 with the stored HMAC key %x, got %x %s", name, k.Source, want, mac, describeErr(err))
			}
		} else {
			wantAPIError(t, name+" ("+k.Source+"): HMAC on a key without HMAC key", err, http.StatusConflict, "key does not support HMAC")
		}
	}
	for i, k := range v.StoredKeyParse {
		check(fmt.Sprintf("vec-key-%d", i), k)
	}
	for i, k := range v.StoredKeyEncode {
		if k.Expected != "error" {
			k.storedKeyVector.Expected = "ok"
			check(fmt.Sprintf("vec-enc-%d", i), k.storedKeyVector)
		}
	}
}
