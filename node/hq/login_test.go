package hq_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq"
)

type hqClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *hqClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *hqClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dashboardBrowser is a cookie jar that has loaded the dashboard (and so
// holds its client cookie).
func dashboardBrowser(t *testing.T, url string) *http.Client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return hc
}

func hqLogin(hc *http.Client, url, user, password string) (int, string) {
	resp, err := hc.Post(url+"/hq/api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"user":%q,"password":%q}`, user, password)))
	if err != nil {
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestAdminLoginBurst is findings 1 and 2 at HQ: 40 concurrent wrong
// passwords were all checked, and the admin was then locked out for 21
// minutes. Now one client gets 5 checks whatever the concurrency, many
// clients together 20, and the admin from their own browser waits at
// most 10 s.
func TestAdminLoginBurst(t *testing.T) {
	clk := &hqClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	cfg := hq.DefaultConfig()
	cfg.Storage, cfg.Logger, cfg.Now = backends[0].open(t, backends[0].place(t)), quiet(), clk.now
	h, err := hq.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetPassword(context.Background(), "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)

	run := func(clients []*http.Client) map[int]int {
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[int]int{}
		for i, hc := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				code, _ := hqLogin(hc, srv.URL, "boss", fmt.Sprintf("guess-%d", i))
				mu.Lock()
				got[code]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		return got
	}
	one := dashboardBrowser(t, srv.URL)
	same := make([]*http.Client, 40)
	for i := range same {
		same[i] = one
	}
	if got := run(same); got[http.StatusUnauthorized] > 5 || got[http.StatusTooManyRequests] < 35 {
		t.Fatalf("40 concurrent wrong passwords from one browser: %v, want at most 5 checked (401)", got)
	}
	clk.add(time.Hour) // forget
	many := make([]*http.Client, 60)
	for i := range many {
		many[i] = dashboardBrowser(t, srv.URL)
	}
	if got := run(many); got[http.StatusUnauthorized] > 20 {
		t.Fatalf("60 browsers at once: %v, want at most 20 checked", got)
	}
	admin := dashboardBrowser(t, srv.URL)
	code, retry := hqLogin(admin, srv.URL, "boss", "correct horse")
	if code == http.StatusTooManyRequests {
		wait, _ := strconv.Atoi(retry)
		if wait < 1 || wait > 10 {
			t.Fatalf("admin told to wait %q s, want 1..10", retry)
		}
		clk.add(time.Duration(wait) * time.Second)
		code, _ = hqLogin(admin, srv.URL, "boss", "correct horse")
	}
	if code != http.StatusOK {
		t.Fatalf("admin login after the burst: %d, want 200", code)
	}
	if code, _ := hqLogin(one, srv.URL, "boss", "correct horse"); code != http.StatusOK {
		t.Fatalf("the first browser an hour later: %d", code)
	}
}
