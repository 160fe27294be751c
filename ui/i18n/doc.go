// Package i18n holds the words and number formats a person reads: the
// message catalogs of every language the product speaks (English,
// Russian, Uzbek in Latin script) and the formatting of money, numbers
// and times by locale.
//
// A catalog is a set of flat JSON files under catalog/, one per domain
// and language, named <domain>.<lang>.json ("till.ru.json",
// "receipt.uz.json"). A value is plain text with named placeholders,
// "Change {amount}"; a key that counts something has one entry per
// plural form of the language ("items.one", "items.few", "items.many",
// "items.other"; English needs one and other). English is the reference:
// every language must have every key English has, with the same
// placeholders, and no key English lacks (Check). The Go side looks words
// up with T and TN; the pages fetch one language's merged catalog as JSON
// and use the same keys (ui/web/i18n.js).
//
// Money is an integer count of the currency's minor units (ledger.Money);
// how many there are is the ISO 4217/CLDR figure for the currency (EUR
// 2, UZS 0, JPY 0). That CLDR data (digits, symbols, marks) is a table,
// cldr_gen.go, that internal/gencldr (`go generate`) writes from
// golang.org/x/text, and TestCLDRTablesMatchXText checks against it, so
// the binary links a few kB instead of x/text's tables and formatter;
// plural forms are CLDR's integer rules, checked the same way. FormatMoney writes an
// amount with the locale's grouping, decimal mark and symbol position;
// ParseMoney reads what a person typed and refuses the other decimal
// mark, more decimals than the currency has, or an amount below the
// store's smallest unit.
//
// The package is pure: no I/O beyond its embedded files, no clock, no
// globals that change.
package i18n
