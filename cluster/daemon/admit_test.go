package daemon

import (
	"strings"
	"testing"
	"time"

	"sw/cluster/pki"
	"sw/cluster/types"
)

func TestRoleForToken(t *testing.T) {
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	newToken := func(ca *pki.CA) string {
		t.Helper()
		s, err := pki.NewJoinToken(ca.Cert.Raw)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	worker, manager := newToken(ca), newToken(ca)
	c := &types.Cluster{ID: "c1", JoinTokens: types.JoinTokens{Worker: worker, Manager: manager}}

	parsed := func(s string) pki.Token {
		t.Helper()
		tok, err := pki.ParseJoinToken(s)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// The worker's secret under another CA's digest, and the other way round.
	otherDigest := pki.Token{Version: 1, Digest: other.Digest(), Secret: parsed(worker).Secret}.String()
	// Two current secrets glued: digest of the worker token, secret of the manager's.
	mixed := pki.Token{Version: 1, Digest: parsed(worker).Digest, Secret: parsed(manager).Secret}.String()

	cases := []struct {
		name    string
		cluster *types.Cluster
		token   string
		want    types.NodeRole
		wantErr bool
	}{
		{"worker token", c, worker, types.RoleWorker, false},
		{"manager token", c, manager, types.RoleManager, false},
		{"surrounding white space", c, "  " + manager + "\n", types.RoleManager, false},
		{"rotated (no longer current)", c, newToken(ca), "", true},
		{"token of another CA", c, newToken(other), "", true},
		{"current secret, other CA digest", c, otherDigest, "", true},
		{"same digest, manager secret", c, mixed, types.RoleManager, false},
		{"malformed", c, "SWMTKN-1-abc-def", "", true},
		{"wrong prefix", c, strings.Replace(worker, "SWMTKN", "SWMKEY", 1), "", true},
		{"secret one character off", c, worker[:len(worker)-1] + flip(worker[len(worker)-1]), "", true},
		{"empty", c, "", "", true},
		{"cluster without tokens", &types.Cluster{ID: "c1"}, worker, "", true},
		{"upper case", c, strings.ToUpper(worker), "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			role, err := roleForToken(tc.cluster, tc.token)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "invalid join token") {
					t.Fatalf("roleForToken = %q, %v; want an invalid join token error", role, err)
				}
				if role != "" {
					t.Fatalf("a refused token gave role %q", role)
				}
				if s := parsedSecret(tc.token); s != "" && strings.Contains(err.Error(), s) {
					t.Fatalf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil || role != tc.want {
				t.Fatalf("roleForToken = %q, %v; want %q", role, err, tc.want)
			}
		})
	}
}

// flip returns another base-36 digit.
func flip(b byte) string {
	if b == '0' {
		return "1"
	}
	return "0"
}

func parsedSecret(s string) string {
	tok, err := pki.ParseJoinToken(s)
	if err != nil {
		return ""
	}
	return tok.Secret
}

func TestRemoteAddr(t *testing.T) {
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{"10.0.0.1", "10.0.0.1:2377", false},
		{"10.0.0.1:4000", "10.0.0.1:4000", false},
		{"127.0.0.1:2377", "127.0.0.1:2377", false},
		{"::1", "[::1]:2377", false},
		{"[::1]:4000", "[::1]:4000", false},
		{"fe80::1", "[fe80::1]:2377", false},
		{"manager1", "", true},
		{"manager1:2377", "", true},
		{"localhost:2377", "", true},
		{"", "", true},
		{":2377", "", true},
		{"10.0.0.1:2377:1", "", true},
		{"[::1]", "", true},
	}
	for _, tc := range cases {
		got, err := remoteAddr(tc.in)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "want IP[:PORT]") {
				t.Errorf("remoteAddr(%q) = %q, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("remoteAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
