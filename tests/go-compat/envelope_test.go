package gocompat

// Sealed messages (docs/envelope.md) against MinIO's own DARE implementation, github.com/minio/sio
// v0.4.1: the payload of a kesrs envelope is a sio stream under a key derived per the doc, and kesrs
// opens a sio stream behind a header built here. The header code below is a third implementation of
// the doc (after core/src/envelope and tests/envelope-python), written from the doc.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/sio"
	"golang.org/x/crypto/hkdf"
)

type envelopeVectors struct {
	Valid []struct {
		Name            string          `json:"name"`
		KeyName         string          `json:"key_name"`
		Context         json.RawMessage `json:"context"`
		ContextHex      string          `json:"context_bytes_hex"`
		DataKeyHex      string          `json:"data_key_hex"`
		CiphertextHex   string          `json:"data_key_ciphertext_hex"`
		Shared          bool            `json:"shared"`
		SaltHex         string          `json:"salt_hex"`
		NonceHex        string          `json:"dare_nonce_hex"`
		Plaintext       struct{ Len, Seed int }
		HeaderKeyHex    string `json:"header_key_hex"`
		PayloadKeyHex   string `json:"payload_key_hex"`
		HeaderLen       int    `json:"header_len"`
		SealedB64       string `json:"sealed_b64"`
		SealedSHA256Hex string `json:"sealed_sha256_hex"`
	} `json:"valid"`
}

// Section 2 and 3 of docs/envelope.md.
const (
	envFlagShared = 0x01
	envFlagEmpty  = 0x02
)

// envelopeKeys derives (header_key, payload_key) with golang.org/x/crypto/hkdf.
func envelopeKeys(t *testing.T, dataKey, salt, context []byte) ([]byte, []byte) {
	t.Helper()
	ctxHash := sha256.Sum256(context)
	prk := hkdf.Extract(sha256.New, dataKey, salt)
	expand := func(label string) []byte {
		key := make([]byte, 32)
		info := append([]byte(label), ctxHash[:]...)
		_, err := io.ReadFull(hkdf.Expand(sha256.New, prk, info), key)
		must(t, "HKDF-Expand", err)
		return key
	}
	return expand("kesrs envelope v1 header key"), expand("kesrs envelope v1 payload key")
}

// envelopeHeader is the header of section 2, tag included.
func envelopeHeader(flags byte, keyName string, ciphertext, salt, headerKey []byte) []byte {
	var b bytes.Buffer
	b.WriteString("KESE")
	b.WriteByte(1)
	b.WriteByte(flags)
	b.WriteByte(byte(len(keyName)))
	b.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(ciphertext))))
	b.WriteString(keyName)
	b.Write(ciphertext)
	b.Write(salt)
	mac := hmac.New(sha256.New, headerKey)
	mac.Write(b.Bytes())
	return mac.Sum(b.Bytes())
}

// sioConfig is section 4's: DARE 2.0, AES-256-GCM only, sequence numbers from 0.
func sioConfig(payloadKey []byte) sio.Config {
	return sio.Config{Key: payloadKey, MinVersion: sio.Version20, MaxVersion: sio.Version20,
		CipherSuites: []byte{sio.AES_256_GCM}}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	must(t, "hex "+s, err)
	return b
}

