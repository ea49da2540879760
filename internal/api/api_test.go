package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeTokens(t *testing.T, path string, lines ...string) {
	t.Helper()
	// Through a rename, as an operator's tooling should: the service never
	// reads half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// loadTokens writes lines to a tokens file of its own and loads it.
func loadTokens(t *testing.T, lines ...string) (*Tokens, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	writeTokens(t, path, lines...)
	tk, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	return tk, path
}

// TestTokenLine: what TokenLine writes, LoadTokens reads back as the same
// principal, and the token itself is not in it.
func TestTokenLine(t *testing.T) {
	want := map[string]Principal{
		"secret-r":  {Tenant: "clinic-a", Subject: "auditor", Scopes: ScopeRead},
		"secret-w":  {Tenant: "clinic-a", Subject: "kiosk", Scopes: ScopeWrite},
		"secret-rw": {Tenant: "clinic-b", Subject: "dr-kim", Scopes: ScopeAll},
	}
	var content strings.Builder
	for token, who := range want {
		line := TokenLine(token, who.Tenant, who.Subject, who.Scopes)
		if strings.Contains(line, token) {
			t.Fatalf("the token is in its line: %q", line)
		}
		content.WriteString(line)
	}
	tk, _ := loadTokens(t, content.String())
	for token, who := range want {
		who.TokenID = TokenID(token)
		if got, ok := tk.Lookup(token); !ok || got != who {
			t.Errorf("%s: %+v %v, want %+v", token, got, ok, who)
		}
	}
}

// TestTokenScopes: the scope column is optional (both scopes), and read,
// write and read,write give what they say.
func TestTokenScopes(t *testing.T) {
	tk, _ := loadTokens(t,
		"# a comment",
		HashToken("legacy")+" clinic-a desk-1",
		HashToken("auditor")+" clinic-a auditor read",
		HashToken("kiosk")+" clinic-a kiosk write",
		"",
		HashToken("both")+" clinic-b dr-kim write,read")
	for token, want := range map[string]Principal{
		"legacy":  {Tenant: "clinic-a", Subject: "desk-1", Scopes: ScopeRead | ScopeWrite},
		"auditor": {Tenant: "clinic-a", Subject: "auditor", Scopes: ScopeRead},
		"kiosk":   {Tenant: "clinic-a", Subject: "kiosk", Scopes: ScopeWrite},
		"both":    {Tenant: "clinic-b", Subject: "dr-kim", Scopes: ScopeAll},
	} {
		want.TokenID = TokenID(token)
		if got, ok := tk.Lookup(token); !ok || got != want {
			t.Errorf("%s: %+v %v, want %+v", token, got, ok, want)
		}
	}
	if _, ok := tk.Lookup("nobody"); ok {
		t.Error("an unknown token was found")
	}
	for _, bad := range []string{
		HashToken("x") + " clinic-a desk-1 admin",
		HashToken("x") + " clinic-a desk-1 read,admin",
		HashToken("x") + " clinic-a desk-1 read write",
		HashToken("x") + " clinic-a",
		"abc clinic-a desk-1",
		HashToken("x") + " ../etc desk-1",
		HashToken("x") + " clinic-a desk-1\n" + HashToken("x") + " clinic-b other",
	} {
		if _, err := parseTokens(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		} else if strings.Contains(err.Error(), HashToken("x")) {
			t.Errorf("the error quotes the digest: %v", err)
		}
	}
}

// TestTokensReload: a revoked token stops working, and a changed scope
// applies, once the file is re-read; a broken file keeps the previous
// tokens in force.
func TestTokensReload(t *testing.T) {
	tk, path := loadTokens(t, HashToken("a")+" clinic-a desk-1", HashToken("b")+" clinic-a desk-2")
	if changed, err := tk.Reload(false); changed || err != nil {
		t.Fatalf("an unchanged file was re-read: %v %v", changed, err)
	}
	writeTokens(t, path, HashToken("a")+" clinic-a desk-1 read")
	if changed, err := tk.Reload(false); !changed || err != nil {
		t.Fatalf("the changed file was not re-read: %v %v", changed, err)
	}
	if _, ok := tk.Lookup("b"); ok {
		t.Fatal("the revoked token still works")
	}
	if who, _ := tk.Lookup("a"); who.Can(ScopeWrite) || !who.Can(ScopeRead) {
		t.Fatalf("scope change not applied: %+v", who)
	}
	writeTokens(t, path, "garbage")
	if _, err := tk.Reload(false); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a broken file reloaded: %v", err)
	}
	if _, ok := tk.Lookup("a"); !ok || tk.Len() != 1 {
		t.Fatal("a broken file replaced the tokens in force")
	}
}

