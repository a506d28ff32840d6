package gocompat

// DescribePolicy, GetPolicy, ListPolicies, DescribeIdentity, ListIdentities, DescribeSelf.

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/minio/kms-go/kes"
)

func ruleSet(patterns []string) map[string]kes.Rule {
	m := map[string]kes.Rule{}
	for _, p := range patterns {
		m[p] = kes.Rule{}
	}
	return m
}

func sameRules(got map[string]kes.Rule, want []string) bool {
	return slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(want)))
}

func TestPolicies(t *testing.T) {
	ctx := testCtx(t)
	c := srv.adminClient()

	info, err := c.DescribePolicy(ctx, "app")
	must(t, "DescribePolicy(app)", err)
	if info.Name != "app" || info.CreatedBy != env.admin.identity {
		t.Errorf("DescribePolicy(app): want name app, created_by the admin, got %+v", info)
	}
	if info.CreatedAt.IsZero() || info.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("DescribePolicy(app).CreatedAt: want the server's start time, got %v", info.CreatedAt)
	}

	pol, err := c.GetPolicy(ctx, "app")
	must(t, "GetPolicy(app)", err)
	if !sameRules(pol.Allow, appAllow) || !sameRules(pol.Deny, appDeny) {
		t.Errorf("GetPolicy(app): want allow %v deny %v, got allow %v deny %v", appAllow, appDeny, pol.Allow, pol.Deny)
	}
	if pol.CreatedBy != env.admin.identity || pol.CreatedAt.IsZero() {
		t.Errorf("GetPolicy(app): want created_by the admin and a created_at, got %v %v", pol.CreatedBy, pol.CreatedAt)
	}
	pol, err = c.GetPolicy(ctx, "nobody")
	must(t, "GetPolicy(nobody)", err)
	if !sameRules(pol.Allow, []string{"/v1/status"}) || len(pol.Deny) != 0 {
		t.Errorf("GetPolicy(nobody): want allow [/v1/status] and no deny, got %v %v", pol.Allow, pol.Deny)
	}

	_, err = c.DescribePolicy(ctx, "no-such-policy")
	wantErrIs(t, "DescribePolicy(missing)", err, kes.ErrPolicyNotFound)
	_, err = c.GetPolicy(ctx, "no-such-policy")
	wantErrIs(t, "GetPolicy(missing)", err, kes.ErrPolicyNotFound)
	_, err = c.DescribePolicy(ctx, "bad.name")
	wantAPIError(t, "DescribePolicy(bad.name)", err, http.StatusBadRequest, "policy name 'bad.name' is empty, too long or contains invalid characters")

	all := []string{"app", "minio", "nobody"}
	for pattern, want := range map[string][]string{
		"":      all,
		"*":     all,
		"mi*":   {"minio"},
		"no":    {"nobody"},
		"zzz":   {},
		"app*":  {"app"},
		"nobod": {"nobody"},
	} {
		names, cont, err := c.ListPolicies(ctx, pattern, -1)
		if err != nil {
			t.Errorf("ListPolicies(%q): %s", pattern, describeErr(err))
			continue
		}
		if !slices.Equal(names, want) || cont != "" {
			t.Errorf("ListPolicies(%q): want %v and continue_at \"\", got %v %q", pattern, want, names, cont)
		}
	}
	iter := kes.ListIter[string]{NextFunc: c.ListPolicies}
	var seen []string
	for n, err := iter.Next(ctx); err != io.EOF; n, err = iter.Next(ctx) {
		if err != nil {
			t.Fatalf("ListIter over policies: %s", describeErr(err))
		}
		seen = append(seen, n)
	}
	if !slices.Equal(seen, all) {
		t.Errorf("ListIter over policies: want %v, got %v", all, seen)
	}
}

