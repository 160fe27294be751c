package testkit

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Guard checks what one package imports: its non-test files as the build
// sees them (Only, OnlyFrom) or everything it links, directly or not
// (Never). Every package's imports_test.go is a Guard.
type Guard struct {
	tb     testing.TB
	dir    string
	path   string
	direct []string
	deps   []string
}

// Imports reads the imports of the package in dir (relative to the test's
// package).
func Imports(tb testing.TB, dir string) *Guard {
	tb.Helper()
	pkg, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		tb.Fatalf("read package %s: %v", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	return &Guard{tb: tb, dir: dir, path: abs, direct: pkg.Imports}
}

// match reports whether path is p, or under p when p ends in "/...".
func match(path, p string) bool {
	if prefix, ok := strings.CutSuffix(p, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == p
}

func matchAny(path string, ps []string) bool {
	return slices.ContainsFunc(ps, func(p string) bool { return match(path, p) })
}

// Only fails for every direct import that is not in allowed (a path, or
// "prefix/..."): the whole list of what a pure package may use. why says
// what the rule keeps.
func (g *Guard) Only(why string, allowed ...string) {
	g.tb.Helper()
	g.OnlyFrom("", why, allowed...)
}

// Modules is the scope of OnlyFrom that holds every import outside the
// standard library (whose first path element has a dot).
const Modules = "."

// OnlyFrom is Only for the direct imports under scope ("" for all,
// Modules for all but the standard library): for example the module's
// packages a package may use, leaving other modules and the standard
// library free.
func (g *Guard) OnlyFrom(scope, why string, allowed ...string) {
	g.tb.Helper()
	for _, imp := range g.direct {
		first, _, _ := strings.Cut(imp, "/")
		in := scope == "" || (scope == Modules && strings.Contains(first, ".")) || match(imp, scope+"/...")
		if in && !matchAny(imp, allowed) {
			g.tb.Errorf("%s imports %s: %s", g.dir, imp, why)
		}
	}
}

// Never fails if the package links any of forbidden (a path, or
// "prefix/..."), directly or through another package: the dependency
// closure the linker sees (go list -deps). why says what the rule keeps.
func (g *Guard) Never(why string, forbidden ...string) {
	g.tb.Helper()
	if g.deps == nil {
		goBin, err := exec.LookPath("go")
		if err != nil {
			g.tb.Skip("go command not found")
		}
		cmd := exec.Command(goBin, "list", "-deps", ".")
		cmd.Dir = g.path
		out, err := cmd.Output()
		if err != nil {
			g.tb.Fatalf("go list -deps %s: %v", g.dir, err)
		}
		g.deps = strings.Fields(string(out))
	}
	for _, d := range g.deps {
		if matchAny(d, forbidden) {
			g.tb.Errorf("%s depends on %s: %s", g.dir, d, why)
		}
	}
}
