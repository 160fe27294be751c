package main

import "testing"

// TestReleaseName: the linker's release wins; without it the build
// information names one, never an empty string.
func TestReleaseName(t *testing.T) {
	if got := releaseName(); got == "" {
		t.Fatal("empty release name")
	}
	release = "v1.2.3-4-gabcdef"
	defer func() { release = "" }()
	if got := releaseName(); got != "v1.2.3-4-gabcdef" {
		t.Fatalf("releaseName() = %q, want the -X value", got)
	}
}
