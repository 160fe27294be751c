package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/node/outbox"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

var placeholder = regexp.MustCompile(`\{([a-z_][a-z0-9_]*)\}`)

// tillCatalogs reads the till's catalogs, language -> key -> message.
func tillCatalogs(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, l := range []string{"en", "ru", "uz"} {
		b, err := os.ReadFile(filepath.Join("..", "ui", "i18n", "catalog", "till."+l+".json"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("till.%s.json: %v", l, err)
		}
		out[l] = m
	}
	return out
}

func placeholdersOf(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestStatusNoteKeysInEveryCatalog fails when a status problem's key is
// missing from a language, or a translation names other placeholders
// than the English message.
func TestStatusNoteKeysInEveryCatalog(t *testing.T) {
	cats := tillCatalogs(t)
	for _, k := range ui.NoteKeys {
		en, ok := cats["en"][k]
		if !ok {
			t.Errorf("till.en.json lacks %q", k)
			continue
		}
		for _, l := range []string{"ru", "uz"} {
			v, ok := cats[l][k]
			if !ok {
				t.Errorf("till.%s.json lacks %q", l, k)
				continue
			}
			if got, want := placeholdersOf(v), placeholdersOf(en); !slices.Equal(got, want) {
				t.Errorf("till.%s.json %q has placeholders %v, English %v", l, k, got, want)
			}
			if l == "uz" && strings.ContainsAny(v, "'‘’`") {
				t.Errorf("till.uz.json %q: write oʻ/gʻ with ʻ (U+02BB): %q", k, v)
			}
		}
	}
}

// TestNodeStatusNotesUseKnownKeys reads node's code: every problem it
// adds to the status is a ui.Note whose key is one of ui.NoteKeys, the
// plain Problems list is not appended to directly, and every key is
// used.
func TestNodeStatusNotesUseKnownKeys(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`ui\.(Note[A-Z][A-Za-z]*)\b`)
	consts := map[string]string{}
	for _, k := range ui.NoteKeys {
		consts[k] = ""
	}
	names := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if strings.Contains(src, "st.Problems = append(") {
			t.Errorf("%s appends to Status.Problems directly: use Status.AddProblem with a ui.Note key", f)
		}
		for _, m := range ref.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
	}
	keyOf := map[string]string{
		"NoteNewerEvents": ui.NoteNewerEvents, "NoteNewerInventory": ui.NoteNewerInventory, "NoteRestoring": ui.NoteRestoring,
		"NoteRestoreRefilled": ui.NoteRestoreRefilled, "NoteRestoreUnreadable": ui.NoteRestoreUnreadable,
		"NoteRestoreNoSnapshot": ui.NoteRestoreNoSnapshot, "NoteRestored": ui.NoteRestored, "NoteRestoredStopped": ui.NoteRestoredStopped,
		"NoteDamagedRecord": ui.NoteDamagedRecord, "NoteDevice": ui.NoteDevice, "NotePrinterWaiting": ui.NotePrinterWaiting,
		"NotePrinterHeld": ui.NotePrinterHeld, "NoteRevokedTill": ui.NoteRevokedTill, "NoteRevokedSelf": ui.NoteRevokedSelf,
		"NoteRevokedRefused": ui.NoteRevokedRefused, "NoteRevokedSelfRef": ui.NoteRevokedSelfRef, "NoteDeadLetters": ui.NoteDeadLetters,
	}
	if len(keyOf) != len(ui.NoteKeys) {
		t.Fatalf("ui.NoteKeys has %d keys, this test knows %d: add the new one here", len(ui.NoteKeys), len(keyOf))
	}
	for name, key := range keyOf {
		if !slices.Contains(ui.NoteKeys, key) {
			t.Errorf("ui.%s (%q) is not in ui.NoteKeys", name, key)
		}
		if !names[name] {
			t.Errorf("ui.%s is used by no status problem in node", name)
		}
	}
	for name := range names {
		if name != "NoteKeys" && keyOf[name] == "" {
			t.Errorf("node uses ui.%s, which this test does not know", name)
		}
	}
}

