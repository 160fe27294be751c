package hq_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tillmesh/tillmesh/node/hq"
)

// A dashboard login made at one HQ process holds at another on the same
// database; after a logout, a process that had not seen it refuses it.
func TestDashboardSessionAcrossProcesses(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		place := b.place(t)
		st := b.open(t, place)
		another := func() hq.Storage { // Badger is one process per directory: share it
			if b.name == "badger" {
				return st
			}
			return b.open(t, place)
		}
		h1, h2 := newHQ(t, st), newHQ(t, another())
		if err := h1.SetPassword(t.Context(), "boss", "correct horse"); err != nil {
			t.Fatal(err)
		}
		s1, s2 := httptest.NewServer(h1.Handler()), httptest.NewServer(h2.Handler())
		t.Cleanup(s1.Close)
		t.Cleanup(s2.Close)
		body, _ := json.Marshal(map[string]string{"user": "boss", "password": "correct horse"})
		resp, err := http.Post(s1.URL+"/hq/api/login", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("login at process 1: %v %v", resp.Status, err)
		}
		var me struct {
			CSRF string `json:"csrf"`
		}
		json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Value != "" && c.HttpOnly && c.Name != "hq_client" {
				cookie = c
			}
		}
		if cookie == nil {
			t.Fatal("no session cookie")
		}
		call := func(url, method, path string) int {
			t.Helper()
			req, _ := http.NewRequest(method, url+path, nil)
			req.AddCookie(cookie)
			req.Header.Set("X-CSRF-Token", me.CSRF)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := call(s2.URL, "GET", "/hq/api/stores"); got != http.StatusOK {
			t.Fatalf("process 2 with process 1's login: %d, want 200", got)
		}
		if got := call(s1.URL, "POST", "/hq/api/logout"); got != http.StatusOK {
			t.Fatalf("logout: %d", got)
		}
		h3 := newHQ(t, another())
		s3 := httptest.NewServer(h3.Handler())
		t.Cleanup(s3.Close)
		if got := call(s3.URL, "GET", "/hq/api/stores"); got != http.StatusUnauthorized {
			t.Fatalf("a third process after the logout: %d, want 401", got)
		}
	})
}
