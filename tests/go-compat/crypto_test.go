package gocompat

// An independent implementation of the KES ciphertext format (spec §7.1),
// used to check that what the server seals opens with the stored key and
// vice versa: ciphertext = AEAD.Seal(plaintext, nonce, AD=context) ‖ iv[16] ‖ nonce[12],
// AES256: k = HMAC-SHA-256(K, iv), AES-256-GCM; ChaCha20: k = HChaCha20(K, iv), ChaCha20-Poly1305.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/minio/kms-go/kes"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

func kesAEAD(key []byte, alg kes.KeyAlgorithm, iv []byte) (cipher.AEAD, error) {
	if len(key) != 32 || len(iv) != 16 {
		return nil, errors.New("bad key or iv length")
	}
	switch alg {
	case kes.AES256:
		mac := hmac.New(sha256.New, key)
		mac.Write(iv)
		block, err := aes.NewCipher(mac.Sum(nil))
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case kes.ChaCha20:
		sub, err := chacha20.HChaCha20(key, iv)
		if err != nil {
			return nil, err
		}
		return chacha20poly1305.New(sub)
	default:
		return nil, fmt.Errorf("unknown algorithm %v", alg)
	}
}

func sealLocal(key []byte, alg kes.KeyAlgorithm, plaintext, context []byte) ([]byte, error) {
	var r [28]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	iv, nonce := r[:16], r[16:]
	aead, err := kesAEAD(key, alg, iv)
	if err != nil {
		return nil, err
	}
	out := aead.Seal(nil, nonce, plaintext, context)
	return append(out, r[:]...), nil
}

func openLocal(key []byte, alg kes.KeyAlgorithm, ciphertext, context []byte) ([]byte, error) {
	if len(ciphertext) <= 28 {
		return nil, errors.New("ciphertext too short")
	}
	n := len(ciphertext) - 28
	iv, nonce := ciphertext[n:n+16], ciphertext[n+16:]
	aead, err := kesAEAD(key, alg, iv)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nonce, ciphertext[:n], context)
}

func hmacSHA256(key, msg []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(msg)
	return mac.Sum(nil)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
