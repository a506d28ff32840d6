package gocompat

// The key store goes away (an unmounted volume): what the Go client decodes,
// and what MinIO would conclude. A dedicated server, so the others are unaffected.

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

func TestKeyStoreDown(t *testing.T) {
	s := startTestServer(t, serverOptions{})
	ctx := testCtx(t)
	admin, minio := s.adminClient(), s.minioClient(t)
	healthcheck := minioContext(map[string]string{"healthcheck": ""})

	const d, cold = "minio-default", "cold-key"
	if err := minioStartupHEAD(t, minio, d); err != nil {
		t.Fatal(err)
	}
	must(t, "CreateKey(cold)", admin.CreateKey(ctx, cold)) // created, never read: not cached
	if _, err := minio.GenerateKey(ctx, d, healthcheck); err != nil {
		t.Fatalf("readiness generate before the outage: %s", describeErr(err))
	}

	var errEvents <-chan kes.ErrorEvent
	logCtx, stopLog := context.WithCancel(context.Background())
	defer stopLog()
	if kind == kindKesrs {
		errEvents = subscribeErrors(logCtx, t, admin)
		time.Sleep(200 * time.Millisecond) // let the subscription take effect
	}

	gone := s.keysDir + ".unmounted"
	must(t, "rename the key store away", os.Rename(s.keysDir, gone))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := os.Rename(gone, s.keysDir); err != nil {
				t.Errorf("restore the key store: %v", err)
			}
		}
	}
	defer restore()

	t.Run("NotReady", func(t *testing.T) {
		ready, err := admin.IsReady(ctx)
		if ready {
			t.Errorf("IsReady: want false while the key store is gone")
		}
		wantAPIError(t, "IsReady", err, http.StatusGatewayTimeout, "key store is not reachable")
	})

	t.Run("ListFails", func(t *testing.T) {
		_, _, err := admin.ListKeys(ctx, "", -1)
		wantAPIError(t, "ListKeys", err, http.StatusBadGateway, "failed to list keys")
	})

	t.Run("StatusDecodes", func(t *testing.T) {
		st, err := minio.Status(ctx)
		if kind == kindKes {
			if err == nil || err.Error() != "kes: keystore is unreachable but not unavailable" {
				t.Errorf("Go KES: Status: want the client's decode error, got %v", err)
			}
			t.Logf("Go KES: Status() fails to decode (%v): MinIO shows the whole KES offline", err)
		}
		kesrsOnly(t, "/v1/status sends keystore_unavailable with keystore_unreachable, so the Go client decodes it")
		if err != nil {
			t.Fatalf("Status while the key store is gone: want it to decode, got %s", describeErr(err))
		}
		// MinIO (mc admin info) sees the server up and its key store unreachable.
		if st.KeyStoreReachable || st.KeystoreAvailable {
			t.Errorf("Status: want the key store unreachable and unavailable, got reachable=%v available=%v", st.KeyStoreReachable, st.KeystoreAvailable)
		}
		if st.KeyStoreLatency != 0 {
			t.Errorf("Status: want no key store latency while unreachable, got %v", st.KeyStoreLatency)
		}
		if st.Version == "" || st.CPUs <= 0 {
			t.Errorf("Status: want the server fields filled in, got %+v", st)
		}
	})

	t.Run("ColdKeyIsAnOutageNotMissing", func(t *testing.T) {
		_, err := minio.GenerateKey(ctx, cold, healthcheck)
		if kind == kindKes {
			t.Logf("Go KES: GenerateKey(cold key) with the store gone: %s", describeErr(err))
		}
		kesrsOnly(t, "an fs key store whose directory disappeared is unreachable, not empty (docs/compatibility.md, key stores)")
		// ErrKeyNotFound would make a starting MinIO create a new default
		// key; the readiness probe must fail with a server error instead.
		var e kes.Error
		if err == nil || errors.Is(err, kes.ErrKeyNotFound) || !errors.As(err, &e) || e.Status() < 500 {
			t.Errorf("GenerateKey(cold key) while the store is gone: want a 5xx error, not ErrKeyNotFound; got %s", describeErr(err))
		}
		err = minio.CreateKey(ctx, "created-while-down")
		if err == nil {
			t.Errorf("CreateKey while the store is gone: want an error, got success")
		}
		if _, serr := os.Stat(s.keysDir); serr == nil {
			t.Errorf("the server recreated the key store directory %s while it was gone", s.keysDir)
		}
	})

	t.Run("ErrorLog", func(t *testing.T) {
		kesrsOnly(t, "the error log streams events (KES's stream never sends one)")
		select {
		case ev, ok := <-errEvents:
			if !ok {
				t.Fatalf("error stream ended without an event")
			}
			if ev.Message == "" {
				t.Errorf("error event with an empty message")
			}
			t.Logf("error event: %q", ev.Message)
		case <-time.After(10 * time.Second):
			t.Errorf("no error event within 10s of the key store failures")
		}
	})
	stopLog()

	restore()
	t.Run("Recovers", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			ready, _ := admin.IsReady(ctx)
			if ready {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("IsReady still false 15s after the key store came back")
			}
			time.Sleep(250 * time.Millisecond)
		}
		st, err := minio.Status(ctx)
		if err != nil || !st.KeyStoreReachable {
			t.Errorf("Status after recovery: want reachable, got %+v %s", st, describeErr(err))
		}
		if _, err := minio.GenerateKey(ctx, cold, healthcheck); err != nil {
			t.Errorf("GenerateKey(cold key) after recovery: %s", describeErr(err))
		}
		if _, err := minio.DescribeKey(ctx, "created-while-down"); !errors.Is(err, kes.ErrKeyNotFound) && kind == kindKesrs {
			t.Errorf("DescribeKey(created-while-down): want ErrKeyNotFound, got %s", describeErr(err))
		}
	})
}
