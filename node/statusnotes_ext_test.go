package node_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/tillmesh/tillmesh/ui"
)

var placeholderRE = regexp.MustCompile(`\{([a-z_][a-z0-9_]*)\}`)

// englishTill reads the till's English catalog, key -> message.
func englishTill(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ui", "i18n", "catalog", "till.en.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("till.en.json: %v", err)
	}
	return m
}

// checkStatusNotes fails unless every problem of st has a note with the
// same text and a key of ui.NoteKeys whose English message its args fill.
func checkStatusNotes(t *testing.T, st ui.Status) {
	t.Helper()
	if len(st.Notes) != len(st.Problems) {
		t.Fatalf("%d problems but %d notes: %q", len(st.Problems), len(st.Notes), st.Problems)
	}
	en := englishTill(t)
	for i, n := range st.Notes {
		if n.Text != st.Problems[i] {
			t.Errorf("note %d says %q, problem %q", i, n.Text, st.Problems[i])
		}
		if !slices.Contains(ui.NoteKeys, n.Key) {
			t.Errorf("problem %q has key %q, not one of ui.NoteKeys", n.Text, n.Key)
			continue
		}
		for _, m := range placeholderRE.FindAllStringSubmatch(en[n.Key], -1) {
			if _, ok := n.Args[m[1]]; !ok {
				t.Errorf("problem %q (%s) lacks arg %q", n.Text, n.Key, m[1])
			}
		}
	}
}
