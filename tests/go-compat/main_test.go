package gocompat

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if kind, serverBin, err = serverFromEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "go-compat: FAIL: %v\n", err)
		return 1
	}
	fmt.Printf("go-compat: server under test: kind=%s bin=%s\n", kind, serverBin)

	dir, err := os.MkdirTemp("", "go-compat-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-compat: FAIL: %v\n", err)
		return 1
	}
	if os.Getenv("GOCOMPAT_KEEP_TMP") != "" {
		fmt.Printf("go-compat: keeping %s (GOCOMPAT_KEEP_TMP)\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	if env, err = newTestEnv(dir); err != nil {
		fmt.Fprintf(os.Stderr, "go-compat: FAIL: certificates: %v\n", err)
		return 1
	}
	if srv, err = startServer("main", serverOptions{}); err != nil {
		fmt.Fprintf(os.Stderr, "go-compat: FAIL: %v\n", err)
		return 1
	}
	code := m.Run()
	srv.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "go-compat: last lines of the shared %s server's log:\n%s\n", kind, srv.logTail(30))
	}
	return code
}
