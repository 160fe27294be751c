package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed catalog
var embedded embed.FS

// Catalog is every language's messages, merged from the catalog files.
// It is never changed once loaded, so one Catalog serves any number of
// goroutines and users.
type Catalog struct {
	msgs map[Lang]map[string]string
	from map[Lang]map[string]string // key -> file, for Load's errors; nil after
}

// Embedded loads and checks the catalogs built into the binary. A test
// keeps them complete, so an error here is a build that must not ship.
// Every call returns the same Catalog: a till's pages, its outbox and
// Errorf share one copy of the messages (about 0.6 MB of heap) rather
// than building one each (BENCHMARKS.md, "Footprint (issue 17)").
func Embedded() (*Catalog, error) { return embeddedCatalog() }

var embeddedCatalog = sync.OnceValues(func() (*Catalog, error) {
	sub, err := fs.Sub(embedded, "catalog")
	if err != nil {
		return nil, err
	}
	return Load(sub)
})

var (
	fileName    = regexp.MustCompile(`^([a-z][a-z0-9_-]*)\.([a-z]{2})\.json$`)
	keyPattern  = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
	placeholder = regexp.MustCompile(`\{([a-z_][a-z0-9_]*)\}`)
)

// pluralForms are the CLDR plural categories a key may end in.
var pluralForms = []string{"zero", "one", "two", "few", "many", "other"}

// Load reads every <domain>.<lang>.json at the top of fsys and checks the
// result (Check). Every error names the file and the key.
func Load(fsys fs.FS) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	c := &Catalog{msgs: map[Lang]map[string]string{}, from: map[Lang]map[string]string{}}
	for _, l := range Langs {
		c.msgs[l], c.from[l] = map[string]string{}, map[string]string{}
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			errs = append(errs, fmt.Errorf("catalog %s: name must be <domain>.<lang>.json", e.Name()))
			continue
		}
		l := Lang(m[2])
		if !l.valid() {
			errs = append(errs, fmt.Errorf("catalog %s: unknown language %q", e.Name(), m[2]))
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			errs = append(errs, fmt.Errorf("catalog %s: %w", e.Name(), err))
			continue
		}
		errs = append(errs, c.add(l, e.Name(), b)...)
	}
	if len(errs) == 0 {
		errs = c.check()
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.from = nil
	return c, nil
}

func (c *Catalog) add(l Lang, file string, b []byte) []error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return []error{fmt.Errorf("catalog %s: not a JSON object of strings: %w", file, err)}
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch {
		case !keyPattern.MatchString(k):
			errs = append(errs, fmt.Errorf("catalog %s: key %q: want lower-case words joined by dots", file, k))
		case c.from[l][k] != "":
			errs = append(errs, fmt.Errorf("catalog %s: key %q is also in %s", file, k, c.from[l][k]))
		case strings.TrimSpace(v) == "":
			errs = append(errs, fmt.Errorf("catalog %s: key %q is empty", file, k))
		default:
			if err := checkPlaceholders(v); err != nil {
				errs = append(errs, fmt.Errorf("catalog %s: key %q: %w", file, k, err))
				continue
			}
			c.msgs[l][k], c.from[l][k] = v, file
		}
	}
	return errs
}

// checkPlaceholders refuses a brace that is not part of a {name}.
func checkPlaceholders(v string) error {
	rest := placeholder.ReplaceAllString(v, "")
	if i := strings.IndexAny(rest, "{}"); i >= 0 {
		return fmt.Errorf("broken placeholder in %q: write {name} with a lower-case name", v)
	}
	return nil
}

