package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/tillmesh/tillmesh/node/outbox"
)

// WebhookSettings configure signed webhooks.
type WebhookSettings struct {
	URL string `json:"url"`
	// Secret signs each request; never shown back. At least 16 bytes.
	Secret string `json:"secret"`
	// AllowInternal lets the URL point at loopback, private or link-local
	// addresses (a system on the store's own network). Off by default:
	// a webhook is for the outside world.
	AllowInternal bool  `json:"allow_internal,omitempty"`
	Since         int64 `json:"since"`
}

// Check reports what is wrong with s.
func (s WebhookSettings) Check() error {
	if _, err := checkURL(s.URL, s.AllowInternal); err != nil {
		return fmt.Errorf("webhook URL: %w", err)
	}
	if len(s.Secret) < 16 || len(s.Secret) > 256 {
		return errors.New("webhook: the secret must be 16-256 characters")
	}
	return nil
}

// checkURL parses an http(s) URL; plain http only to an internal address
// that is allowed.
func checkURL(s string, allowInternal bool) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%q: want https://host/path", s)
	}
	if u.Scheme == "http" && !(allowInternal && isInternalHost(u.Hostname())) {
		return nil, fmt.Errorf("%q: must be https (plain http only to an allowed internal address)", s)
	}
	return u, nil
}

func isInternalHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && internal(ip)
}

func internal(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast()
}

// errInternal is a dial to an internal address that is not allowed.
type errInternal struct{ addr string }

func (e *errInternal) Error() string {
	return "the address " + e.addr + " is internal (loopback, private or link-local); allow internal addresses to send there"
}

// SignatureHeader carries "t=<Unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>",
// as Stripe signs its webhooks; EventHeader carries the event ID (the
// receiver's idempotency key).
const (
	SignatureHeader = "Tillmesh-Signature"
	EventHeader     = "Tillmesh-Event-Id"
)

// Sign returns the signature header's value for a body at time t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Payload is the webhook's JSON body.
type Payload struct {
	ID      string          `json:"id"` // event ID, or an alert's key
	Kind    string          `json:"kind"`
	Till    uint32          `json:"till"`
	Receipt string          `json:"receipt"`
	Time    string          `json:"time"`
	Text    string          `json:"text"`
	Body    json.RawMessage `json:"body"` // the event's body as JSON
}

// NewWebhook returns the connector "webhook". now stamps signatures.
func NewWebhook(read SettingsReader, describe Describe, now func() time.Time) *Connector {
	w := &webhook{now: now}
	return &Connector{read: read, describe: describe, s: w}
}

type webhook struct {
	now    func() time.Time
	cur    WebhookSettings
	client *http.Client
	allow  bool
}

func (w *webhook) name() string    { return "webhook" }
func (w *webhook) setting() string { return WebhookSetting }

func (w *webhook) load(raw []byte) (int64, error) {
	var s WebhookSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("setting %s: %w", WebhookSetting, err)
	}
	if err := s.Check(); err != nil {
		return 0, err
	}
	if w.client == nil || w.allow != s.AllowInternal {
		w.client = client(s.AllowInternal)
		w.allow = s.AllowInternal
	}
	w.cur = s
	return s.Since, nil
}

// client refuses redirects and, unless allowed, connections to internal
// addresses: checked on the address dialed, so a name that resolves to
// one (or rebinds to one) is refused too.
func client(allowInternal bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowInternal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, _ := net.SplitHostPort(address)
			if ip := net.ParseIP(host); ip == nil || internal(ip) {
				return &errInternal{addr: address}
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

func (w *webhook) send(ctx context.Context, m Payload) (outbox.Result, error) {
	s := w.cur
	body, _ := json.Marshal(m)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return outbox.Result{}, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(EventHeader, m.ID)
	req.Header.Set(SignatureHeader, Sign(s.Secret, w.now(), body))
	resp, err := w.client.Do(req)
	var in *errInternal
	switch {
	case errors.As(err, &in):
		return outbox.Result{}, outbox.Reject("internal_address", "webhook %s: %v", s.URL, in)
	case err != nil:
		return outbox.Result{}, outbox.Unreachable(fmt.Errorf("webhook: %w", err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return outbox.Result{}, nil
	case c >= 300 && c < 400:
		return outbox.Result{}, outbox.Reject("redirect", "webhook %s answered HTTP %d to %q: give the final URL (redirects are not followed)", s.URL, c, resp.Header.Get("Location"))
	case c == 429 || c == 502 || c == 503 || c == 504:
		return outbox.Result{}, outbox.Unreachable(fmt.Errorf("webhook answered HTTP %d", c))
	case c >= 500:
		return outbox.Result{}, fmt.Errorf("webhook answered HTTP %d", c)
	default:
		return outbox.Result{}, outbox.Reject("http_"+strconv.Itoa(c), "webhook %s refused the message (HTTP %d)", s.URL, c)
	}
}
