package gocompat

// A few wire details below the Go client: paths with dot segments never
// get around a policy, wrong methods and unknown paths answer as in KES.

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"testing"
	"time"
)

// appRawClient is a plain HTTP client with the app identity's certificate.
func (s *server) appRawClient(follow bool) *http.Client {
	conf := s.tlsConfig()
	conf.Certificates = []tls.Certificate{env.app.cert}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
	if !follow {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return hc
}

// TestDotSegmentsDoNotBypassPolicy: the app identity may generate with
// app-* keys only. A path that starts with /v1/key/generate/app- but
// resolves to another key must never generate with that key.
func TestDotSegmentsDoNotBypassPolicy(t *testing.T) {
	ctx := testCtx(t)
	must(t, "CreateKey", srv.adminClient().CreateKey(ctx, "dots-target"))
	for _, path := range []string{
		"/v1/key/generate/app-x/../dots-target",
		"/v1/key/generate/app-x/%2E%2E/dots-target",
		"/v1/key/generate/app-x%2F..%2Fdots-target",
		"/v1/key/generate/app-x/./../dots-target",
		"/v1/key/generate/app-x//../dots-target",
	} {
		for _, follow := range []bool{false, true} {
			hc := srv.appRawClient(follow)
			req, err := http.NewRequest(http.MethodPost, srv.endpoint+path, bytes.NewReader([]byte("{}")))
			must(t, "NewRequest", err)
			resp, err := hc.Do(req)
			hc.CloseIdleConnections()
			if err != nil {
				t.Logf("POST %s (follow redirects: %v): %v", path, follow, err)
				continue // a refused request is fine
			}
			resp.Body.Close()
			t.Logf("POST %s (follow redirects: %v): %d", path, follow, resp.StatusCode)
			if resp.StatusCode == http.StatusOK {
				t.Errorf("POST %s by the app identity (follow redirects: %v): got 200; the policy allows only app-* keys", path, follow)
			}
			if follow && resp.StatusCode < 400 {
				t.Errorf("POST %s by the app identity, redirects followed: want an error status, got %d", path, resp.StatusCode)
			}
		}
	}
}

func TestWrongMethodAndUnknownPath(t *testing.T) {
	resp, body := srv.rawDo(t, http.MethodGet, "/v1/key/create/wire-key", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Accept") != "PUT" ||
		string(body) != "{\"message\":\"received method 'GET' expected 'PUT'\"\n}" {
		t.Errorf("GET /v1/key/create/wire-key: want 405, Accept: PUT and the KES message, got %d Accept %q %q", resp.StatusCode, resp.Header.Get("Accept"), body)
	}
	resp, body = srv.rawDo(t, http.MethodDelete, "/v1/key/describe/wire-key", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Accept") != "GET" {
		t.Errorf("DELETE /v1/key/describe/wire-key: want 405 with Accept: GET, got %d Accept %q %q", resp.StatusCode, resp.Header.Get("Accept"), body)
	}
	// The declared method works as well as the POST the Go client sends.
	resp, body = srv.rawDo(t, http.MethodPut, "/v1/key/create/wire-key", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("PUT /v1/key/create/wire-key: want 200, got %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/v1/unknown", "/v1/status/", "/v1/identity/self/describe/"} {
		resp, body = srv.rawDo(t, http.MethodGet, p, nil)
		if resp.StatusCode != http.StatusNotFound || string(body) != "404 page not found\n" {
			t.Errorf("GET %s: want 404 \"404 page not found\\n\", got %d %q", p, resp.StatusCode, body)
		}
	}
	// An error body is exactly {"message":"..."\n} with application/json.
	resp, body = srv.rawDo(t, http.MethodGet, "/v1/key/describe/wire-missing", nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" ||
		string(body) != "{\"message\":\"key does not exist\"\n}" {
		t.Errorf("GET /v1/key/describe/wire-missing: want 404 application/json {\"message\":\"key does not exist\"\\n}, got %d %q %q",
			resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