// TestEnvelopeVectorsThroughSio: every valid vector built here from its inputs (header per the doc,
// payload by sio's encrypter with the vector's nonce) is byte for byte the vector, and sio decrypts
// the vector's payload given only the payload key derived per the doc.
func TestEnvelopeVectorsThroughSio(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "vectors", "envelope.json"))
	must(t, "read tests/vectors/envelope.json", err)
	var vectors envelopeVectors
	must(t, "parse envelope.json", json.Unmarshal(raw, &vectors))
	if len(vectors.Valid) == 0 {
		t.Fatal("envelope.json: no valid vectors")
	}
	for _, v := range vectors.Valid {
		t.Run(v.Name, func(t *testing.T) {
			context := hexBytes(t, v.ContextHex)
			var m map[string]string
			if json.Unmarshal(v.Context, &m) == nil && !bytes.Equal(minioContext(m), context) {
				t.Errorf("MinIO's context bytes %q, the vector's %q", minioContext(m), context)
			}
			plaintext := make([]byte, v.Plaintext.Len)
			for i := range plaintext {
				plaintext[i] = byte((31*i + v.Plaintext.Seed) % 256)
			}
			salt := hexBytes(t, v.SaltHex)
			headerKey, payloadKey := envelopeKeys(t, hexBytes(t, v.DataKeyHex), salt, context)
			if hex.EncodeToString(headerKey) != v.HeaderKeyHex || hex.EncodeToString(payloadKey) != v.PayloadKeyHex {
				t.Fatalf("keys %x %x, want %s %s", headerKey, payloadKey, v.HeaderKeyHex, v.PayloadKeyHex)
			}

			var flags byte
			if v.Shared {
				flags |= envFlagShared
			}
			if len(plaintext) == 0 {
				flags |= envFlagEmpty
			}
			sealed := envelopeHeader(flags, v.KeyName, hexBytes(t, v.CiphertextHex), salt, headerKey)
			if len(sealed) != v.HeaderLen {
				t.Errorf("header of %d bytes, want %d", len(sealed), v.HeaderLen)
			}
			if len(plaintext) > 0 {
				config := sioConfig(payloadKey)
				config.Nonce = (*[12]byte)(hexBytes(t, v.NonceHex))
				var stream bytes.Buffer
				_, err := sio.Encrypt(&stream, bytes.NewReader(plaintext), config)
				must(t, "sio.Encrypt", err)
				sealed = append(sealed, stream.Bytes()...)
			}
			if sum := sha256.Sum256(sealed); hex.EncodeToString(sum[:]) != v.SealedSHA256Hex {
				t.Fatalf("header + sio stream has SHA-256 %x, want %s", sum, v.SealedSHA256Hex)
			}
			if v.SealedB64 != "" && !bytes.Equal(sealed, b64(t, v.SealedB64)) {
				t.Fatalf("header + sio stream differ from sealed_b64")
			}

			// sio decrypts kesrs's payload (the vector's, which the hash just pinned). An empty
			// plaintext has none (flag EMPTY): sio cannot encode one and refuses an empty stream.
			if len(plaintext) == 0 {
				if len(sealed) != v.HeaderLen {
					t.Fatalf("an empty message has %d payload bytes", len(sealed)-v.HeaderLen)
				}
				if _, err := sio.Decrypt(io.Discard, bytes.NewReader(nil), sioConfig(payloadKey)); err == nil {
					t.Errorf("sio decrypted an empty stream")
				}
				return
			}
			var opened bytes.Buffer
			_, err := sio.Decrypt(&opened, bytes.NewReader(sealed[v.HeaderLen:]), sioConfig(payloadKey))
			must(t, "sio.Decrypt(kesrs's payload)", err)
			if !bytes.Equal(opened.Bytes(), plaintext) {
				t.Errorf("sio decrypted %d bytes, not the plaintext", opened.Len())
			}
		})
	}
}

// TestKesrsOpensSioPayloads: a data key generated through the KES API of the server under test, a
// header built here per the doc, a payload written by sio with the derived payload key; the real
// `kesrs open` against the server gives back the plaintext, and refuses the wrong context (exit 6).
func TestKesrsOpensSioPayloads(t *testing.T) {
	admin := newCLI(t, "--cert", env.admin.certFile, "--key", env.admin.keyFile)
	client := srv.adminClient()
	ctx := testCtx(t)
	const keyName = "envelope-sio"
	must(t, "CreateKey", client.CreateKey(ctx, keyName))
	context := minioContext(map[string]string{"bucket": "photos/cat.jpg", "x-amz": "<&>"})

	for _, size := range []int{0, 1, 65536, 65537, 3*65536 + 100} {
		dek, err := client.GenerateKey(ctx, keyName, context)
		must(t, "GenerateKey", err)
		salt := make([]byte, 32)
		plaintext := make([]byte, size)
		for _, b := range [][]byte{salt, plaintext} {
			_, err := rand.Read(b)
			must(t, "rand", err)
		}
		headerKey, payloadKey := envelopeKeys(t, dek.Plaintext, salt, context)
		var flags byte
		if size == 0 {
			flags = envFlagEmpty
		}
		sealed := envelopeHeader(flags, keyName, dek.Ciphertext, salt, headerKey)
		if size > 0 {
			var stream bytes.Buffer
			_, err := sio.Encrypt(&stream, bytes.NewReader(plaintext), sioConfig(payloadKey)) // sio's own nonce
			must(t, "sio.Encrypt", err)
			sealed = append(sealed, stream.Bytes()...)
		}

		opened, stderr, code := admin.runStdin(sealed, "open", "--context", string(context))
		if code != 0 || !bytes.Equal(opened, plaintext) {
			t.Fatalf("%d bytes: kesrs open: exit code %d, %d bytes out: %s", size, code, len(opened), stderr)
		}
		if _, stderr, code := admin.runStdin(sealed, "open", "--context", "{}"); code != 6 ||
			!strings.Contains(stderr, "decryption failed") {
			t.Errorf("%d bytes, another context: exit code %d, %s; want 6", size, code, stderr)
		}
	}
}

// runStdin is cli.run with stdin, returning stdout as bytes.
func (c cli) runStdin(stdin []byte, args ...string) ([]byte, string, int) {
	c.t.Helper()
	args = append(args, "--server", srv.endpoint, "--ca", filepath.Join(env.dir, "ca.crt"))
	cmd := exec.Command(c.bin, append(args, c.auth...)...)
	cmd.Env = []string{}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("kesrs %s: %v", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), stderr.String(), cmd.ProcessState.ExitCode()
}
