package gocompat

// The kesrs CLI against the server under test: `kesrs key|policy|identity|status|metric` must work
// against Go KES as it does against kesrs (KES_SERVER_KIND=kes with KESRS_BIN set to the kesrs
// binary whose CLI is checked). What the CLI writes is checked with the Go client, so both sides of
// each exchange are independent of the CLI.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/kms-go/kes"
)

// cli runs `kesrs ARGS` against srv with the given credential flags.
type cli struct {
	t    *testing.T
	bin  string
	auth []string
}

func newCLI(t *testing.T, auth ...string) cli {
	t.Helper()
	bin := os.Getenv("KESRS_BIN")
	if bin == "" {
		t.Fatal("KESRS_BIN must name the kesrs binary whose CLI is checked")
	}
	return cli{t: t, bin: bin, auth: auth}
}

// run returns stdout, stderr and the exit code.
func (c cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	args = append(args, "--server", srv.endpoint, "--ca", filepath.Join(env.dir, "ca.crt"))
	cmd := exec.Command(c.bin, append(args, c.auth...)...)
	cmd.Env = []string{} // no KES_* or MINIO_* variables from the environment
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("kesrs %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// ok runs and requires exit code 0; it returns stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	stdout, stderr, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("kesrs %s: exit code %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// fails runs and requires the exit code the CLI documents for the error, and the error's text.
func (c cli) fails(code int, message string, args ...string) {
	c.t.Helper()
	_, stderr, got := c.run(args...)
	if got != code || !strings.Contains(stderr, message) {
		c.t.Errorf("kesrs %s: exit code %d, stderr %q; want %d and %q", strings.Join(args, " "), got, stderr, code, message)
	}
}

func (c cli) json(into any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), into); err != nil {
		c.t.Fatalf("kesrs %s --json: %v: %s", strings.Join(args, " "), err, out)
	}
}

func TestKesrsCLI(t *testing.T) {
	admin := newCLI(t, "--cert", env.admin.certFile, "--key", env.admin.keyFile)
	minio := newCLI(t, "--api-key", env.apiKey.String())
	goClient := srv.adminClient()
	ctx := testCtx(t)

	// Keys: the lifecycle, each step checked through the Go client.
	admin.ok("key", "create", "cli-a", "cli-b")
	admin.fails(5, "key already exists", "key", "create", "cli-a")
	var names []string
	admin.json(&names, "key", "ls", "cli-*")
	if !slices.Equal(names, []string{"cli-a", "cli-b"}) {
		t.Errorf("key ls cli-*: %v", names)
	}
	var info struct{ Name, Algorithm string }
	admin.json(&info, "key", "info", "cli-a")
	if info.Name != "cli-a" || info.Algorithm != "AES256" {
		t.Errorf("key info cli-a: %+v", info)
	}
	admin.fails(3, "key does not exist", "key", "info", "cli-missing")

	objectContext := minioContext(map[string]string{"bucket": "bucket/object"})
	var dek struct{ Plaintext, Ciphertext []byte }
	admin.json(&dek, "key", "dek", "cli-a", base64.StdEncoding.EncodeToString(objectContext))
	plaintext, err := goClient.Decrypt(ctx, "cli-a", dek.Ciphertext, objectContext)
	must(t, "Decrypt(the CLI's data key)", err)
	if !bytes.Equal(plaintext, dek.Plaintext) || len(plaintext) != 32 {
		t.Errorf("the CLI's data key decrypts to %x, want %x", plaintext, dek.Plaintext)
	}
	generated, err := goClient.GenerateKey(ctx, "cli-b", objectContext)
	must(t, "GenerateKey", err)
	var opened struct{ Plaintext []byte }
	admin.json(&opened, "key", "decrypt", "cli-b", base64.StdEncoding.EncodeToString(generated.Ciphertext),
		base64.StdEncoding.EncodeToString(objectContext))
	if !bytes.Equal(opened.Plaintext, generated.Plaintext) {
		t.Errorf("key decrypt of a Go client's ciphertext: %x, want %x", opened.Plaintext, generated.Plaintext)
	}
	admin.fails(6, "decryption failed", "key", "decrypt", "cli-b",
		base64.StdEncoding.EncodeToString(generated.Ciphertext), base64.StdEncoding.EncodeToString([]byte("{}")))
	var sealed struct{ Ciphertext []byte }
	admin.json(&sealed, "key", "encrypt", "cli-b", "hello")
	message, err := goClient.Decrypt(ctx, "cli-b", sealed.Ciphertext, nil)
	must(t, "Decrypt(the CLI's ciphertext)", err)
	if string(message) != "hello" {
		t.Errorf("the CLI's ciphertext decrypts to %q", message)
	}

	material := bytes.Repeat([]byte{7}, 32)
	admin.ok("key", "import", "cli-imported", base64.StdEncoding.EncodeToString(material))
	imported, err := goClient.Encrypt(ctx, "cli-imported", []byte("x"), nil)
	must(t, "Encrypt(an imported key)", err)
	if _, err := openLocal(material, kes.AES256, imported, nil); err != nil {
		t.Errorf("the imported key is not the material given: %v", err)
	}

	admin.ok("key", "rm", "cli-a", "cli-imported")
	_, err = goClient.DescribeKey(ctx, "cli-a")
	wantErrIs(t, "DescribeKey after key rm", err, kes.ErrKeyNotFound)

	// MinIO's credential, bound to policy "minio": data keys yes, deleting keys no.
	minio.ok("key", "dek", "cli-b")
	minio.fails(4, "not authorized", "key", "rm", "cli-b")

	// Policies and identities.
	var policies []string
	admin.json(&policies, "policy", "ls")
	for _, want := range []string{"app", "minio", "nobody"} {
		if !slices.Contains(policies, want) {
			t.Errorf("policy ls: %v, want %s among them", policies, want)
		}
	}
	var rules struct{ Allow, Deny []string }
	admin.json(&rules, "policy", "show", "app")
	if !sameSet(rules.Allow, appAllow) || !sameSet(rules.Deny, appDeny) {
		t.Errorf("policy show app: %+v", rules)
	}
	admin.fails(3, "policy does not exist", "policy", "info", "no-such-policy")
	var identity struct{ Policy string }
	admin.json(&identity, "identity", "info", env.app.identity.String())
	if identity.Policy != "app" {
		t.Errorf("identity info (app): policy %q", identity.Policy)
	}
	if ids := admin.ok("identity", "ls"); !strings.Contains(ids, env.apiID.String()) {
		t.Errorf("identity ls does not list MinIO's identity: %s", ids)
	}

	// Status and metrics.
	var status struct {
		KeystoreUnreachable bool `json:"keystore_unreachable"`
		API                 []any
	}
	admin.json(&status, "status", "--api")
	if status.KeystoreUnreachable || len(status.API) == 0 {
		t.Errorf("status --api: %+v", status)
	}
	if metrics := admin.ok("metric"); !strings.Contains(metrics, "kes_http_request_success") {
		t.Errorf("metric: %s", metrics)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
