package api

import (
	"net/http"
	"strings"
)

// Authenticate resolves the request's bearer token. On failure it has
// already answered 401 and returns ok false.
func (t *Tokens) Authenticate(w http.ResponseWriter, r *http.Request) (who Principal, ok bool) {
	token, hasBearer := ParseBearer(r.Header.Get("Authorization"))
	who, known := t.Lookup(token)
	if !hasBearer || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rewind"`)
		WriteProblem(w, CodeUnauthorized, "a valid bearer token is required")
		return Principal{}, false
	}
	return who, true
}

// Require authenticates the request and checks that its token holds
// scope. On failure it has already answered (401, or 403
// insufficient_scope as RFC 6750 names it) and returns ok false.
func (t *Tokens) Require(w http.ResponseWriter, r *http.Request, scope Scope) (who Principal, ok bool) {
	who, ok = t.Authenticate(w, r)
	if !ok {
		return Principal{}, false
	}
	if !who.Can(scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rewind", error="insufficient_scope", scope="`+scope.String()+`"`)
		WriteProblem(w, CodeInsufficientScope, "this token lacks the "+scope.String()+" scope this service requires")
		return Principal{}, false
	}
	return who, true
}

// maxTokenLen bounds a bearer token: Rewind's are 48 characters; a
// megabyte of "token" is not one.
const maxTokenLen = 1024

// ParseBearer reads an Authorization header of the Bearer scheme (RFC
// 6750 §2.1; the scheme name is case-insensitive). The token is one
// token68: no spaces, no control characters.
func ParseBearer(h string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(rest, " ")
	if token == "" || len(token) > maxTokenLen {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if !isToken68(token[i]) {
			return "", false
		}
	}
	return token, true
}

// isToken68 reports whether c may appear in an RFC 7235 token68.
func isToken68(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/=", c) >= 0
}
