package i18n

import "strings"

// Lang is a language the product speaks: "en", "ru" or "uz" (Uzbek in
// Latin script).
type Lang string

// The languages with complete catalogs. English is the reference and the
// fallback.
const (
	English Lang = "en"
	Russian Lang = "ru"
	Uzbek   Lang = "uz"
)

// Langs lists every language, English first.
var Langs = []Lang{English, Russian, Uzbek}

// ParseLang reads a language code as a person or a setting gives it
// ("ru", "RU", "uz-Latn", "en_GB"). A language the product does not speak
// is an error that names it and the choices.
func ParseLang(s string) (Lang, error) {
	code := strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		base, rest := code[:i], code[i+1:]
		if base == "uz" && rest != "latn" {
			return "", Errorf("input.language", "code", s)
		}
		code = base
	}
	for _, l := range Langs {
		if code == string(l) {
			return l, nil
		}
	}
	return "", Errorf("input.language", "code", s)
}

// Name is the language's name in itself, for a language picker.
func (l Lang) Name() string {
	switch l {
	case Russian:
		return "Русский"
	case Uzbek:
		return "Oʻzbekcha"
	}
	return "English"
}

func (l Lang) valid() bool { return l == English || l == Russian || l == Uzbek }