// TestRequire: 401 without a valid token, 403 insufficient_scope without
// the scope, and the principal otherwise.
func TestRequire(t *testing.T) {
	tk, _ := loadTokens(t, HashToken("reader")+" clinic-a auditor read", HashToken("writer")+" clinic-a desk-1 write")
	for _, tt := range []struct {
		header string
		scope  Scope
		status int
		code   string
	}{
		{"", ScopeRead, 401, CodeUnauthorized},
		{"Bearer nope", ScopeRead, 401, CodeUnauthorized},
		{"Basic cmVhZGVy", ScopeRead, 401, CodeUnauthorized},
		{"Bearer reader", ScopeRead, 200, ""},
		{"BEARER reader", ScopeRead, 200, ""},
		{"Bearer reader", ScopeWrite, 403, CodeInsufficientScope},
		{"Bearer writer", ScopeRead, 403, CodeInsufficientScope},
		{"Bearer writer", ScopeWrite, 200, ""},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		who, ok := tk.Require(w, r, tt.scope)
		if tt.status == 200 {
			if !ok || who.Tenant != "clinic-a" {
				t.Errorf("%q %v: refused (%d)", tt.header, tt.scope, w.Code)
			}
			continue
		}
		var p Problem
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		if ok || w.Code != tt.status || p.Code != tt.code || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%q %v: %v %d %+v, want %d %s", tt.header, tt.scope, ok, w.Code, p, tt.status, tt.code)
		}
		if tt.status == 403 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("403 without RFC 6750's WWW-Authenticate: %q", w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestWaiters: the bound answers 503 too_many_waiting with Retry-After,
// and a released slot is free again.
func TestWaiters(t *testing.T) {
	l := NewWaiters(2)
	r1, ok1 := l.Acquire(httptest.NewRecorder())
	_, ok2 := l.Acquire(httptest.NewRecorder())
	w := httptest.NewRecorder()
	_, ok3 := l.Acquire(w)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquired %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), CodeTooManyWaiting) {
		t.Fatalf("over the bound: %d %v %s", w.Code, w.Header(), w.Body)
	}
	r1()
	if _, ok := l.Acquire(httptest.NewRecorder()); !ok || l.Waiting() != 2 {
		t.Fatal("a released slot was not free again")
	}
}

func TestParseIfMatch(t *testing.T) {
	for h, want := range map[string]int64{`"3"`: 3, `3`: 3, `W/"7"`: 7, `"0"`: 0, `"18446744073709551615"`: -2,
		`"3.1"`: -1, `*`: -1, `"1", "2"`: -1, `"-1"`: -1, `"+1"`: -1, `""`: -1, `"`: -1, `"3`: -1, `yesterday`: -1,
		`"18446744073709551616"`: -1, ` "3"`: -1} {
		v, ok := ParseIfMatch(h)
		switch {
		case want == -1 && ok:
			t.Errorf("%s: accepted as %d", h, v)
		case want == -2 && (!ok || v != 1<<64-1):
			t.Errorf("%s: %d %v", h, v, ok)
		case want >= 0 && (!ok || v != uint64(want)):
			t.Errorf("%s: %d %v, want %d", h, v, ok, want)
		}
	}
}

// FuzzParseIfMatch: never panics; what it accepts is a version that,
// written as Rewind writes ETags, reads back the same.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `3`, `W/"7"`, `*`, `"1", "2"`, `"3.1"`, `""`, `"`, "\"1\x00\"", `"18446744073709551616"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, ok := ParseIfMatch(h)
		if !ok {
			return
		}
		if back, ok := ParseIfMatch(`"` + strconv.FormatUint(v, 10) + `"`); !ok || back != v {
			t.Fatalf("%q: %d does not round-trip", h, v)
		}
		if strings.ContainsAny(h, ", *.-+\x00") {
			t.Fatalf("%q accepted as %d", h, v)
		}
	})
}

// FuzzParseBearer: never panics; an accepted token is a non-empty
// token68 of bounded length that reads back from its own header.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "BEARER   abc", "Bearer", "Bearer ", "Basic abc", "Bearer a b",
		"Bearer a\x00b", "Bearerabc", "Bearer " + strings.Repeat("a", 2000), "Bearer a=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		token, ok := ParseBearer(h)
		if !ok {
			return
		}
		if token == "" || len(token) > maxTokenLen || strings.ContainsAny(token, " \t\r\n\x00,;\"") {
			t.Fatalf("%q: accepted token %q", h, token)
		}
		if back, ok := ParseBearer("Bearer " + token); !ok || back != token {
			t.Fatalf("%q: token %q does not round-trip", h, token)
		}
	})
}

// FuzzTokensFile: never panics; an accepted file's tokens all have a
// tenant, a subject and at least one scope, and its errors never quote a
// digest.
func FuzzTokensFile(f *testing.F) {
	d := HashToken("t")
	for _, s := range []string{d + " clinic-a desk-1", d + " clinic-a desk-1 read", d + " clinic-a desk-1 read,write",
		"# comment\n\n" + d + " a b write", d + " a b ,", d + " a b read,", d + " a", "zz a b", d + " a b c d",
		d + " a b\n" + d + " a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		entries, err := parseTokens(strings.NewReader(file))
		if err != nil {
			for _, field := range strings.Fields(file) {
				if _, hexErr := hex.DecodeString(field); hexErr == nil && len(field) == 64 && strings.Contains(err.Error(), field) {
					t.Fatalf("error %q quotes the file", err)
				}
			}
			return
		}
		for _, e := range entries {
			if e.who.Tenant == "" || e.who.Subject == "" || e.who.Scopes == 0 || e.who.Scopes&^ScopeAll != 0 {
				t.Fatalf("%q: entry %+v", file, e.who)
			}
		}
	})
}
