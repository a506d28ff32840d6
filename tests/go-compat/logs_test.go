package gocompat

// AuditLog and ErrorLog streams. KES's streams never send an event (its
// metrics wrapper discards the writes); kesrs streams real events, and the
// audit log covers every request.

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

// A logStream is what the Go client's AuditLog and ErrorLog return.
type logStream[E any] interface {
	Next() bool
	Event() E
	Close() error
}

// subscribe opens a log stream (c.AuditLog or c.ErrorLog, named by what) in the
// background, so that a server that sends the response headers only with the
// first event does not block the test, and forwards its events to the returned
// channel.
func subscribe[E any, S logStream[E]](ctx context.Context, t *testing.T, what string, open func(context.Context) (S, error)) <-chan E {
	ch := make(chan E, 256)
	go func() {
		defer close(ch)
		stream, err := open(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("%s: %s", what, describeErr(err))
			}
			return
		}
		defer stream.Close()
		for stream.Next() {
			select {
			case ch <- stream.Event():
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func subscribeAudit(ctx context.Context, t *testing.T, c *kes.Client) <-chan kes.AuditEvent {
	return subscribe[kes.AuditEvent](ctx, t, "AuditLog", c.AuditLog)
}

func subscribeErrors(ctx context.Context, t *testing.T, c *kes.Client) <-chan kes.ErrorEvent {
	return subscribe[kes.ErrorEvent](ctx, t, "ErrorLog", c.ErrorLog)
}

func TestAuditLog(t *testing.T) {
	kesrsOnly(t, "the audit log streams an event for every request (KES's stream never sends one)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := srv.adminClient()
	must(t, "CreateKey", admin.CreateKey(ctx, "audit-key"))
	events := subscribeAudit(ctx, t, admin)

	c, unknown := srv.apiKeyClient(t), srv.unknownClient()
	type call struct {
		path string
		id   kes.Identity
	}
	// Every request is audited: successes, errors and refusals.
	want := map[call]int{
		{"/v1/key/describe/audit-key", env.apiID}:            200,
		{"/v1/key/describe/audit-missing", env.apiID}:        404,
		{"/v1/key/describe/audit-key", env.unknown.identity}: 403,
	}
	fire := func() {
		_, _ = c.DescribeKey(ctx, "audit-key")
		_, _ = c.DescribeKey(ctx, "audit-missing")
		_, _ = unknown.DescribeKey(ctx, "audit-key")
	}
	// The subscription may take effect after the first requests, so repeat
	// them until their events arrive.
	fire()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	found := map[call]bool{}
	for len(found) < len(want) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("audit stream ended; events seen for %v, want %v", found, want)
			}
			k := call{ev.APIPath, ev.ClientIdentity}
			code, mine := want[k]
			if !mine {
				continue
			}
			found[k] = true
			if ev.StatusCode != code {
				t.Errorf("audit event %v: status: want %d, got %d", k, code, ev.StatusCode)
			}
			if !ev.ClientIP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("audit event %v: client IP: want 127.0.0.1, got %v", k, ev.ClientIP)
			}
			if d := time.Since(ev.Timestamp); d < -time.Minute || d > time.Minute {
				t.Errorf("audit event %v: time %v is not about now", k, ev.Timestamp)
			}
			// The client reads the response time as a Go Duration (ns); a
			// request takes far more than 1µs, and less than 10s.
			if ev.ResponseTime < time.Microsecond || ev.ResponseTime > 10*time.Second {
				t.Errorf("audit event %v: response time %v: want integer nanoseconds in [1µs, 10s]", k, ev.ResponseTime)
			}
		case <-tick.C:
			fire()
		case <-ctx.Done():
			t.Fatalf("no audit events for %v within 20s (seen: %v)", want, found)
		}
	}
}

// The error log is checked in TestKeyStoreDown, where the key store fails.
