package query

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed ui
var uiFiles embed.FS

// OpenAPI is the query API's contract, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// uiHandler serves the operator page from the binary: no CDN, nothing
// fetched from elsewhere.
func uiHandler() http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nothing from elsewhere, and no framing by another site (the page
		// shows patient data: no clickjacking); the token typed in never
		// leaves in a Referer.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
