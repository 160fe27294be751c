package fiscal

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/node/outbox"
)

func TestDecodeAnswer(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   string // "ok", "reject", "unreachable", "bad"
		words  string
	}{
		{200, `{"ok":true,"fiscal_number":"FN1","fiscal_sign":"ab","qr_url":"https://x/check?n=FN1"}`, "ok", ""},
		{200, `{"ok":false,"error":{"code":"tin","message":"unknown seller"}}`, "reject", "unknown seller"},
		{200, `<html>`, "bad", "not its JSON"},
		{200, `{"ok":true}`, "bad", "without a usable fiscal number"},
		{200, `{"ok":true,"fiscal_number":"FN1","qr_url":"javascript:alert(1)"}`, "bad", "not a web address"},
		{401, `{"ok":false,"error":{"code":"x","message":"bad token"}}`, "reject", "bad token"},
		{422, `nope`, "reject", "refused the receipt"},
		{500, `{"ok":false}`, "bad", "HTTP 500"},
		{503, ``, "unreachable", "503"},
		{429, ``, "unreachable", "429"},
		{302, ``, "reject", "final URL"},
	}
	for _, c := range cases {
		reg, err := decodeAnswer(c.status, []byte(c.body), "https://elsewhere")
		var rej *outbox.Rejection
		got := "bad"
		switch {
		case err == nil:
			got = "ok"
		case errors.As(err, &rej):
			got = "reject"
		case errors.Is(err, outbox.ErrUnreachable):
			got = "unreachable"
		}
		if got != c.kind || (err != nil && !strings.Contains(err.Error(), c.words)) {
			t.Errorf("HTTP %d %s: %v (%+v), want %s with %q", c.status, c.body, err, reg, c.kind, c.words)
		}
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	f.Add(200, []byte(`{"ok":true,"fiscal_number":"FN1","fiscal_sign":"ab","qr_url":"https://x/check"}`))
	f.Add(422, []byte(`{"ok":false,"error":{"code":"c","message":"m"}}`))
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		reg, err := decodeAnswer(status, b, "")
		if err == nil && (reg.Number == "" || len(reg.Number) > 64) {
			t.Fatalf("accepted %+v", reg)
		}
	})
}

func TestCheckURL(t *testing.T) {
	for _, u := range []string{"https://fiscal.example", "http://127.0.0.1:8090", "http://localhost:1/api", "http://[::1]:9"} {
		if _, err := CheckURL(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://fiscal.example", "ftp://x", "https://u:p@x", "https://x?a=1", "x", ""} {
		if _, err := CheckURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}