func placeholders(v string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(v, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// pluralBase returns the key's plural group ("items" for "items.few")
// when the key ends in a plural form and the group has an "other" form
// in English.
func (c *Catalog) pluralBase(k string) (string, bool) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 || !slices.Contains(pluralForms, k[i+1:]) {
		return "", false
	}
	base := k[:i]
	_, ok := c.msgs[English][base+".other"]
	return base, ok
}

// formsOf is the plural forms language l uses for whole numbers.
func formsOf(l Lang) []string {
	if l == Russian {
		return []string{"one", "few", "many", "other"}
	}
	return []string{"one", "other"}
}

// check compares every language with English: the same keys, the same
// placeholders, and for a plural group exactly the forms the language
// uses.
func (c *Catalog) check() []error {
	var errs []error
	en := c.msgs[English]
	groups := map[string][]string{} // plural base -> placeholders of its "other"
	for k := range en {
		if base, ok := c.pluralBase(k); ok {
			groups[base] = placeholders(en[base+".other"])
		}
	}
	for _, l := range Langs {
		msgs := c.msgs[l]
		for _, base := range slices.Sorted(maps.Keys(groups)) {
			for _, f := range formsOf(l) {
				if _, ok := msgs[base+"."+f]; !ok {
					errs = append(errs, fmt.Errorf("catalog %s: key %q missing (plural form %s of %s)", l, base+"."+f, f, base))
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(msgs)) {
			if base, ok := c.pluralBase(k); ok {
				if !slices.Contains(formsOf(l), k[len(base)+1:]) {
					errs = append(errs, fmt.Errorf("catalog %s: key %q: %s has no plural form %q", c.from[l][k], k, l.Name(), k[len(base)+1:]))
				} else if got, want := placeholders(msgs[k]), groups[base]; !slices.Equal(got, want) {
					errs = append(errs, fmt.Errorf("catalog %s: key %q has placeholders %v, English has %v", c.from[l][k], k, got, want))
				}
				continue
			}
			ref, ok := en[k]
			if !ok {
				errs = append(errs, fmt.Errorf("catalog %s: key %q is not in English", c.from[l][k], k))
				continue
			}
			if got, want := placeholders(msgs[k]), placeholders(ref); !slices.Equal(got, want) {
				errs = append(errs, fmt.Errorf("catalog %s: key %q has placeholders %v, English has %v", c.from[l][k], k, got, want))
			}
		}
		if l == English {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(en)) {
			if _, ok := c.pluralBase(k); ok {
				continue
			}
			if _, ok := msgs[k]; !ok {
				errs = append(errs, fmt.Errorf("catalog %s: key %q missing (English: %q, in %s)", l, k, en[k], c.from[English][k]))
			}
		}
	}
	return errs
}

// Has reports whether English (and so every language) has key, or a
// plural group of that name.
func (c *Catalog) Has(key string) bool {
	if _, ok := c.msgs[English][key]; ok {
		return true
	}
	_, ok := c.msgs[English][key+".other"]
	return ok
}

// Keys lists every English key, sorted.
func (c *Catalog) Keys() []string { return slices.Sorted(maps.Keys(c.msgs[English])) }

// T is the message key in language l with its placeholders filled from
// args, given as name, value pairs: T(ru, "tender.change", "amount", s).
// A key missing in l falls back to English; a key missing everywhere
// comes back as itself (tests catch that).
func (c *Catalog) T(l Lang, key string, args ...any) string {
	v, ok := c.msgs[l][key]
	if !ok {
		if v, ok = c.msgs[English][key]; !ok {
			return key
		}
	}
	return fill(v, args)
}

// TN is T for a message about n things: the plural form of n in l picks
// the variant (key.one, key.few, ...), and {n} is n.
func (c *Catalog) TN(l Lang, key string, n int, args ...any) string {
	form := PluralForm(l, n)
	if _, ok := c.msgs[l][key+"."+form]; !ok {
		form = "other"
	}
	return c.T(l, key+"."+form, append([]any{"n", n}, args...)...)
}

// PluralForm is the CLDR plural category of the whole number n in l
// (CLDR's cardinal rules for integers; TestPluralFormMatchesXText checks
// them against golang.org/x/text's).
func PluralForm(l Lang, n int) string {
	if n < 0 {
		n = -n
	}
	n %= 10_000_000
	switch l {
	case Russian:
		switch d, h := n%10, n%100; {
		case d == 1 && h != 11:
			return "one"
		case d >= 2 && d <= 4 && (h < 12 || h > 14):
			return "few"
		}
		return "many"
	default: // English, Uzbek
		if n == 1 {
			return "one"
		}
	}
	return "other"
}

func fill(v string, args []any) string {
	if len(args) == 0 || !strings.Contains(v, "{") {
		return v
	}
	vals := make(map[string]string, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		switch a := args[i+1].(type) {
		case string:
			vals[name] = a
		case int:
			vals[name] = strconv.Itoa(a)
		default:
			vals[name] = fmt.Sprint(a)
		}
	}
	return placeholder.ReplaceAllStringFunc(v, func(m string) string {
		if s, ok := vals[m[1:len(m)-1]]; ok {
			return s
		}
		return m
	})
}

// Page is what a page needs to speak l: every message (English filling
// any gap) and how l writes amounts of the store's currency, so that
// the pages format money exactly as the Go side does (ui/i18n/web/i18n.js).
type Page struct {
	Lang     Lang              `json:"lang"`
	Messages map[string]string `json:"messages"`
	Format   PageFormat        `json:"format"`
}

// PageFormat is how l writes numbers and amounts of one currency.
type PageFormat struct {
	Decimal  string `json:"decimal"`
	Group    string `json:"group"`
	Currency string `json:"currency"`
	Digits   int    `json:"digits"`
	Symbol   string `json:"symbol"`
	// Prefix: the symbol goes before the number; Space: a no-break space
	// between them.
	Prefix bool `json:"prefix"`
	Space  bool `json:"space"`
	// Date and Time are layouts with the letters DD, MM, YYYY, MON
	// (abbreviated month), hh and mm.
	Date string `json:"date"`
	Time string `json:"time"`
	// TimeZone is the store's IANA zone for dates and times; empty: the
	// browser's.
	TimeZone string `json:"time_zone,omitempty"`
}

// Page is language l's page data for currency cur.
func (c *Catalog) Page(l Lang, cur Currency) (Page, error) {
	if !l.valid() {
		return Page{}, Errorf("input.language", "code", string(l))
	}
	msgs := maps.Clone(c.msgs[English])
	maps.Copy(msgs, c.msgs[l])
	return Page{Lang: l, Messages: msgs, Format: pageFormat(l, cur)}, nil
}

// Error is an error a person reads, with the catalog key of its text, so
// a screen can show it in the reader's language (Catalog.Message). Its
// Error method is the English text.
type Error struct {
	Key  string
	Args []any // name, value pairs
	en   string
}

func (e *Error) Error() string { return e.en }

// Message is err in language l: an *Error (anywhere in the chain) in l,
// anything else as it is.
func (c *Catalog) Message(l Lang, err error) string {
	var e *Error
	if errors.As(err, &e) {
		return c.T(l, e.Key, e.Args...)
	}
	return err.Error()
}

// english is the built-in catalogs' English, for the Error text of
// errors made with Errorf: the embedded Catalog's own map, nil (every
// key its own text) if the catalogs do not load, which
// TestEmbeddedCatalogs rules out.
func english() map[string]string {
	c, err := embeddedCatalog()
	if err != nil {
		return nil
	}
	return c.msgs[English]
}

// Errorf makes an *Error from a key of the built-in catalogs; its Error
// text is the English message.
func Errorf(key string, args ...any) *Error {
	en, ok := english()[key]
	if !ok {
		en = key
	}
	return &Error{Key: key, Args: args, en: fill(en, args)}
}

//go:embed web/i18n.js
var script []byte

// Script is the pages' side of this package (web/i18n.js), served by the
// till and HQ at /assets/i18n.js.
func Script() []byte { return script }

// Locale is what a page needs besides its language: the store's
// currency and time zone (an IANA name; empty or unknown: the browser's
// own zone).
type Locale struct {
	Currency Currency
	TimeZone string
}

// Handler serves GET /i18n/<lang>.json: the Page of that language for
// the currency and time zone loc gives for the request. An unknown
// language is 404 with the reason.
func (c *Catalog) Handler(loc func(*http.Request) Locale) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		code, ok := strings.CutSuffix(name, ".json")
		l, err := ParseLang(code)
		if !ok || err != nil {
			http.Error(w, Errorf("input.language", "code", code).Error(), http.StatusNotFound)
			return
		}
		lc := loc(r)
		p, err := c.Page(l, lc.Currency)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if _, err := time.LoadLocation(lc.TimeZone); err == nil && lc.TimeZone != "" && lc.TimeZone != "Local" {
			p.Format.TimeZone = lc.TimeZone
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		json.NewEncoder(w).Encode(p)
	})
}
