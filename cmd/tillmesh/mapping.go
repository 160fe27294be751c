package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropStartupText unmaps the resident pages of this process's own code
// and read-only data (madvise MADV_DONTNEED on the binary's read-only
// mappings), once, after a till has started. Start-up runs the init code
// of every linked package and opens the databases and the host, and each
// page fault there mapped the 16 pages around it (the kernel's
// fault-around), so ~23 MB of the 29 MB binary was resident when the till
// had started, while selling and syncing touch ~6 MB of it
// (BENCHMARKS.md, "Footprint"). The pages are clean and stay in the page
// cache: what runs again faults them back in as minor faults. A mapping
// that holds any anonymous (copied on write) page is left alone: dropping
// that would lose what was written. (A binary fresh from the linker shows
// its pages as Private_Dirty: dirty page cache, not copies, and safe.) It returns the
// bytes advised; it does nothing where /proc is missing.
func dropStartupText() (advised uint64) {
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	type mapping struct {
		start, end uint64
		written    bool
	}
	var maps []mapping
	var cur *mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header
			cur = nil
			if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
				continue
			}
			lo, hi, ok := strings.Cut(fields[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if !ok || err1 != nil || err2 != nil || end <= start {
				continue
			}
			maps = append(maps, mapping{start: start, end: end})
			cur = &maps[len(maps)-1]
			continue
		}
		if cur != nil && len(fields) >= 2 && fields[0] == "Anonymous:" && fields[1] != "0" {
			cur.written = true
		}
	}
	if sc.Err() != nil {
		return 0
	}
	for _, m := range maps {
		if m.written {
			continue
		}
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), syscall.MADV_DONTNEED)
		if errno == 0 {
			advised += m.end - m.start
		}
	}
	return advised
}
