package gocompat

// The harness: which server is under test, the certificates and identities
// every test uses, the KES config file, and starting and stopping servers.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

// Server kinds.
const (
	kindKesrs = "kesrs" // the Rust server; every assertion applies
	kindKes   = "kes"   // Go KES; deliberate kesrs differences are skipped
)

var (
	kind      string   // the kind of server under test
	serverBin string   // its binary
	env       *testEnv // certificates, identities and the scratch directory
	srv       *server  // the server shared by most tests
)

// serverFromEnv reads KES_SERVER_KIND, KES_SERVER_BIN and KESRS_BIN.
// It fails (never skips) when the binary is missing.
func serverFromEnv() (string, string, error) {
	k := os.Getenv("KES_SERVER_KIND")
	if k == "" {
		k = kindKesrs
	}
	if k != kindKesrs && k != kindKes {
		return "", "", fmt.Errorf("KES_SERVER_KIND=%q: want %q or %q", k, kindKesrs, kindKes)
	}
	bin := os.Getenv("KES_SERVER_BIN")
	if bin == "" && k == kindKesrs {
		bin = os.Getenv("KESRS_BIN")
	}
	if bin == "" {
		if k == kindKesrs {
			return "", "", errors.New("no kesrs binary given: set KESRS_BIN (or KES_SERVER_BIN) to the kesrs binary, " +
				"e.g. KESRS_BIN=$PWD/target/debug/kesrs after `cargo build -p kesrs-sidecar`")
		}
		return "", "", errors.New("KES_SERVER_KIND=kes needs KES_SERVER_BIN pointing at a Go KES binary")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", "", fmt.Errorf("%s binary %q is missing (%v); build it first (kesrs: `cargo build -p kesrs-sidecar`)", k, abs, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", "", fmt.Errorf("%s binary %q is not an executable file", k, abs)
	}
	return k, abs, nil
}

// An identityCert is a client certificate and key, written to PEM files and
// loaded back from them the way MinIO loads MINIO_KMS_KES_CERT_FILE/KEY_FILE.
type identityCert struct {
	certFile, keyFile string
	cert              tls.Certificate
	identity          kes.Identity
}

type testEnv struct {
	dir            string
	caPool         *x509.CertPool
	caCert         *x509.Certificate
	caKey          crypto.Signer
	serverCertFile string
	serverKeyFile  string

	admin   identityCert // admin.identity of every config
	app     identityCert // bound to policy "app" (RSA key, sent through tls.Config.Certificates)
	unknown identityCert // in no policy (Ed25519 key)
	apiKey  kes.APIKey   // bound to policy "minio", MinIO's usual credential
	apiID   kes.Identity
}

// Policy "app": generate and decrypt on app-* keys, but never on app-secret*.
var appAllow = []string{"/v1/key/generate/app-*", "/v1/key/decrypt/app-*"}
var appDeny = []string{"/v1/key/generate/app-secret*", "/v1/key/decrypt/app-secret*"}

// Policy "minio": what the README tells MinIO users to allow.
var minioAllow = []string{
	"/v1/key/create/*",
	"/v1/key/generate/*",
	"/v1/key/decrypt/*",
	"/v1/key/describe/*",
	"/v1/key/list/*",
	"/v1/key/hmac/*",
	"/v1/status",
	"/v1/api",
	"/version",
}

func newTestEnv(dir string) (*testEnv, error) {
	e := &testEnv{dir: dir}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "go-compat test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	if e.caCert, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	e.caKey = caKey
	e.caPool = x509.NewCertPool()
	e.caPool.AddCert(e.caCert)
	if err = writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER); err != nil {
		return nil, err
	}

	// Server certificate signed by the CA, SANs 127.0.0.1, ::1 and localhost.
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, e.caCert, srvKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	e.serverCertFile = filepath.Join(dir, "server.crt")
	e.serverKeyFile = filepath.Join(dir, "server.key")
	if err = writePEM(e.serverCertFile, "CERTIFICATE", srvDER); err != nil {
		return nil, err
	}
	if err = writeKey(e.serverKeyFile, srvKey); err != nil {
		return nil, err
	}

	// Client certificates: ECDSA (admin), RSA (app), Ed25519 (unknown); the
	// API key below is Ed25519 too. Self-signed, as KES never checks the chain.
	adminKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if e.admin, err = newClientCert(dir, "admin", adminKey); err != nil {
		return nil, err
	}
	appKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if e.app, err = newClientCert(dir, "app", appKey); err != nil {
		return nil, err
	}
	_, unknownKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if e.unknown, err = newClientCert(dir, "unknown", unknownKey); err != nil {
		return nil, err
	}

	if e.apiKey, err = kes.GenerateAPIKey(nil); err != nil {
		return nil, err
	}
	e.apiID = e.apiKey.Identity()
	return e, nil
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der)
}

