package gocompat

// Authentication (certificate files, API keys through both TLS paths),
// policies, unknown identities and failover between endpoints.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

// TestAPIKeyClient: kes.NewClient(endpoint, apiKey) hands its Ed25519
// certificate to Go through tls.Config.Certificates, so Go sends it only if
// the server's CertificateRequest lists no CA names and allows Ed25519.
func TestAPIKeyClient(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		name, key string
		c         *kes.Client
	}{
		{"kes.NewClient (tls.Config.Certificates)", "apikey-certs", srv.apiKeyClient(t)},
		{"MinIO HEAD (GetClientCertificate)", "apikey-getcert", srv.minioClient(t)},
	} {
		name, key, c := tc.name, tc.key, tc.c
		if err := c.CreateKey(ctx, key); err != nil {
			t.Errorf("%s: CreateKey: %s", name, describeErr(err))
			continue
		}
		info, err := c.DescribeKey(ctx, key)
		if err != nil {
			t.Errorf("%s: DescribeKey: %s", name, describeErr(err))
			continue
		}
		if info.CreatedBy != env.apiID {
			t.Errorf("%s: DescribeKey.CreatedBy: want the API key's identity %s, got %q", name, env.apiID, info.CreatedBy)
		}
		dek, err := c.GenerateKey(ctx, key, []byte("{}"))
		if err != nil {
			t.Errorf("%s: GenerateKey: %s", name, describeErr(err))
			continue
		}
		pt, err := c.Decrypt(ctx, key, dek.Ciphertext, []byte("{}"))
		if err != nil || !bytes.Equal(pt, dek.Plaintext) {
			t.Errorf("%s: Decrypt: %s", name, describeErr(err))
		}
		// The minio policy allows no delete.
		wantErrIs(t, name+": DeleteKey", c.DeleteKey(ctx, key), kes.ErrNotAllowed)
	}
}

// TestCertificateFileClients: the admin (ECDSA) through GetClientCertificate
// and the app identity (RSA) through tls.Config.Certificates, both loaded
// from PEM files; the server must accept ECDSA and RSA client keys.
func TestCertificateFileClients(t *testing.T) {
	ctx := testCtx(t)
	pair, err := tls.LoadX509KeyPair(env.admin.certFile, env.admin.keyFile)
	must(t, "LoadX509KeyPair", err)
	conf := srv.tlsConfig()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	admin := kes.NewClientWithConfig(srv.endpoint, conf)
	self, _, err := admin.DescribeSelf(ctx)
	must(t, "admin DescribeSelf", err)
	if self.Identity != env.admin.identity || !self.IsAdmin {
		t.Errorf("admin DescribeSelf: want identity %s and admin, got %+v", env.admin.identity, self)
	}

	// Admin certificate sent through tls.Config.Certificates as well.
	conf = srv.tlsConfig()
	conf.Certificates = []tls.Certificate{pair}
	_, _, err = kes.NewClientWithConfig(srv.endpoint, conf).ListKeys(ctx, "", -1)
	must(t, "admin via tls.Config.Certificates: ListKeys", err)

	// The RSA app certificate through tls.Config.Certificates.
	must(t, "CreateKey", admin.CreateKey(ctx, "app-certfile"))
	_, err = srv.appClient().GenerateKey(ctx, "app-certfile", nil)
	must(t, "app (RSA, tls.Config.Certificates): GenerateKey", err)

	// No client certificate at all: the handshake (or the request) fails.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: srv.tlsConfig()}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(srv.endpoint + "/v1/status")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET /v1/status without a client certificate: want a failure, got 200")
		}
	}
}

