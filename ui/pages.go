package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

// The pages are plain HTML, CSS and JavaScript, embedded in the binary:
// no build step, nothing fetched from elsewhere (the CSP forbids it).
//
//go:embed web
var webFS embed.FS

func servePage(w http.ResponseWriter, r *http.Request) { servePageFile(w, "web/index.html") }

func servePageFile(w http.ResponseWriter, name string) {
	b, err := webFS.ReadFile(name)
	if err != nil {
		http.Error(w, "page missing from the build", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

func assetHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	files := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/assets/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
