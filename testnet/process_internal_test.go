package testnet

import (
	"slices"
	"testing"
)

// A till process runs on the scenario's flags alone: no TILLMESH_*
// variable of the caller's and no configuration file reach it.
func TestChildEnvDropsTillmeshSettings(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "TILLMESH_HTTP=0.0.0.0:80", "TILLMESH_CONFIG=/etc/tillmesh/till.conf", "HOME=/root", "XTILLMESH_KEEP=1"})
	want := []string{"PATH=/bin", "HOME=/root", "XTILLMESH_KEEP=1", "TILLMESH_CONFIG="}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
}

// The measuring variables reach the tills: they only make a till write
// reports of itself.
func TestChildEnvKeepsMeasuringVariables(t *testing.T) {
	got := childEnv([]string{"TILLMESH_MEM_REPORT=/tmp/mem-%p", "TILLMESH_HTTP=0.0.0.0:80", "TILLMESH_CPU_PROFILE=/tmp/cpu-%p"})
	want := []string{"TILLMESH_MEM_REPORT=/tmp/mem-%p", "TILLMESH_CPU_PROFILE=/tmp/cpu-%p", "TILLMESH_CONFIG="}
	if !slices.Equal(got, want) {
		t.Fatalf("childEnv = %q, want %q", got, want)
	}
}

// FreePort never gives one port twice in a process: a till binds its
// ports only when it starts, so a second call before that could get the
// same one and one of the two tills could not listen.
func TestFreePortGivesEachPortOnce(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d given twice", p)
		}
		seen[p] = true
	}
}
