package node_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tillmesh/tillmesh/node"
)

// A sale parked at till 1 survives till 1's restart, is listed at the
// other tills, and is resumed once: of two tills resuming it at the same
// moment one gets it and the other is told where it went.
func TestParkedSaleResumedOnceAnywhere(t *testing.T) {
	s := newStore(t, 3)
	b := s.start(t, s.tills[1])
	c := s.start(t, s.tills[2], b.addr())
	a := s.start(t, s.tills[0], b.addr(), c.addr())
	seed(t, a, 4)
	seedStaff(t, a)
	for _, r := range []*runningTill{b, c} {
		waitFor(t, "staff and catalog on every till", func() bool {
			_, err1 := r.Authenticate(t.Context(), "2", "0000")
			_, err2 := r.Product(t.Context(), "10002")
			return err1 == nil && err2 == nil
		})
	}
	cat := node.DemoCatalog(4)
	ca := login(t, serveUI(t, a), "2", "0000")
	ca.fails(400, "nothing to park", "POST", "/api/parked", `{"name":"empty"}`)
	ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"sku":%q}`, cat[0].SKU))
	ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"sku":%q,"qty":3}`, cat[1].SKU))
	p := ca.must(201, "POST", "/api/parked", `{"name":"Mrs Jones, forgot the milk"}`)
	if p["id"] != "1-1" || n(p["total"]) != int64(cat[0].Price+3*cat[1].Price) || n(p["units"]) != 4 {
		t.Fatalf("parked: %v", p)
	}
	if cart := ca.must(200, "GET", "/api/cart", ""); len(cart["lines"].([]any)) != 0 {
		t.Fatalf("cart after parking: %v", cart)
	}
	ca.must(200, "POST", "/api/cart/lines", fmt.Sprintf(`{"sku":%q}`, cat[2].SKU))
	if p2 := ca.must(201, "POST", "/api/parked", `{}`); p2["id"] != "1-2" {
		t.Fatalf("second parked: %v", p2)
	}

	// Till 1 restarts: its parked sales are still there.
	a.stop()
	a = s.start(t, s.tills[0], b.addr(), c.addr())
	ub, uc := serveUI(t, b), serveUI(t, c)
	cb, cc := login(t, ub, "2", "0000"), login(t, uc, "2", "0000")
	waitFor(t, "till 2 lists both sales parked at till 1", func() bool {
		code, out := cb.do("GET", "/api/parked", "")
		if code != 200 {
			return false
		}
		ids := []string{}
		for _, s := range out["sales"].([]any) {
			ids = append(ids, s.(map[string]any)["id"].(string))
		}
		return strings.Join(ids, ",") == "1-1,1-2"
	})
	waitFor(t, "till 3 reaches till 1", func() bool {
		code, out := cc.do("GET", "/api/parked", "")
		return code == 200 && len(out["sales"].([]any)) == 2
	})
	cb.fails(400, "want <till>-<number>", "POST", "/api/parked/x/resume", `{"idempotency_key":"k0"}`)
	cb.fails(404, "no parked sale 1-99", "POST", "/api/parked/1-99/resume", `{"idempotency_key":"k0"}`)

	// Tills 2 and 3 resume 1-1 at the same moment.
	type answer struct {
		code int
		out  map[string]any
	}
	answers := make([]answer, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range []*web{cb, cc} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, out := w.do("POST", "/api/parked/1-1/resume", fmt.Sprintf(`{"idempotency_key":"resume-%d"}`, i))
			answers[i] = answer{code, out}
		}()
	}
	close(start)
	wg.Wait()
	won, lost := -1, -1
	for i, a := range answers {
		switch a.code {
		case 200:
			won = i
		case 409:
			lost = i
		}
	}
	if won < 0 || lost < 0 {
		t.Fatalf("two resumes at once: %+v, want one 200 and one 409", answers)
	}
	if msg := answers[lost].out["error"].(string); !strings.Contains(msg, fmt.Sprintf("already resumed at till %d", won+2)) {
		t.Fatalf("the loser is told %q", msg)
	}
	if ls := answers[won].out["lines"].([]any); len(ls) != 2 || n(ls[1].(map[string]any)["qty"]) != 3 {
		t.Fatalf("resumed cart: %v", answers[won].out)
	}
	// A retry with the winner's key gets the same sale; anyone else not.
	winner := []*runningTill{b, c}[won]
	if ps, err := winner.Resume(t.Context(), "1-1", fmt.Sprintf("resume-%d", won)); err != nil || len(ps.Lines) != 2 {
		t.Fatalf("retry of the winning resume: %v %v", ps, err)
	}
	if _, err := a.Resume(t.Context(), "1-1", "again"); err == nil || !strings.Contains(err.Error(), "already resumed") {
		t.Fatalf("resume at the owner after it went: %v", err)
	}
	code, out := cb.do("GET", "/api/parked", "")
	if code != 200 || len(out["sales"].([]any)) != 1 {
		t.Fatalf("parked list after the resume: %v", out)
	}
}

// fails sends a request that must fail with code and an error saying want.
func (w *web) fails(code int, want, method, path, body string) map[string]any {
	w.t.Helper()
	out := w.must(code, method, path, body)
	if msg, _ := out["error"].(string); !strings.Contains(msg, want) {
		w.t.Fatalf("%s %s: error %q does not say %q", method, path, msg, want)
	}
	return out
}
