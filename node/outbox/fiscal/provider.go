package fiscal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tillmesh/tillmesh/node/outbox"
)

// Registration is what the fiscal service gives a registered receipt:
// its fiscal number, fiscal sign and the URL where anyone can check it
// (printed as a QR code).
type Registration struct {
	Number string
	Sign   string
	URL    string
}

// Provider registers receipts with one country's fiscal service. The
// request types are this package's neutral model (lines with VAT,
// payments by type, cashier, terminal, seller's tax ID); a provider maps
// them to its service's format. Every request carries the event ID as
// its idempotency key: a request repeated after a failover must get the
// first answer back, never a second registration.
//
// Errors follow outbox.Connector.Send: a *outbox.Rejection when the
// service refused the receipt, an error wrapping outbox.ErrUnreachable
// when it could not be reached, anything else for a bad answer.
type Provider interface {
	RegisterReceipt(ctx context.Context, r ReceiptRequest) (Registration, error)
	RegisterRefund(ctx context.Context, r ReceiptRequest) (Registration, error)
	RegisterZReport(ctx context.Context, z ZReportRequest) (Registration, error)
}

// HTTP is the reference provider: JSON over HTTPS (wire.go). Plain HTTP
// is allowed only to a loopback address (the simulator).
type HTTP struct {
	base   *url.URL
	token  string
	client *http.Client
}

// maxAnswer bounds the service's answer.
const maxAnswer = 64 << 10

// NewHTTP returns the reference provider for a service at base (e.g.
// "https://fiscal.example/"). token, if set, goes in an Authorization
// bearer header. A nil client means one without redirects and with the
// caller's context as the only timeout.
func NewHTTP(base, token string, client *http.Client) (*HTTP, error) {
	u, err := CheckURL(base)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &HTTP{base: u, token: token, client: client}, nil
}

// CheckURL parses a fiscal service URL: https, or http to a loopback
// address; no user info, query or fragment.
func CheckURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("fiscal service URL %q: %w", s, err)
	}
	switch {
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("fiscal service URL %q: want https://host[:port][/path]", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("fiscal service URL %q: must be https (plain http only to a loopback address)", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RegisterReceipt registers a sale.
func (h *HTTP) RegisterReceipt(ctx context.Context, r ReceiptRequest) (Registration, error) {
	return h.post(ctx, "/api/v1/receipts", r.ID, r)
}

// RegisterRefund registers a refund or void (the service's receipts
// endpoint, type refund or void).
func (h *HTTP) RegisterRefund(ctx context.Context, r ReceiptRequest) (Registration, error) {
	return h.post(ctx, "/api/v1/receipts", r.ID, r)
}

// RegisterZReport registers a shift's Z report.
func (h *HTTP) RegisterZReport(ctx context.Context, z ZReportRequest) (Registration, error) {
	return h.post(ctx, "/api/v1/zreports", z.ID, z)
}

func (h *HTTP) post(ctx context.Context, path, id string, body any) (Registration, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Registration{}, fmt.Errorf("encode fiscal request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base.String()+path, bytes.NewReader(b))
	if err != nil {
		return Registration{}, fmt.Errorf("fiscal request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", id)
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// No answer at all: the line is down, the service away or too
		// slow to start answering. The same request goes again later.
		return Registration{}, outbox.Unreachable(fmt.Errorf("fiscal service %s: %w", h.base.Host, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return Registration{}, fmt.Errorf("fiscal service %s: the answer broke off after %d bytes (HTTP %d): %w", h.base.Host, len(raw), resp.StatusCode, err)
	}
	if len(raw) > maxAnswer {
		return Registration{}, fmt.Errorf("fiscal service %s: answer over %d bytes", h.base.Host, maxAnswer)
	}
	return decodeAnswer(resp.StatusCode, raw, resp.Header.Get("Location"))
}

// decodeAnswer reads the service's answer to one request.
func decodeAnswer(status int, raw []byte, location string) (Registration, error) {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return Registration{}, outbox.Unreachable(fmt.Errorf("fiscal service answered HTTP %d", status))
	case status >= 300 && status < 400:
		return Registration{}, outbox.Reject("redirect", "the fiscal service answered HTTP %d to %q: set the service's final URL", status, location)
	}
	var a Answer
	jerr := json.Unmarshal(raw, &a)
	switch {
	case status >= 500:
		return Registration{}, fmt.Errorf("fiscal service answered HTTP %d: %s", status, snippet(raw))
	case jerr != nil && status >= 400:
		return Registration{}, outbox.Reject(fmt.Sprintf("http_%d", status), "the fiscal service refused the receipt: %s", snippet(raw))
	case jerr != nil:
		return Registration{}, fmt.Errorf("fiscal service answered HTTP %d with a body that is not its JSON: %s", status, snippet(raw))
	case !a.OK || status >= 400:
		code, msg := "refused", "no reason given"
		if a.Error != nil {
			code, msg = a.Error.Code, a.Error.Message
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			code = "unauthorized"
		}
		return Registration{}, outbox.Reject(code, "the fiscal service refused the receipt (HTTP %d): %s", status, msg)
	case a.FiscalNumber == "" || len(a.FiscalNumber) > 64 || len(a.FiscalSign) > 128 || len(a.QRURL) > 512:
		return Registration{}, fmt.Errorf("fiscal service answered ok without a usable fiscal number: %s", snippet(raw))
	}
	if a.QRURL != "" {
		if u, err := url.Parse(a.QRURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return Registration{}, fmt.Errorf("fiscal service answered a verification URL that is not a web address: %q", a.QRURL)
		}
	}
	return Registration{Number: a.FiscalNumber, Sign: a.FiscalSign, URL: a.QRURL}, nil
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	if s == "" {
		return "(empty)"
	}
	return fmt.Sprintf("%q", s)
}
