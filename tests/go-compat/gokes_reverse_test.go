//go:build gokes

package gocompat

// Needs a Go KES binary, which the Go module proxy reachable from CI does not serve, so it is not part
// of the default suite (a test that skips is no test). Run it where one is at hand:
//
//	GOCOMPAT_GOKES_BIN=/path/to/kes KESRS_BIN=/path/to/kesrs go test -tags gokes -run TestKeysReadByGoKES

import (
	"os"
	"testing"
)

// TestKeysReadByGoKES: the reverse direction. Keys written by the server
// under test are read by Go KES from the same fs directory.
func TestKeysReadByGoKES(t *testing.T) {
	bin := os.Getenv("GOCOMPAT_GOKES_BIN")
	if bin == "" {
		t.Fatal("GOCOMPAT_GOKES_BIN must name a Go KES binary (this check runs only with -tags gokes)")
	}
	w := startTestServer(t, serverOptions{})
	set := produceFixtures(t, w, "rev")
	w.Stop()
	r := startTestServer(t, serverOptions{kind: kindKes, bin: bin, keysDir: w.keysDir})
	verifyFixtures(t, r, set)
}