// TestHardwareNoteKeys checks the hardware banner becomes a note whose
// key is in the catalogs, whose args fill every placeholder, and whose
// text is hw's banner unchanged.
func TestHardwareNoteKeys(t *testing.T) {
	cats := tillCatalogs(t)
	printerErr := hw.DeviceState{Name: "tm-t20", Kind: hw.KindPrinter, Health: hw.HealthError, Problem: "paper out"}
	scannerErr := hw.DeviceState{Name: "ds2208", Kind: hw.KindScanner, Health: hw.HealthError, Problem: "unplugged"}
	cases := []struct {
		name string
		st   hw.Status
		key  string
	}{
		{"printer, receipts waiting", hw.Status{Devices: []hw.DeviceState{printerErr}, Queue: &hw.QueueState{Pending: 2}, Banner: "Printer tm-t20: paper out, 2 receipt(s) waiting"}, ui.NotePrinterWaiting},
		{"printer, none waiting", hw.Status{Devices: []hw.DeviceState{printerErr}, Queue: &hw.QueueState{}, Banner: "Printer tm-t20: paper out"}, ui.NoteDevice},
		{"scanner", hw.Status{Devices: []hw.DeviceState{scannerErr}, Banner: "Scanner ds2208: unplugged"}, ui.NoteDevice},
		{"queue held", hw.Status{Queue: &hw.QueueState{Held: true, Reason: "no reply", Pending: 3}, Banner: "Printer: no reply, 3 receipt(s) waiting"}, ui.NotePrinterHeld},
	}
	for _, c := range cases {
		n, ok := hardwareNote(c.st)
		if !ok {
			t.Fatalf("%s: no note for banner %q", c.name, c.st.Banner)
		}
		if n.Key != c.key || n.Text != c.st.Banner {
			t.Errorf("%s: note %q %q, want %q %q", c.name, n.Key, n.Text, c.key, c.st.Banner)
		}
		for l, cat := range cats {
			msg := placeholder.ReplaceAllStringFunc(cat[n.Key], func(m string) string {
				if v, ok := n.Args[m[1:len(m)-1]]; ok {
					return fmt.Sprint(v)
				}
				return m
			})
			if msg == "" || placeholder.MatchString(msg) {
				t.Errorf("%s: %s message %q not filled by args %v", c.name, l, msg, n.Args)
			}
		}
	}
	if _, ok := hardwareNote(hw.Status{}); ok {
		t.Error("a note without a banner")
	}
}

// TestOutboxLineNotes checks each case of an outbox connector's line:
// the note node/outbox makes is the till's note, its key is one the
// pages know (ui.OutboxLineKeys) and is in every catalog, filled by its
// args in every language, and its English (made from the note) reads as
// a manager expects.
func TestOutboxLineNotes(t *testing.T) {
	cats := tillCatalogs(t)
	cat, err := i18n.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		st   outbox.Status
		key  string
		line string
	}{
		{outbox.Status{Connector: "telegram"}, ui.OutboxLineNotConfigured, "telegram: not configured"},
		{outbox.Status{Connector: "fiscal", Configured: true, Elsewhere: "HQ"}, ui.OutboxLineElsewhere, "fiscal: sent by HQ"},
		{outbox.Status{Connector: "fiscal", Configured: true}, ui.OutboxLineCounting, "fiscal: counting the backlog"},
		{outbox.Status{Connector: "fiscal", Configured: true, Counted: true}, ui.OutboxLineAllSent, "fiscal: all sent"},
		{outbox.Status{Connector: "fiscal", Configured: true, Counted: true, Dead: 2}, ui.OutboxLineNothingPending, "fiscal: nothing pending, 2 in the dead-letter list"},
		{outbox.Status{Connector: "fiscal", Noun: "receipts", Configured: true, Counted: true, Pending: 42, Oldest: now.Add(-23 * time.Hour)},
			ui.OutboxLinePendingReceipts, "fiscal: 42 receipts pending, oldest 23 h 0 min"},
		{outbox.Status{Connector: "telegram", Noun: "messages", Configured: true, Counted: true, Pending: 1, Dead: 1, WaitingFor: 2},
			ui.OutboxLinePendingMessages, "telegram: 1 messages pending, 1 in the dead-letter list, waiting for till 2"},
		{outbox.Status{Connector: "webhook", Noun: "calls", Configured: true, Counted: true, Pending: 3, Oldest: now.Add(-40 * time.Second)},
			ui.OutboxLinePending, "webhook: 3 calls pending, oldest 40 s"},
	}
	if !slices.Equal(outbox.LineKeys, ui.OutboxLineKeys) {
		t.Fatalf("node/outbox's line keys %q, the pages know %q", outbox.LineKeys, ui.OutboxLineKeys)
	}
	for _, c := range cases {
		st := outbox.Describe(c.st, now, cat)
		n := outboxLineNote(st)
		if n.Key != c.key || n.Text != c.line {
			t.Errorf("%q: note %q %q, want key %q", c.line, n.Key, n.Text, c.key)
			continue
		}
		for l, m := range cats {
			for _, k := range ui.OutboxLineKeys {
				if _, ok := m[k]; !ok {
					t.Errorf("till.%s.json lacks %q", l, k)
				}
			}
			msg := placeholder.ReplaceAllStringFunc(m[n.Key], func(p string) string {
				if v, ok := n.Args[p[1:len(p)-1]]; ok {
					return fmt.Sprint(v)
				}
				return p
			})
			if placeholder.MatchString(msg) {
				t.Errorf("%q: %s message %q not filled by %v", c.line, l, msg, n.Args)
			}
		}
	}
}
