package hq_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// twoPostgresHQs starts two HQ processes on one PostgreSQL database, as
// behind a load balancer, with one clock, and returns their URLs.
func twoPostgresHQs(t *testing.T, clk *hqClock, store *hqtest.Store) (a, b string) {
	t.Helper()
	dsn := backends[1].place(t)
	var urls []string
	for i := range 2 {
		st, err := hq.OpenPostgres(t.Context(), dsn, 4) // not wrapped: HQ finds its shared guards
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg := hq.DefaultConfig()
		cfg.Storage, cfg.Logger, cfg.Now = st, quiet(), clk.now
		h, err := hq.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := h.SetPassword(t.Context(), "boss", "correct horse"); err != nil {
				t.Fatal(err)
			}
			if err := h.RegisterStore(t.Context(), store.ID, store.Name, store.CAPublic()); err != nil {
				t.Fatal(err)
			}
		}
		srv := httptest.NewServer(h.Handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls[0], urls[1]
}

// The login back-off holds across HQ processes on one PostgreSQL
// database: wrong passwords raced at both from one browser are checked
// 5 times in all, not 5 times at each, and the wait they set is kept at
// the other process too; a right password clears it at either.
func TestLoginBackoffAcrossHQProcesses(t *testing.T) {
	clk := &hqClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	a, b := twoPostgresHQs(t, clk, hqtest.NewStore(90, 1))
	browser := dashboardBrowser(t, a) // one client cookie: cookies do not tell ports apart
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for i := range 24 {
		url := []string{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, _ := hqLogin(browser, url, "boss", fmt.Sprintf("guess-%d", i))
			mu.Lock()
			got[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if got[http.StatusUnauthorized] != 5 || got[http.StatusTooManyRequests] != 19 {
		t.Fatalf("24 wrong passwords raced at two processes: %v, want 5 checked (401) and 19 refused (429)", got)
	}
	for _, url := range []string{a, b} {
		if code, retry := hqLogin(browser, url, "boss", "correct horse"); code != http.StatusTooManyRequests || retry == "" {
			t.Errorf("right password during the wait at %s: %d (Retry-After %q), want 429", url, code, retry)
		}
	}
	clk.add(6 * time.Second) // the first wait is 5 s
	if code, _ := hqLogin(browser, b, "boss", "correct horse"); code != http.StatusOK {
		t.Fatalf("right password after the wait at the other process: %d, want 200", code)
	}
	// The success cleared this browser's keys everywhere.
	if code, _ := hqLogin(browser, a, "boss", "wrong again"); code != http.StatusUnauthorized {
		t.Errorf("a wrong password after a success: %d, want 401 (checked)", code)
	}
}

// A signed relay request replayed at another HQ process on the same
// PostgreSQL database is refused there, as at the process that saw it.
func TestReplayRefusedAtOtherHQProcess(t *testing.T) {
	clk := &hqClock{t: time.Now()}
	store := hqtest.NewStore(92, 1)
	a, b := twoPostgresHQs(t, clk, store)
	req, _ := http.NewRequest(http.MethodGet, a+hqapi.VectorPath(store.ID), nil)
	hqapi.Sign(req, store.Tills[0].Key, store.EncodedCerts()[0], nil, clk.now().UnixMilli())
	send := func(url string) int {
		r := req.Clone(context.Background())
		r.URL.Host, r.Host = url[len("http://"):], ""
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(a); code != http.StatusOK {
		t.Fatalf("first request: %d, want 200", code)
	}
	if code := send(b); code != http.StatusUnauthorized {
		t.Errorf("the same request at the other process: %d, want 401 (replay)", code)
	}
	if code := send(a); code != http.StatusUnauthorized {
		t.Errorf("the same request again at the first: %d, want 401 (replay)", code)
	}
}
