package hqapi

import (
	"strings"
	"testing"
)

func TestDecodeOutboxReport(t *testing.T) {
	id := strings.Repeat("ab", 32)
	good := `{"at":"2026-12-06T10:00:00Z","connectors":[{"connector":"fiscal","configured":true,"pending":3,"dead":1,"line":"fiscal: 3 receipts pending"}],` +
		`"dead_letters":[{"connector":"fiscal","event_id":"` + id + `","receipt":"1-5","kind":"sale","code":"x","reason":"y","attempts":1,"at":"2026-12-06T10:00:00Z"}]}`
	if _, err := DecodeOutboxReport([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{`,
		strings.Replace(good, id, "nothex", 1),
		strings.Replace(good, `"pending":3`, `"pending":-1`, 1),
		strings.Replace(good, `"connector":"fiscal","configured"`, `"connector":"","configured"`, 1),
		strings.Replace(good, `"reason":"y"`, `"reason":"`+strings.Repeat("y", 2000)+`"`, 1),
	} {
		if _, err := DecodeOutboxReport([]byte(bad)); err == nil {
			t.Errorf("accepted %.80s", bad)
		}
	}
}

func FuzzDecodeOutboxReport(f *testing.F) {
	f.Add([]byte(`{"connectors":[],"dead_letters":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeOutboxReport(b)
		if err == nil && (len(r.DeadLetters) > maxOutboxDead || len(r.Connectors) > maxOutboxConnectors) {
			t.Fatal("bounds not kept")
		}
	})
}
