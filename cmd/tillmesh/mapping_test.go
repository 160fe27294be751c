package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// binaryResidentKB sums the resident set of this process's read-only
// mappings of its own executable.
func binaryResidentKB(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	defer f.Close()
	var kB int64
	ours := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			ours = len(fields) >= 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
			continue
		}
		if ours && fields[0] == "Rss:" {
			v, _ := strconv.ParseInt(fields[1], 10, 64)
			kB += v
		}
	}
	return kB
}

// TestDropStartupText: the drop unmaps the binary's resident code and
// read-only data, and the process runs on (what it touches comes back).
func TestDropStartupText(t *testing.T) {
	before := binaryResidentKB(t)
	advised := dropStartupText()
	after := binaryResidentKB(t)
	if advised == 0 {
		t.Fatal("nothing advised")
	}
	if after >= before {
		t.Errorf("binary resident %d kB before the drop, %d kB after", before, after)
	}
	// Code runs again after the drop: parse and format something.
	if got := strconv.Itoa(42) + strings.Repeat("x", 2); got != "42xx" {
		t.Errorf("got %q", got)
	}
	t.Logf("binary resident %d kB -> %d kB (%d kB advised)", before, after, advised>>10)
}
