package gocompat

// Version, IsReady, Status, APIs and Metrics.

import (
	"crypto/tls"
	"net/http"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

func TestVersion(t *testing.T) {
	ctx := testCtx(t)
	for name, c := range map[string]*kes.Client{
		"admin":   srv.adminClient(),
		"api key": srv.apiKeyClient(t),
		"unknown": srv.unknownClient(), // /version needs no policy
	} {
		v, err := c.Version(ctx)
		if err != nil {
			t.Errorf("%s: Version: %s", name, describeErr(err))
			continue
		}
		if v == "" {
			t.Errorf("%s: Version returned an empty version", name)
		}
	}
}

func TestIsReady(t *testing.T) {
	ctx := testCtx(t)
	ready, err := srv.adminClient().IsReady(ctx)
	if err != nil || !ready {
		t.Errorf("admin IsReady: want true, no error; got %v, %s", ready, describeErr(err))
	}
	// /v1/ready needs a policy that allows it; MinIO's does not.
	ready, err = srv.apiKeyClient(t).IsReady(ctx)
	if ready {
		t.Errorf("api key IsReady: want false (not allowed), got true")
	}
	wantErrIs(t, "api key IsReady", err, kes.ErrNotAllowed)
}

func TestStatus(t *testing.T) {
	ctx := testCtx(t)
	for name, c := range map[string]*kes.Client{"admin": srv.adminClient(), "api key (minio policy)": srv.apiKeyClient(t)} {
		st, err := c.Status(ctx)
		if err != nil {
			t.Errorf("%s: Status: %s", name, describeErr(err))
			continue
		}
		if st.Version == "" {
			t.Errorf("%s: Status.Version is empty", name)
		}
		if st.OS != runtime.GOOS || st.Arch != runtime.GOARCH {
			t.Errorf("%s: Status os/arch: want %s/%s (Go naming), got %q/%q", name, runtime.GOOS, runtime.GOARCH, st.OS, st.Arch)
		}
		if st.UpTime < 0 || st.UpTime > time.Hour {
			t.Errorf("%s: Status.UpTime: want between 0 and 1h, got %v", name, st.UpTime)
		}
		if st.CPUs <= 0 || st.UsableCPUs <= 0 {
			t.Errorf("%s: Status CPUs: want > 0, got num_cpu=%d num_cpu_used=%d", name, st.CPUs, st.UsableCPUs)
		}
		if !st.KeyStoreReachable || !st.KeystoreAvailable {
			t.Errorf("%s: Status: want the key store reachable and available, got reachable=%v available=%v",
				name, st.KeyStoreReachable, st.KeystoreAvailable)
		}
		if st.KeyStoreLatency <= 0 || st.KeyStoreLatency > 10*time.Second {
			t.Errorf("%s: Status.KeyStoreLatency: want in (0, 10s], got %v", name, st.KeyStoreLatency)
		}
	}
	_, err := srv.unknownClient().Status(ctx)
	wantErrIs(t, "unknown identity: Status", err, kes.ErrNotAllowed)
	_, err = srv.appClient().Status(ctx)
	wantErrIs(t, "app identity (no /v1/status in its policy): Status", err, kes.ErrNotAllowed)

	t.Run("LatencyInNanoseconds", func(t *testing.T) {
		st, err := srv.adminClient().Status(ctx)
		must(t, "Status", err)
		if kind == kindKes {
			// KES sends milliseconds (at least 1); the client reads nanoseconds.
			t.Logf("Go KES keystore_latency decoded as %v", st.KeyStoreLatency)
		}
		kesrsOnly(t, "keystore_latency is sent in nanoseconds (KES sends milliseconds, which the Go client reads as ns)")
		// A stat of a local directory plus bookkeeping takes far more than
		// 50 ns; a value that small means the server sent milliseconds.
		if st.KeyStoreLatency < 50*time.Nanosecond {
			t.Errorf("Status.KeyStoreLatency = %v: looks like milliseconds, want integer nanoseconds", st.KeyStoreLatency)
		}
	})
}

// The 22 routes of KES, with max_body and timeout (in whole seconds).
var wantAPIs = map[string]kes.API{
	"/version":                   {Method: "GET", MaxBody: 0, Timeout: 10 * time.Second},
	"/v1/ready":                  {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/status":                 {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/metrics":                {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/api":                    {Method: "GET", MaxBody: 0, Timeout: 10 * time.Second},
	"/v1/key/create/":            {Method: "PUT", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/key/import/":            {Method: "PUT", MaxBody: 1000000, Timeout: 15 * time.Second},
	"/v1/key/describe/":          {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/key/list/":              {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/key/delete/":            {Method: "DELETE", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/key/generate/":          {Method: "PUT", MaxBody: 1000000, Timeout: 15 * time.Second},
	"/v1/key/encrypt/":           {Method: "PUT", MaxBody: 1000000, Timeout: 15 * time.Second},
	"/v1/key/decrypt/":           {Method: "PUT", MaxBody: 1000000, Timeout: 15 * time.Second},
	"/v1/key/hmac/":              {Method: "PUT", MaxBody: 1000000, Timeout: 15 * time.Second},
	"/v1/policy/describe/":       {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/policy/read/":           {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/policy/list/":           {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/identity/describe/":     {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/identity/list/":         {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/identity/self/describe": {Method: "GET", MaxBody: 0, Timeout: 15 * time.Second},
	"/v1/log/error":              {Method: "GET", MaxBody: 0, Timeout: 0},
	"/v1/log/audit":              {Method: "GET", MaxBody: 0, Timeout: 0},
}

func TestAPIs(t *testing.T) {
	ctx := testCtx(t)
	apis, err := srv.apiKeyClient(t).APIs(ctx) // MinIO's /minio/kms/v1/apis passes this through
	must(t, "APIs", err)
	got := map[string]kes.API{}
	for _, a := range apis {
		if _, dup := got[a.Path]; dup {
			t.Errorf("APIs: path %q listed twice", a.Path)
		}
		got[a.Path] = a
	}
	var paths []string
	for p := range wantAPIs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		w := wantAPIs[p]
		g, ok := got[p]
		if !ok {
			t.Errorf("APIs: %s missing", p)
			continue
		}
		if g.Method != w.Method || g.MaxBody != w.MaxBody || g.Timeout != w.Timeout {
			t.Errorf("APIs: %s: want method=%s max_body=%d timeout=%v, got method=%s max_body=%d timeout=%v",
				p, w.Method, w.MaxBody, w.Timeout, g.Method, g.MaxBody, g.Timeout)
		}
	}
	for p := range got {
		if _, ok := wantAPIs[p]; !ok && p != "/v1/key/bulk/decrypt/" { // bulk decrypt: optional, old KES route
			t.Errorf("APIs: unexpected route %q (KES has exactly 22)", p)
		}
	}

	_, err = srv.unknownClient().APIs(ctx)
	wantErrIs(t, "unknown identity: APIs", err, kes.ErrNotAllowed)
}

func TestMetrics(t *testing.T) {
	ctx := testCtx(t)
	c := srv.adminClient()
	// Some traffic on the key routes, which the request counters cover: one
	// success (200) and one error (404).
	name := "metrics-key"
	must(t, "CreateKey", c.CreateKey(ctx, name))
	_, err := c.DescribeKey(ctx, "metrics-missing")
	wantErrIs(t, "DescribeKey(missing)", err, kes.ErrKeyNotFound)

	m, err := c.Metrics(ctx) // fails if a family has no sample or a gauge has several
	must(t, "Metrics", err)
	if m.RequestOK < 1 {
		t.Errorf("Metrics.RequestOK: want >= 1, got %d", m.RequestOK)
	}
	if m.RequestErr < 1 {
		t.Errorf("Metrics.RequestErr: want >= 1 (a 404 was served), got %d", m.RequestErr)
	}
	if m.CPUs <= 0 || m.UsableCPUs <= 0 {
		t.Errorf("Metrics CPUs: want > 0, got %d/%d", m.CPUs, m.UsableCPUs)
	}
	if len(m.LatencyHistogram) == 0 {
		t.Errorf("Metrics.LatencyHistogram: want buckets, got none")
	}
	for _, b := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond,
		3 * time.Second, 5 * time.Second, 10 * time.Second} {
		if _, ok := m.LatencyHistogram[b]; !ok {
			t.Errorf("Metrics.LatencyHistogram: bucket %v missing (have %v)", b, m.LatencyHistogram)
		}
	}
	if m.UpTime < 0 || m.UpTime > time.Hour {
		t.Errorf("Metrics.UpTime: want between 0 and 1h, got %v", m.UpTime)
	}

	m2, err := c.Metrics(ctx)
	must(t, "Metrics (second)", err)
	if m2.RequestN() < m.RequestN() {
		t.Errorf("Metrics: request count went down from %d to %d", m.RequestN(), m2.RequestN())
	}

	_, err = srv.unknownClient().Metrics(ctx)
	wantErrIs(t, "unknown identity: Metrics", err, kes.ErrNotAllowed)
}

// TestHTTPVersions: the Go client attempts HTTP/2 through ALPN and falls
// back to HTTP/1.1; both must work.
func TestHTTPVersions(t *testing.T) {
	for _, h2 := range []bool{true, false} {
		conf := srv.tlsConfig()
		conf.Certificates = []tls.Certificate{env.admin.cert}
		tr := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
		}
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := hc.Get(srv.endpoint + "/v1/status")
		if err != nil {
			t.Errorf("h2=%v: GET /v1/status: %v", h2, err)
			continue
		}
		resp.Body.Close()
		hc.CloseIdleConnections()
		wantMajor := map[bool]int{true: 2, false: 1}[h2]
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != wantMajor {
			t.Errorf("h2=%v: GET /v1/status: want 200 over HTTP/%d, got %d over %s", h2, wantMajor, resp.StatusCode, resp.Proto)
		}
	}
}