func TestPolicyApp(t *testing.T) {
	ctx := testCtx(t)
	admin, app := srv.adminClient(), srv.appClient()
	for _, n := range []string{"app-data", "app-secret-1", "other-1"} {
		must(t, "CreateKey "+n, admin.CreateKey(ctx, n))
	}
	secretDEK, err := admin.GenerateKey(ctx, "app-secret-1", nil)
	must(t, "admin GenerateKey(app-secret-1)", err)

	// Allowed: generate and decrypt on app-*.
	dek, err := app.GenerateKey(ctx, "app-data", []byte("ctx"))
	must(t, "app GenerateKey(app-data)", err)
	pt, err := app.Decrypt(ctx, "app-data", dek.Ciphertext, []byte("ctx"))
	if err != nil || !bytes.Equal(pt, dek.Plaintext) {
		t.Errorf("app Decrypt(app-data): %s", describeErr(err))
	}
	// Allowed path, missing key: the policy passes, the key store answers.
	_, err = app.GenerateKey(ctx, "app-missing", nil)
	wantErrIs(t, "app GenerateKey(app-missing)", err, kes.ErrKeyNotFound)
	// Wrong context on an allowed key: ErrDecrypt, not ErrNotAllowed.
	_, err = app.Decrypt(ctx, "app-data", dek.Ciphertext, []byte("other"))
	wantErrIs(t, "app Decrypt(app-data, wrong context)", err, kes.ErrDecrypt)

	// Deny wins over allow: app-secret* matches both.
	_, err = app.GenerateKey(ctx, "app-secret-1", nil)
	wantErrIs(t, "app GenerateKey(app-secret-1)", err, kes.ErrNotAllowed)
	_, err = app.Decrypt(ctx, "app-secret-1", secretDEK.Ciphertext, nil)
	wantErrIs(t, "app Decrypt(app-secret-1)", err, kes.ErrNotAllowed)
	_, err = app.GenerateKey(ctx, "app-secret-missing", nil)
	wantErrIs(t, "app GenerateKey(app-secret-missing)", err, kes.ErrNotAllowed)

	// Outside the allow list.
	_, err = app.GenerateKey(ctx, "other-1", nil)
	wantErrIs(t, "app GenerateKey(other-1)", err, kes.ErrNotAllowed)
	_, err = app.Encrypt(ctx, "app-data", []byte("x"), nil)
	wantErrIs(t, "app Encrypt(app-data)", err, kes.ErrNotAllowed)
	wantErrIs(t, "app CreateKey(app-new)", app.CreateKey(ctx, "app-new"), kes.ErrNotAllowed)
	wantErrIs(t, "app ImportKey(app-new)", app.ImportKey(ctx, "app-new", &kes.ImportKeyRequest{Key: randBytes(32)}), kes.ErrNotAllowed)
	_, err = app.DescribeKey(ctx, "app-data")
	wantErrIs(t, "app DescribeKey(app-data)", err, kes.ErrNotAllowed)
	wantErrIs(t, "app DeleteKey(app-data)", app.DeleteKey(ctx, "app-data"), kes.ErrNotAllowed)
	_, err = app.HMAC(ctx, "app-data", []byte("m"))
	wantErrIs(t, "app HMAC(app-data)", err, kes.ErrNotAllowed)
	_, _, err = app.ListKeys(ctx, "", -1)
	wantErrIs(t, `app ListKeys("")`, err, kes.ErrNotAllowed)
	_, _, err = app.ListKeys(ctx, "app-*", -1)
	wantErrIs(t, `app ListKeys("app-*")`, err, kes.ErrNotAllowed)
	_, err = app.DescribePolicy(ctx, "app")
	wantErrIs(t, "app DescribePolicy(app)", err, kes.ErrNotAllowed)
	_, _, err = app.ListIdentities(ctx, "", -1)
	wantErrIs(t, "app ListIdentities", err, kes.ErrNotAllowed)
	_, err = app.Metrics(ctx)
	wantErrIs(t, "app Metrics", err, kes.ErrNotAllowed)
	_, err = app.AuditLog(ctx)
	wantErrIs(t, "app AuditLog", err, kes.ErrNotAllowed)
	_, err = app.ErrorLog(ctx)
	wantErrIs(t, "app ErrorLog", err, kes.ErrNotAllowed)
	// /version needs no authorisation.
	_, err = app.Version(ctx)
	must(t, "app Version", err)

	// Nothing the app was refused happened.
	_, err = admin.DescribeKey(ctx, "app-new")
	wantErrIs(t, "admin DescribeKey(app-new)", err, kes.ErrKeyNotFound)
	_, err = admin.DescribeKey(ctx, "app-data")
	must(t, "admin DescribeKey(app-data) after the refused delete", err)
}

func TestUnknownIdentity(t *testing.T) {
	ctx := testCtx(t)
	must(t, "CreateKey", srv.adminClient().CreateKey(ctx, "unknown-target"))
	c := srv.unknownClient()
	checks := map[string]func() error{
		"CreateKey":   func() error { return c.CreateKey(ctx, "unknown-new") },
		"GenerateKey": func() error { _, err := c.GenerateKey(ctx, "unknown-target", nil); return err },
		"Decrypt":     func() error { _, err := c.Decrypt(ctx, "unknown-target", randBytes(76), nil); return err },
		"Encrypt":     func() error { _, err := c.Encrypt(ctx, "unknown-target", []byte("x"), nil); return err },
		"DescribeKey": func() error { _, err := c.DescribeKey(ctx, "unknown-target"); return err },
		"DeleteKey":   func() error { return c.DeleteKey(ctx, "unknown-target") },
		"HMAC":        func() error { _, err := c.HMAC(ctx, "unknown-target", []byte("m")); return err },
		"ListKeys":    func() error { _, _, err := c.ListKeys(ctx, "", -1); return err },
		"Status":      func() error { _, err := c.Status(ctx); return err },
		"IsReady":     func() error { _, err := c.IsReady(ctx); return err },
		"APIs":        func() error { _, err := c.APIs(ctx); return err },
		"GetPolicy":   func() error { _, err := c.GetPolicy(ctx, "app"); return err },
		"ListPolicies": func() error {
			_, _, err := c.ListPolicies(ctx, "", -1)
			return err
		},
		"DescribeIdentity": func() error { _, err := c.DescribeIdentity(ctx, env.admin.identity); return err },
	}
	for name, f := range checks {
		wantErrIs(t, "unknown identity: "+name, f(), kes.ErrNotAllowed)
	}
	_, err := c.Version(ctx)
	must(t, "unknown identity: Version", err)

	// DescribeSelf needs no policy. An identity the server does not know has
	// nothing to describe: KES answers ErrIdentityNotFound.
	info, pol, err := c.DescribeSelf(ctx)
	if err != nil {
		wantErrIs(t, "unknown identity: DescribeSelf", err, kes.ErrIdentityNotFound)
	} else if info.IsAdmin || info.Policy != "" || len(pol.Allow) != 0 {
		t.Errorf("unknown identity: DescribeSelf: want ErrIdentityNotFound or an identity without policy, got %+v %+v", info, pol)
	}
}

