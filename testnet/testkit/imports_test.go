package testkit

import "testing"

// fakeTB records failures instead of failing.
type fakeTB struct {
	testing.TB
	errs []string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Errorf(string, ...any)     { f.errs = append(f.errs, "e") }
func (f *fakeTB) Fatalf(s string, a ...any) { panic(s) }

// TestGuard: the guard catches an import outside the list, one under a
// forbidden prefix however deep, and passes a package that keeps the
// rules. It reads this package itself.
func TestGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(g *Guard)
		fails bool
	}{
		{"allowed", func(g *Guard) {
			g.Only("", "go/build", "io", "log/slog", "os", "os/exec", "path/filepath", "slices", "strings", "testing", "time")
		}, false},
		{"not allowed", func(g *Guard) { g.Only("", "go/build") }, true},
		{"only from the module", func(g *Guard) { g.OnlyFrom("github.com/tillmesh/tillmesh", "") }, false},
		{"only from modules", func(g *Guard) { g.OnlyFrom(Modules, "") }, false},
		{"only from the standard library", func(g *Guard) { g.OnlyFrom("os", "", "os") }, true},
		{"prefix", func(g *Guard) {
			g.Only("", "go/...", "io/...", "log/...", "os/...", "path/...", "slices", "strings", "testing", "time")
		}, false},
		{"never, directly", func(g *Guard) { g.Never("", "os/exec") }, true},
		{"never, through another", func(g *Guard) { g.Never("", "internal/poll") }, true},
		{"never, absent", func(g *Guard) { g.Never("", "net/http/...", "github.com/tillmesh/tillmesh/node/...") }, false},
	} {
		f := &fakeTB{TB: t}
		tc.check(Imports(f, "."))
		if got := len(f.errs) > 0; got != tc.fails {
			t.Errorf("%s: failed %v, want %v", tc.name, got, tc.fails)
		}
	}
}
