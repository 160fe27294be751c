package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"text/tabwriter"
	"text/template"
)

// templatePrinter is upstream's printHelpCustom: the reference renderHelp
// must match.
func templatePrinter(out io.Writer, templ string, data interface{}) {
	funcMap := template.FuncMap{
		"join":           strings.Join,
		"subtract":       subtract,
		"indent":         indent,
		"nindent":        nindent,
		"trim":           strings.TrimSpace,
		"wrap":           func(input string, offset int) string { return wrap(input, offset, 10000) },
		"offset":         offset,
		"offsetCommands": offsetCommands,
	}
	w := tabwriter.NewWriter(out, 1, 8, 2, ' ', 0)
	t := template.Must(template.New("help").Funcs(funcMap).Parse(templ))
	for name, value := range map[string]string{
		"helpNameTemplate":               helpNameTemplate,
		"usageTemplate":                  usageTemplate,
		"descriptionTemplate":            descriptionTemplate,
		"visibleCommandTemplate":         visibleCommandTemplate,
		"copyrightTemplate":              copyrightTemplate,
		"versionTemplate":                versionTemplate,
		"visibleFlagCategoryTemplate":    visibleFlagCategoryTemplate,
		"visibleFlagTemplate":            visibleFlagTemplate,
		"authorsTemplate":                authorsTemplate,
		"visibleCommandCategoryTemplate": visibleCommandCategoryTemplate,
	} {
		template.Must(t.New(name).Parse(value))
	}
	if err := t.Execute(w, data); err != nil {
		panic(err)
	}
	_ = w.Flush()
}

func testApp(out *bytes.Buffer) *App {
	leaf := func(name, usage string, flags ...Flag) *Command {
		return &Command{Name: name, Usage: usage, Flags: flags, Action: func(*Context) error { return nil }}
	}
	return &App{
		Name: "tm", Usage: "a till mesh", Version: "v1.2.3", Description: "long\ndescription",
		Authors:   []*Author{{Name: "A", Email: "a@example.com"}, {Name: "B"}},
		Copyright: "(c) us", Writer: out, ErrWriter: out, HideHelpCommand: false,
		Flags: []Flag{&StringFlag{Name: "data", Value: "/var/lib", Usage: "data directory"}, &BoolFlag{Name: "quiet", Aliases: []string{"q"}, Category: "output"}},
		Commands: []*Command{
			leaf("till", "run a till", &IntFlag{Name: "port", Value: 8080, Usage: "API port"}, &BoolFlag{Name: "json", Category: "output"}),
			{Name: "testnet", Aliases: []string{"tn"}, Usage: "whole stores", Category: "tools", Subcommands: []*Command{
				leaf("run", "run a scenario", &StringFlag{Name: "scenario", Usage: "which"}),
				leaf("list", "list scenarios"),
			}},
			{Name: "ledger", Usage: "inspect", ArgsUsage: "DIR", Subcommands: []*Command{leaf("verify", "verify it")}},
			leaf("version", "print the version"),
		},
	}
}

func TestRenderHelpMatchesTemplates(t *testing.T) {
	for _, args := range [][]string{
		{"tm", "--help"}, {"tm", "help"}, {"tm", "till", "--help"}, {"tm", "testnet", "--help"},
		{"tm", "testnet", "run", "--help"}, {"tm", "ledger", "-h"}, {"tm", "ledger", "help", "verify"},
		{"tm", "testnet", "help"}, {"tm", "help", "till"},
	} {
		var want, got bytes.Buffer
		HelpPrinter = templatePrinter
		if err := testApp(&want).Run(args); err != nil {
			t.Fatalf("%v with templates: %v", args, err)
		}
		HelpPrinter = printHelp
		if err := testApp(&got).Run(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got.String() != want.String() {
			t.Errorf("%v: got\n%s\nwant (text/template)\n%s", args, got.String(), want.String())
		}
	}
}