// TestFailover: several endpoints, one of them down, as MinIO configures
// MINIO_KMS_KES_ENDPOINT=https://kes1,https://kes2.
func TestFailover(t *testing.T) {
	ctx := testCtx(t)
	dead, err := freeAddr() // nothing listens there
	must(t, "freeAddr", err)
	for _, order := range [][]string{{"https://" + dead, srv.endpoint}, {srv.endpoint, "https://" + dead}} {
		c := srv.minioClient(t, order...)
		start := time.Now()
		key := "failover-" + map[bool]string{true: "dead-first", false: "live-first"}[order[1] == srv.endpoint]
		must(t, "CreateKey", c.CreateKey(ctx, key))
		for i := 0; i < 5; i++ {
			dek, err := c.GenerateKey(ctx, key, []byte(`{"healthcheck":""}`))
			must(t, "GenerateKey", err)
			pt, err := c.Decrypt(ctx, key, dek.Ciphertext, []byte(`{"healthcheck":""}`))
			if err != nil || !bytes.Equal(pt, dek.Plaintext) {
				t.Fatalf("Decrypt via %v: %s", order, describeErr(err))
			}
		}
		_, err = c.DescribeKey(ctx, key)
		must(t, "DescribeKey", err)
		_, err = c.HMAC(ctx, key, []byte("root access key"))
		must(t, "HMAC", err)
		_, err = c.Status(ctx)
		must(t, "Status", err)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("failover via %v took %v", order, d)
		}
	}

	// All endpoints down: a connection error, not a hang.
	dead2, err := freeAddr()
	must(t, "freeAddr", err)
	c := srv.minioClient(t, "https://"+dead, "https://"+dead2)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = c.GenerateKey(cctx, "failover-dead-first", nil)
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("all endpoints down: want a network error, got %s", describeErr(err))
	}
}

// TestChainSpoofing: Go's TLS client presents a chain whose first certificate,
// the one whose key signs the handshake, is a self-made CA certificate of the
// attacker's key, followed by the admin's public certificate. Go KES names the
// client after the first non-CA certificate (the admin's); kesrs refuses the
// chain (docs/security.md).
func TestChainSpoofing(t *testing.T) {
	kesrsOnly(t, "Go KES serves the spoofed chain as the admin")
	ctx := testCtx(t)
	must(t, "CreateKey", srv.adminClient().CreateKey(ctx, "spoof-target"))

	attackerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, "GenerateKey", err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "attacker CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	attackerCA, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, attackerKey.Public(), attackerKey)
	must(t, "CreateCertificate", err)
	spoof := tls.Certificate{
		Certificate: [][]byte{attackerCA, env.admin.cert.Certificate[0]},
		PrivateKey:  attackerKey,
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conf := srv.tlsConfig()
		conf.MinVersion, conf.MaxVersion = version, version
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &spoof, nil }
		c := kes.NewClientWithConfig(srv.endpoint, conf)
		const refused = "tls: client certificate is a CA certificate"
		info, _, err := c.DescribeSelf(ctx)
		if err == nil && info.IsAdmin {
			t.Fatalf("TLS %x: the spoofed chain was served as the admin", version)
		}
		wantErrIs(t, "spoofed DescribeSelf", err, kes.ErrIdentityNotFound)
		wantAPIError(t, "spoofed DeleteKey", c.DeleteKey(ctx, "spoof-target"), 400, refused)
		_, err = c.GenerateKey(ctx, "spoof-target", nil)
		wantAPIError(t, "spoofed GenerateKey", err, 400, refused)
	}
	_, err = srv.adminClient().DescribeKey(ctx, "spoof-target")
	must(t, "DescribeKey after the spoofing attempts", err)
}
