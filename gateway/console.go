package gateway

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web console is plain HTML, CSS and JavaScript embedded in the
// binary (console/): no build step, no CDN, nothing fetched from the
// network. Its files hold no data, so they are served without a token;
// every byte of data the page shows comes from the /v1 routes, which
// need one (the session cookie the page signs in for). The page's policy
// lets it load only its own files and talk only to its own origin, and
// never be framed.

//go:embed console
var consoleFiles embed.FS

// ConsolePath is where the console is served.
const ConsolePath = "/console/"

const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func consoleHandler() http.Handler {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix(ConsolePath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consolePolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// mountConsole serves the console at ConsolePath and sends / there.
func (s *Server) mountConsole() {
	s.mux.Handle("GET "+ConsolePath, consoleHandler())
	s.mux.Handle("GET /{$}", http.RedirectHandler(ConsolePath, http.StatusSeeOther))
	s.mux.Handle("GET /console", http.RedirectHandler(ConsolePath, http.StatusSeeOther))
}