// newClientCert makes a self-signed client certificate (not a CA), writes it
// and its key as PEM files, and loads the pair back from those files.
func newClientCert(dir, name string, key crypto.Signer) (identityCert, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "go-compat " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return identityCert{}, err
	}
	c := identityCert{
		certFile: filepath.Join(dir, name+".crt"),
		keyFile:  filepath.Join(dir, name+".key"),
	}
	if err = writePEM(c.certFile, "CERTIFICATE", der); err != nil {
		return identityCert{}, err
	}
	if err = writeKey(c.keyFile, key); err != nil {
		return identityCert{}, err
	}
	if c.cert, err = tls.LoadX509KeyPair(c.certFile, c.keyFile); err != nil {
		return identityCert{}, err
	}
	leaf, err := x509.ParseCertificate(c.cert.Certificate[0])
	if err != nil {
		return identityCert{}, err
	}
	c.identity = spkiIdentity(leaf)
	return c, nil
}

// spkiIdentity is the KES identity of a certificate: the lowercase hex
// SHA-256 of its DER SubjectPublicKeyInfo.
func spkiIdentity(cert *x509.Certificate) kes.Identity {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return kes.Identity(hex.EncodeToString(sum[:]))
}

// configYAML is the KES config file every server of the suite reads.
func configYAML(addr, keysDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: v1\n")
	fmt.Fprintf(&b, "address: %s\n", addr)
	fmt.Fprintf(&b, "admin:\n  identity: %s\n", env.admin.identity)
	fmt.Fprintf(&b, "tls:\n  key: %s\n  cert: %s\n", env.serverKeyFile, env.serverCertFile)
	fmt.Fprintf(&b, "policy:\n")
	writePolicy(&b, "app", appAllow, appDeny, env.app.identity)
	writePolicy(&b, "minio", minioAllow, nil, env.apiID)
	writePolicy(&b, "nobody", []string{"/v1/status"}, nil) // a policy without identities
	fmt.Fprintf(&b, "cache:\n  expiry:\n    any: 5m\n    unused: 30s\n")
	fmt.Fprintf(&b, "log:\n  error: on\n  audit: on\n")
	fmt.Fprintf(&b, "keystore:\n  fs:\n    path: %s\n", keysDir)
	return b.String()
}

func writePolicy(b *strings.Builder, name string, allow, deny []string, ids ...kes.Identity) {
	fmt.Fprintf(b, "  %s:\n", name)
	if len(allow) > 0 {
		fmt.Fprintf(b, "    allow:\n")
		for _, p := range allow {
			fmt.Fprintf(b, "    - %s\n", p)
		}
	}
	if len(deny) > 0 {
		fmt.Fprintf(b, "    deny:\n")
		for _, p := range deny {
			fmt.Fprintf(b, "    - %s\n", p)
		}
	}
	if len(ids) > 0 {
		fmt.Fprintf(b, "    identities:\n")
		for _, id := range ids {
			fmt.Fprintf(b, "    - %s\n", id)
		}
	}
}

// freeAddr picks a free loopback port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// A server is one key server process started by the suite.
type server struct {
	name     string
	kind     string
	bin      string
	dir      string // its own directory: config, log, key store
	keysDir  string // the fs key store
	addr     string // 127.0.0.1:port
	endpoint string // https://127.0.0.1:port
	logFile  string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit error, after done

	stopOnce sync.Once
}

type serverOptions struct {
	kind, bin string            // default: the server under test
	keysDir   string            // default: <dir>/keys, not created beforehand
	seedKeys  map[string][]byte // files to place in the key store before start
}

// startServer starts a server with the suite's config and waits until it
// answers /version. The caller must Stop it.
func startServer(name string, opts serverOptions) (*server, error) {
	s := &server{name: name, kind: opts.kind, bin: opts.bin, done: make(chan struct{})}
	if s.kind == "" {
		s.kind, s.bin = kind, serverBin
	}
	s.dir = filepath.Join(env.dir, "srv-"+name)
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	s.keysDir = opts.keysDir
	if s.keysDir == "" {
		s.keysDir = filepath.Join(s.dir, "keys")
	}
	if len(opts.seedKeys) > 0 {
		if err := os.MkdirAll(s.keysDir, 0o700); err != nil {
			return nil, err
		}
		for n, v := range opts.seedKeys {
			if err := os.WriteFile(filepath.Join(s.keysDir, n), v, 0o600); err != nil {
				return nil, err
			}
		}
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a fresh port if another process took ours
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if lastErr = s.launch(addr); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(s.logTail(40), "address already in use") {
			break
		}
		s.done = make(chan struct{})
	}
	return nil, lastErr
}

