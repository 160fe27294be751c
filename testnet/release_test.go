package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// prevRelease is the commit whose binary the rolling-upgrade scenario's
// tills start on: the first forward-compatible release (events of unknown
// kinds and fields kept, verified and relayed). Move it to the last
// release when a new one ships; the lead merges with merge commits, so
// the hash stays on main.
const prevRelease = "08a82daa6d8e6c1364a2a9e00e5c3f602cff76b5"

var releases struct {
	once     sync.Once
	old, new string
	err      error
}

// releaseBinaries builds, once per test binary, the previous release
// from prevRelease (git archive into a temporary directory, then go
// build) and this tree with -tags testnethooks (so an upgraded till can
// write a kind the previous release does not know).
func releaseBinaries(t *testing.T) (old, new string) {
	t.Helper()
	releases.once.Do(func() {
		dir, err := os.MkdirTemp("", "testnet-releases-")
		if err != nil {
			releases.err = err
			return
		}
		releases.old, releases.new, releases.err = buildReleases(dir, prevRelease)
	})
	if releases.err != nil {
		t.Fatal(releases.err)
	}
	return releases.old, releases.new
}

func buildReleases(dir, commit string) (old, new string, err error) {
	root, err := exec.Command("git", "-C", "..", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", "", fmt.Errorf("rolling-upgrade builds the previous release from git commit %s, but this tree is not a git checkout (or git is missing): %v", commit, err)
	}
	repo := strings.TrimSpace(string(root))
	if out, err := exec.Command("git", "-C", repo, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		shallow, _ := exec.Command("git", "-C", repo, "rev-parse", "--is-shallow-repository").Output()
		hint := ""
		if strings.TrimSpace(string(shallow)) == "true" {
			hint = " This is a shallow clone: run `git fetch --unshallow` (or clone with full history) and run the test again."
		}
		return "", "", fmt.Errorf("rolling-upgrade: the previous release, commit %s, is not in this clone.%s (%v: %s)", commit, hint, err, strings.TrimSpace(string(out)))
	}
	src := filepath.Join(dir, "prev-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	extract := exec.Command("bash", "-o", "pipefail", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "extract", repo, commit, src)
	if out, err := extract.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("git archive %s: %v\n%s", commit, err, out)
	}
	old = filepath.Join(dir, "tillmesh-prev")
	build := exec.Command("go", "build", "-trimpath", "-o", old, "./cmd/tillmesh")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build the previous release (%s): %v\n%s", commit, err, out)
	}
	new = filepath.Join(dir, "tillmesh-new")
	if out, err := exec.Command("go", "build", "-trimpath", "-tags", "testnethooks", "-o", new, "../cmd/tillmesh").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build this tree with -tags testnethooks: %v\n%s", err, out)
	}
	return old, new, nil
}

// TestMissingReleaseSaysSo: a clone without the pinned commit (a shallow
// one) fails the rolling-upgrade build with a message that names the
// commit and says it is missing, not a bare git error.
func TestMissingReleaseSaysSo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	_, _, err := buildReleases(t.TempDir(), "0123456789abcdef0123456789abcdef01234567")
	if err == nil || !strings.Contains(err.Error(), "0123456789abcdef0123456789abcdef01234567") ||
		!(strings.Contains(err.Error(), "is not in this clone") || strings.Contains(err.Error(), "not a git checkout")) {
		t.Fatalf("missing commit: %v", err)
	}
}
