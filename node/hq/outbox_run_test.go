package hq_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/node/outbox/fiscal"
	"github.com/tillmesh/tillmesh/node/outbox/outboxtest"
	"github.com/tillmesh/tillmesh/testnet/fiscalsim"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

// storeLedger is the store's merged ledger in the test.
type storeLedger struct {
	mu     sync.Mutex
	chains map[ledger.TillID][]*ledger.Event
}

func (l *storeLedger) add(ev *ledger.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.chains[ev.Till] = append(l.chains[ev.Till], ev)
}

func (l *storeLedger) Vector() ledger.Vector {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := ledger.Vector{}
	for t, c := range l.chains {
		v[t] = uint64(len(c))
	}
	return v
}

func (l *storeLedger) Range(till ledger.TillID, from uint64, f func(*ledger.Event) bool) error {
	l.mu.Lock()
	c := l.chains[till]
	l.mu.Unlock()
	for i := max(from, 1); i <= uint64(len(c)); i++ {
		if !f(c[i-1]) {
			return nil
		}
	}
	return nil
}

// TestOutboxMovesToHQAndBack: a store registers its receipts with the
// fiscal service (the simulator) from its relay. Halfway through the
// backlog HQ's staff move fiscal registration to HQ: the store stands
// down and hands over its cursor and records, HQ registers the rest from
// its copy of the store's ledger, keeps its cursor across a restart, and
// then hands the connector back. Every receipt is registered exactly
// once (no repeat, none skipped), on both storages.
func TestOutboxMovesToHQAndBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		sim := fiscalsim.NewSim()
		// The service takes 5 to 45 ms a receipt (slow enough that the
		// store is mid-drain when it hands over), and goes down in the
		// middle of the store's drain: from then on it answers 503 at
		// once, while the requests it already took (up to 16 in flight)
		// are registered, whether or not the store still waits for their
		// answers.
		var down atomic.Bool
		var n atomic.Int64
		fs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, `{"error":{"code":"maintenance","message":"down"}}`, http.StatusServiceUnavailable)
				return
			}
			time.Sleep(time.Duration(5+n.Add(7)%41) * time.Millisecond) // the service's work, not a wait for the test
			sim.Handler().ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
		}))
		defer fs.Close()
		sim.SetBase(fs.URL)
		settings := fiscal.Settings{URL: fs.URL, TIN: "201234567"}
		raw, _ := json.Marshal(settings)

		store := hqtest.NewStore(160, 2)
		place := b.place(t)
		st := openRaw(t, b.name, place)
		h := newHQ(t, st, store)
		hctx, hstop := context.WithCancel(t.Context())
		hdone := make(chan struct{})
		go func() { defer close(hdone); h.RunOutbox(hctx) }()
		srv := httptest.NewServer(h.Handler())
		defer func() { srv.Close() }()

		// The store: its ledger, uploaded to HQ as it grows, and its
		// outbox on its own replicated state.
		l := &storeLedger{chains: map[ledger.TillID][]*ledger.Event{}}
		k := int64(0)
		sell := func(n int) {
			var raws [][]byte
			for range n {
				till := store.Tills[k%2]
				ev := till.MustNext(ledgertest.Sale3(), day0+k)
				k++
				l.add(ev)
				raws = append(raws, ev.Bytes())
			}
			if _, err := h.Ingest(t.Context(), store.ID, store.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: store.EncodedCerts(), Events: raws}); err != nil {
				t.Fatal(err)
			}
		}
		sell(150)
		var active atomic.Bool
		active.Store(true)
		oc := outbox.DefaultConfig()
		oc.Connectors = []outbox.Connector{fiscal.NewWithProvider(mustHTTP(t, fs.URL), settings, 16)}
		oc.Ledger, oc.Store = l, outboxtest.NewMemStore()
		oc.Leader, oc.Active = func() bool { return true }, func(string) bool { return active.Load() }
		oc.Poll, oc.FlushEvery, oc.Batch, oc.Logger = 10*time.Millisecond, 10*time.Millisecond, 20, quiet()
		so, err := outbox.New(oc)
		if err != nil {
			t.Fatal(err)
		}
		sctx, sstop := context.WithCancel(t.Context())
		sdone := make(chan struct{})
		go func() { defer close(sdone); so.Run(sctx) }()
		defer func() { sstop(); <-sdone }()

		c := client(t, srv.URL, store, 0, nil)
		// report is the store's relay reporting its outbox; it stands
		// down, hands over and takes back as HQ's answer says.
		report := func(ho []hqapi.OutboxHandover, resumed []string) hqapi.OutboxAnswer {
			t.Helper()
			rep := &hqapi.OutboxReport{At: time.Now(), Connectors: []hqapi.OutboxConnector{}, DeadLetters: []hqapi.OutboxDeadLetter{},
				Handover: ho, Resumed: resumed}
			if !active.Load() {
				rep.AtHQ = []string{"fiscal"}
				rep.Settings = map[string]json.RawMessage{fiscal.SettingName: raw}
			}
			ans, err := c.PutOutbox(t.Context(), rep)
			if err != nil {
				t.Fatal(err)
			}
			return ans
		}
		wire := func(es []crdt.OutboxEntry) []hqapi.OutboxEntry {
			var out []hqapi.OutboxEntry
			for _, e := range es {
				out = append(out, hqapi.OutboxEntry{Kind: e.Kind, ID: e.ID, Value: e.Value})
			}
			return out
		}

		testkit.WaitFor(t, "the store halfway", 10*time.Second, func() bool { return sim.Stats().Registered >= 50 })
		down.Store(true)
		testkit.WaitFor(t, "the store finds the service down", 10*time.Second, func() bool {
			return strings.Contains(so.Status()[0].LastError, "503")
		})
		if ans := report(nil, nil); ans.At["fiscal"] != hqapi.OutboxAtStore || len(ans.Handover) != 0 {
			t.Fatalf("before the move: %+v", ans)
		}
		if err := h.SetOutboxPlacement(t.Context(), store.ID, "fiscal", "hq", "admin"); err != nil {
			t.Fatal(err)
		}
		ans := report(nil, nil)
		if ans.At["fiscal"] != hqapi.OutboxAtHQ || len(ans.Handover) != 1 {
			t.Fatalf("asked to move: %+v", ans)
		}
		active.Store(false) // the store stands down ...
		entries, err := so.Handover(t.Context(), "fiscal")
		if err != nil {
			t.Fatal(err)
		}
		atHandover := sim.Stats().Registered
		ans = report([]hqapi.OutboxHandover{{Connector: "fiscal", Entries: wire(entries)}}, nil) // ... and hands over
		if ans.At["fiscal"] != hqapi.OutboxAtHQ || len(ans.Handover) != 0 {
			t.Fatalf("after the handover: %+v", ans)
		}
		if at, _ := h.OutboxPlacements(t.Context(), store.ID); at["fiscal"] != "hq" {
			t.Fatalf("placement %v", at)
		}
		if atHandover >= 150 {
			t.Fatalf("the store registered everything (%d) before the move: nothing to test", atHandover)
		}
		down.Store(false)
		testkit.WaitFor(t, "HQ registers the rest", 20*time.Second, func() bool { return sim.Stats().Registered == 150 })
		if s := sim.Stats(); s.Duplicates != 0 {
			t.Fatalf("HQ sent %d receipts again that the service had registered for the store before the hand-over", s.Duplicates)
		}
		t.Logf("%+v", sim.Stats())
		sell(20) // the store sells on; HQ registers from what the relay uploads
		testkit.WaitFor(t, "HQ registers new sales", 20*time.Second, func() bool { return sim.Stats().Registered == 170 })

		t.Logf("%+v", sim.Stats())
		// HQ restarts: its cursor and placement are in its storage.
		hstop()
		<-hdone
		srv.Close()
		st.Close()
		st = openRaw(t, b.name, place)
		defer st.Close()
		h = newHQ(t, st)
		hctx, hstop = context.WithCancel(t.Context())
		hdone = make(chan struct{})
		go func() { defer close(hdone); h.RunOutbox(hctx) }()
		defer func() { hstop(); <-hdone }()
		srv = httptest.NewServer(h.Handler())
		c = client(t, srv.URL, store, 0, nil)
		sell(10)
		testkit.WaitFor(t, "HQ registers after its restart", 20*time.Second, func() bool { return sim.Stats().Registered == 180 })

		t.Logf("%+v", sim.Stats())
		// And back to the store.
		if err := h.SetOutboxPlacement(t.Context(), store.ID, "fiscal", "store", "admin"); err != nil {
			t.Fatal(err)
		}
		if err := h.SetOutboxPlacement(t.Context(), store.ID, "fiscal", "hq", "admin"); err == nil {
			t.Fatal("moved to HQ while being handed back")
		}
		ans = report(nil, nil)
		if ans.At["fiscal"] != hqapi.OutboxAtStore || len(ans.Resume) != 1 {
			t.Fatalf("handed back: %+v", ans)
		}
		var back []crdt.OutboxEntry
		for _, e := range ans.Resume[0].Entries {
			back = append(back, crdt.OutboxEntry{Connector: "fiscal", Kind: e.Kind, ID: e.ID, Value: e.Value})
		}
		if err := so.Import(t.Context(), "fiscal", back); err != nil {
			t.Fatal(err)
		}
		active.Store(true)
		if ans := report(nil, []string{"fiscal"}); ans.At["fiscal"] != hqapi.OutboxAtStore || len(ans.Resume) != 0 {
			t.Fatalf("resumed: %+v", ans)
		}
		t.Logf("%+v", sim.Stats())
		for range 10 {
			ev := store.Tills[k%2].MustNext(ledgertest.Sale3(), day0+k)
			k++
			l.add(ev) // not uploaded: the store alone registers it
		}
		so.Kick()
		testkit.WaitFor(t, "the store registers again", 20*time.Second, func() bool { return sim.Stats().Registered == 190 })
		testkit.WaitFor(t, "the store's backlog empty", 20*time.Second, func() bool {
			s := so.Status()[0]
			return s.Counted && s.Pending == 0
		})
		if s := sim.Stats(); s.Registered != 190 || s.Duplicates != 0 || s.Rejected != 0 {
			t.Fatalf("simulator %+v: want 190 registered once each", s)
		}
	})
}

