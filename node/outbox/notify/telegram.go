package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/tillmesh/tillmesh/node/outbox"
)

// TelegramSettings configure messages to a Telegram chat through the Bot
// API's sendMessage.
type TelegramSettings struct {
	// API is the Bot API's base URL; empty means https://api.telegram.org.
	API string `json:"api,omitempty"`
	// Token is the bot's token ("123456:ABC..."); never shown back.
	Token string `json:"token"`
	Chat  string `json:"chat"` // chat ID ("-100123...") or "@channel"
	Since int64  `json:"since"`
}

var (
	tokenRE = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$`)
	chatRE  = regexp.MustCompile(`^(-?[0-9]{1,20}|@[A-Za-z0-9_]{4,64})$`)
)

// Check reports what is wrong with s.
func (s TelegramSettings) Check() error {
	if s.API != "" {
		if _, err := checkURL(s.API, true); err != nil {
			return fmt.Errorf("telegram API URL: %w", err)
		}
	}
	if !tokenRE.MatchString(s.Token) {
		return errors.New("telegram: the bot token must look like 123456:ABC-DEF... (from @BotFather)")
	}
	if !chatRE.MatchString(s.Chat) {
		return errors.New("telegram: the chat must be a numeric chat ID or @channelname")
	}
	return nil
}

// NewTelegram returns the connector "telegram".
func NewTelegram(read SettingsReader, describe Describe, client *http.Client) *Connector {
	if client == nil {
		client = &http.Client{CheckRedirect: noRedirects}
	}
	return &Connector{read: read, describe: describe, s: &telegram{client: client}}
}

type telegram struct {
	client *http.Client
	cur    TelegramSettings
}

func (t *telegram) name() string    { return "telegram" }
func (t *telegram) setting() string { return TelegramSetting }

func (t *telegram) load(raw []byte) (int64, error) {
	var s TelegramSettings
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("setting %s: %w", TelegramSetting, err)
	}
	if err := s.Check(); err != nil {
		return 0, err
	}
	if s.API == "" {
		s.API = "https://api.telegram.org"
	}
	t.cur = s // Prepare and Send run on the connector's goroutine, in turn
	return s.Since, nil
}

type tgAnswer struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Result      struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
}

func (t *telegram) send(ctx context.Context, m Payload) (outbox.Result, error) {
	s := t.cur
	body, _ := json.Marshal(map[string]any{"chat_id": s.Chat, "text": m.Text})
	u := strings.TrimSuffix(s.API, "/") + "/bot" + s.Token + "/sendMessage"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return outbox.Result{}, fmt.Errorf("telegram request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return outbox.Result{}, outbox.Unreachable(fmt.Errorf("telegram: %s", redact(err.Error(), s.Token)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return outbox.Result{}, fmt.Errorf("telegram: the answer broke off (HTTP %d): %s", resp.StatusCode, redact(err.Error(), s.Token))
	}
	var a tgAnswer
	jerr := json.Unmarshal(raw, &a)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 504:
		return outbox.Result{}, outbox.Unreachable(fmt.Errorf("telegram answered HTTP %d", resp.StatusCode))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return outbox.Result{}, outbox.Reject("redirect", "telegram answered a redirect (HTTP %d): check the API URL", resp.StatusCode)
	case resp.StatusCode >= 500:
		return outbox.Result{}, fmt.Errorf("telegram answered HTTP %d", resp.StatusCode)
	case jerr != nil:
		return outbox.Result{}, fmt.Errorf("telegram answered HTTP %d with a body that is not the Bot API's JSON", resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound:
		return outbox.Result{}, outbox.Reject("telegram_"+strconv.Itoa(resp.StatusCode), "telegram refused the bot token (%s): check the token from @BotFather", a.Description)
	case !a.OK || resp.StatusCode >= 400:
		return outbox.Result{}, outbox.Reject("telegram_"+strconv.Itoa(resp.StatusCode), "telegram refused the message: %s", a.Description)
	case a.Result.MessageID == 0:
		return outbox.Result{}, errors.New("telegram answered ok without a message ID")
	}
	return outbox.Result{Ref: s.Chat + "/" + strconv.FormatInt(a.Result.MessageID, 10)}, nil
}

// redact keeps a bot token out of errors (the token is in the URL).
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, token, "<token>"), url.PathEscape(token), "<token>")
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