func TestIdentities(t *testing.T) {
	ctx := testCtx(t)
	c := srv.adminClient()

	info, err := c.DescribeIdentity(ctx, env.admin.identity)
	must(t, "DescribeIdentity(admin)", err)
	if !info.IsAdmin || info.Policy != "" || info.Identity != env.admin.identity {
		t.Errorf("DescribeIdentity(admin): want admin without policy, got %+v", info)
	}
	for id, policy := range map[kes.Identity]string{env.app.identity: "app", env.apiID: "minio"} {
		info, err := c.DescribeIdentity(ctx, id)
		if err != nil {
			t.Errorf("DescribeIdentity(%s): %s", policy, describeErr(err))
			continue
		}
		if info.IsAdmin || info.Policy != policy || info.CreatedBy != env.admin.identity || info.CreatedAt.IsZero() {
			t.Errorf("DescribeIdentity(%s): want policy %s, created_by the admin, got %+v", policy, policy, info)
		}
	}
	_, err = c.DescribeIdentity(ctx, env.unknown.identity)
	wantErrIs(t, "DescribeIdentity(unknown)", err, kes.ErrIdentityNotFound)
	_, err = c.DescribeIdentity(ctx, "not.an.identity")
	wantAPIError(t, "DescribeIdentity(not.an.identity)", err, http.StatusBadRequest, "identity 'not.an.identity' is empty, too long or contains invalid characters")

	want := []kes.Identity{env.admin.identity, env.app.identity, env.apiID}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	ids, cont, err := c.ListIdentities(ctx, "", -1)
	must(t, "ListIdentities", err)
	if !slices.Equal(ids, want) || cont != "" {
		t.Errorf("ListIdentities: want %v (sorted, admin included) and continue_at \"\", got %v %q", want, ids, cont)
	}
	prefix := string(env.app.identity[:10])
	ids, _, err = c.ListIdentities(ctx, prefix+"*", -1)
	must(t, "ListIdentities(prefix*)", err)
	if !slices.Contains(ids, env.app.identity) || slices.Contains(ids, env.unknown.identity) {
		t.Errorf("ListIdentities(%s*): want the app identity, got %v", prefix, ids)
	}
	iter := kes.ListIter[kes.Identity]{NextFunc: c.ListIdentities}
	var seen []kes.Identity
	for id, err := iter.Next(ctx); err != io.EOF; id, err = iter.Next(ctx) {
		if err != nil {
			t.Fatalf("ListIter over identities: %s", describeErr(err))
		}
		seen = append(seen, id)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("ListIter over identities: want %v, got %v", want, seen)
	}
}

func TestDescribeSelf(t *testing.T) {
	ctx := testCtx(t)
	info, pol, err := srv.adminClient().DescribeSelf(ctx)
	must(t, "admin DescribeSelf", err)
	if info.Identity != env.admin.identity || !info.IsAdmin || info.Policy != "" {
		t.Errorf("admin DescribeSelf: want identity %s, admin, no policy; got %+v", env.admin.identity, info)
	}
	if len(pol.Allow) != 0 || len(pol.Deny) != 0 {
		t.Errorf("admin DescribeSelf: want no rules, got %+v", pol)
	}

	t.Run("PolicyIdentities", func(t *testing.T) {
		if kind == kindKes {
			_, _, err := srv.appClient().DescribeSelf(ctx)
			wantErrIs(t, "Go KES: app DescribeSelf (KES looks up the wrong identity)", err, kes.ErrIdentityNotFound)
		}
		kesrsOnly(t, "/v1/identity/self/describe describes non-admin callers (KES answers 404 for every non-admin)")
		for _, tc := range []struct {
			who         string
			c           *kes.Client
			id          kes.Identity
			policy      string
			allow, deny []string
		}{
			{"app", srv.appClient(), env.app.identity, "app", appAllow, appDeny},
			{"api key", srv.apiKeyClient(t), env.apiID, "minio", minioAllow, nil},
		} {
			info, pol, err := tc.c.DescribeSelf(ctx)
			if err != nil {
				t.Errorf("%s DescribeSelf: %s", tc.who, describeErr(err))
				continue
			}
			if info.Identity != tc.id || info.IsAdmin || info.Policy != tc.policy {
				t.Errorf("%s DescribeSelf: want identity %s, policy %s, not admin; got %+v", tc.who, tc.id, tc.policy, info)
			}
			if info.CreatedBy != env.admin.identity || info.CreatedAt.IsZero() {
				t.Errorf("%s DescribeSelf: want created_by the admin and a created_at, got %q %v", tc.who, info.CreatedBy, info.CreatedAt)
			}
			if !sameRules(pol.Allow, tc.allow) || !sameRules(pol.Deny, tc.deny) {
				t.Errorf("%s DescribeSelf: want allow %v deny %v, got allow %v deny %v", tc.who, tc.allow, tc.deny, pol.Allow, pol.Deny)
			}
		}
	})
}