func mustHTTP(t *testing.T, url string) fiscal.Provider {
	p, err := fiscal.NewHTTP(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openRaw opens a storage without the tests' close-once wrapper, which
// hides the outbox methods HQ looks for.
func openRaw(t *testing.T, backend, place string) hq.Storage {
	var st hq.Storage
	var err error
	if backend == "badger" {
		st, err = hq.OpenBadger(place, quiet())
	} else {
		st, err = hq.OpenPostgres(t.Context(), place, 4)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOutboxPlacementAPI: HQ's staff move a connector from the outbox
// page; a wrong connector or place is refused with the reason and
// changes nothing, an unknown store is 404; a move the store has not
// answered yet can be cancelled.
func TestOutboxPlacementAPI(t *testing.T) {
	store := hqtest.NewStore(170, 1)
	st := openRaw(t, "badger", t.TempDir())
	defer st.Close()
	h := newHQ(t, st, store)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	if err := h.SetPassword(t.Context(), "boss", "correct horse"); err != nil {
		t.Fatal(err)
	}
	hc := dashboardBrowser(t, srv.URL)
	resp, err := hc.Post(srv.URL+"/hq/api/login", "application/json", strings.NewReader(`{"user":"boss","password":"correct horse"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	var me struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	put := func(storeID, body string) (int, string) {
		req, _ := http.NewRequest("PUT", srv.URL+"/hq/api/stores/"+storeID+"/outbox/at", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", me.CSRF)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	id := store.ID.String()
	for _, c := range []struct {
		store, body string
		code        int
		words       string
	}{
		{id, `{"connector":"fax","at":"hq"}`, http.StatusConflict, "no connector"},
		{id, `{"connector":"fiscal","at":"moon"}`, http.StatusConflict, "moon"},
		{ledger.StoreID{9}.String(), `{"connector":"fiscal","at":"hq"}`, http.StatusNotFound, "unknown store"},
	} {
		if code, body := put(c.store, c.body); code != c.code || !strings.Contains(body, c.words) {
			t.Errorf("%s: %d %s, want %d naming %q", c.body, code, body, c.code, c.words)
		}
	}
	if at, _ := h.OutboxPlacements(t.Context(), store.ID); at["fiscal"] != "store" {
		t.Fatalf("placement after refusals: %v", at)
	}
	if code, body := put(id, `{"connector":"fiscal","at":"hq"}`); code != http.StatusOK || !strings.Contains(body, `"fiscal":"to-hq"`) {
		t.Fatalf("move: %d %s", code, body)
	}
	if code, body := put(id, `{"connector":"fiscal","at":"store"}`); code != http.StatusOK || !strings.Contains(body, `"fiscal":"store"`) {
		t.Fatalf("move cancelled before the store handed over: %d %s", code, body)
	}
}