func (s *server) launch(addr string) error {
	s.addr = addr
	s.endpoint = "https://" + addr
	cfg := filepath.Join(s.dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML(addr, s.keysDir)), 0o600); err != nil {
		return err
	}
	s.logFile = filepath.Join(s.dir, "server.log")
	logf, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "server", "--config", cfg)
	s.cmd.Dir = s.dir
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	s.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err = s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()

	// Wait until /version answers over mutual TLS.
	hc := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      env.caPool,
			Certificates: []tls.Certificate{env.admin.cert},
		}},
	}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("%s server %q exited during start-up (%v); log:\n%s", s.kind, s.name, s.err, s.logTail(40))
		default:
		}
		resp, err := hc.Get(s.endpoint + "/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /version: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s server %q not ready after 20s (last: %v); log:\n%s", s.kind, s.name, err, s.logTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop terminates the process (SIGTERM, then SIGKILL after 3s).
func (s *server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// logTail returns the last n lines the server wrote to stdout and stderr.
func (s *server) logTail(n int) string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startTestServer starts a dedicated server for one test and stops it at
// the test's end, printing its log if the test failed.
func startTestServer(t *testing.T, opts serverOptions) *server {
	t.Helper()
	s, err := startServer(strings.ReplaceAll(t.Name(), "/", "_"), opts)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("log of %s server %q:\n%s", s.kind, s.name, s.logTail(60))
		}
	})
	return s
}

// Clients. Each has its own transport, so its own connections.

func (s *server) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: env.caPool}
}

// certClient presents c through GetClientCertificate, as current MinIO does
// with MINIO_KMS_KES_CERT_FILE/KEY_FILE.
func (s *server) certClient(c identityCert) *kes.Client {
	conf := s.tlsConfig()
	cert := c.cert
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return kes.NewClientWithConfig(s.endpoint, conf)
}

// certsClient presents c through tls.Config.Certificates, as MinIO before
// RELEASE.2024-06-13 did: Go sends it only if the server's CertificateRequest allows it.
func (s *server) certsClient(c identityCert) *kes.Client {
	conf := s.tlsConfig()
	conf.Certificates = []tls.Certificate{c.cert}
	return kes.NewClientWithConfig(s.endpoint, conf)
}

func (s *server) adminClient() *kes.Client   { return s.certClient(env.admin) }
func (s *server) appClient() *kes.Client     { return s.certsClient(env.app) }
func (s *server) unknownClient() *kes.Client { return s.certClient(env.unknown) }

// apiKeyClient is kes.NewClient(endpoint, apiKey), which puts the generated
// Ed25519 certificate into tls.Config.Certificates; only the server's CA is added.
func (s *server) apiKeyClient(t *testing.T) *kes.Client {
	t.Helper()
	c, err := kes.NewClient(s.endpoint, env.apiKey)
	if err != nil {
		t.Fatalf("kes.NewClient: %v", err)
	}
	tr, ok := c.HTTPClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("kes.NewClient: unexpected transport %T", c.HTTPClient.Transport)
	}
	tr.TLSClientConfig.RootCAs = env.caPool
	return c
}

// minioClient builds the client the way current MinIO does for
// MINIO_KMS_KES_API_KEY: kes.GenerateCertificate once, handed out through
// GetClientCertificate, with the endpoints set afterwards.
func (s *server) minioClient(t testing.TB, endpoints ...string) *kes.Client {
	t.Helper()
	cert, err := kes.GenerateCertificate(env.apiKey)
	if err != nil {
		t.Fatalf("kes.GenerateCertificate: %v", err)
	}
	conf := s.tlsConfig()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	c := kes.NewClientWithConfig("", conf)
	if len(endpoints) == 0 {
		endpoints = []string{s.endpoint}
	}
	c.Endpoints = endpoints
	return c
}

// Helpers for assertions.

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// kesrsOnly skips the rest of a test when the server is Go KES: the
// behaviour checked next is a deliberate kesrs difference (docs/compatibility.md).
func kesrsOnly(t *testing.T, difference string) {
	t.Helper()
	if kind == kindKes {
		t.Skipf("kind=kes: deliberate kesrs difference, asserted only against kesrs: %s", difference)
	}
}

// wantErrIs fails unless errors.Is(err, target), the way MinIO matches errors.
func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: want errors.Is(err, %s), got %s", what, describeErr(target), describeErr(err))
	}
}

// wantAPIError fails unless err is a kes.Error with this status and message.
func wantAPIError(t *testing.T, what string, err error, status int, msg string) {
	t.Helper()
	var e kes.Error
	if !errors.As(err, &e) || e.Status() != status || e.Error() != msg {
		t.Errorf("%s: want kes.Error %d %q, got %s", what, status, msg, describeErr(err))
	}
}

func describeErr(err error) string {
	if err == nil {
		return "no error"
	}
	var e kes.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("kes.Error{%d %q}", e.Status(), e.Error())
	}
	return fmt.Sprintf("%T %q", err, err.Error())
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %s", what, describeErr(err))
	}
}

// rawClient is a plain net/http client with the admin certificate, for the
// few wire details the kes client hides (redirects, status codes).
func (s *server) rawClient() *http.Client {
	conf := s.tlsConfig()
	conf.Certificates = []tls.Certificate{env.admin.cert}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: conf},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *server) rawDo(t *testing.T, method, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.endpoint+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hc := s.rawClient()
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err = buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, buf.Bytes()
}
