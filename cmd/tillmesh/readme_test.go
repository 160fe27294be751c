package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestREADMECommands fails when README.md shows a tillmesh command,
// subcommand or flag that the binary does not have: in its code blocks
// and in inline `tillmesh ...` spans.
func TestREADMECommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands(string(b))
	if len(cmds) < 10 {
		t.Fatalf("found %d tillmesh commands in README.md; the parser is broken", len(cmds))
	}
	for _, c := range cmds {
		if err := checkCommandLine(app(), c.args); err != nil {
			t.Errorf("README.md line %d: %q: %v", c.line, strings.Join(c.args, " "), err)
		}
	}
}

// TestREADMECheckerCatches proves the checker fails on what it is for.
func TestREADMECheckerCatches(t *testing.T) {
	readme := "text `tillmesh hw list` and `tillmesh nosuch run`\n\n```sh\n" +
		"tillmesh store init --dir x --name y   # fine\n" +
		"tillmesh store init --dir x --nmae y\n" +
		"tillmesh ledger verify --data DIR --format csv\n" +
		"tillmesh store\n" +
		"tillmesh hw test-print|test-drawr --config F\n" +
		"```\n" +
		"as its owner (`sudo -u tillmesh tillmesh\nnosuch backup`)\n"
	var errs []string
	for _, c := range readmeCommands(readme) {
		if err := checkCommandLine(app(), c.args); err != nil {
			errs = append(errs, fmt.Sprintf("%d: %v", c.line, err))
		}
	}
	want := []string{`1: "nosuch"`, `5: --nmae`, `6: --format`, `7: `, `8: "test-drawr"`, `10: "nosuch"`}
	if len(errs) != len(want) {
		t.Fatalf("got errors %q, want %d of them", errs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i], w[:strings.Index(w, ":")+1]) || !strings.Contains(errs[i], w[strings.Index(w, ":")+2:]) {
			t.Errorf("error %d: got %q, want one with %q", i, errs[i], w)
		}
	}
}

type readmeCommand struct {
	line int
	args []string // after "tillmesh"
}

// inlineCommand is an inline span holding a tillmesh command, run
// directly or as another user (`sudo -u tillmesh tillmesh ...`).
var inlineCommand = regexp.MustCompile("`(?:sudo (?:-u \\S+ )?)?(tillmesh [^`]+)`")

// readmeCommands returns every tillmesh command line in a Markdown text.
func readmeCommands(md string) []readmeCommand {
	var out []readmeCommand
	inBlock := false
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		line, start := lines[i], i
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		var texts []string
		if inBlock {
			texts = append(texts, strings.TrimPrefix(trimmed, "$ "))
		} else {
			// An inline span may wrap onto the next lines of its paragraph.
			for strings.Count(line, "`")%2 == 1 && i+1 < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "```") {
				i++
				line += " " + strings.TrimSpace(lines[i])
			}
			for _, m := range inlineCommand.FindAllStringSubmatch(line, -1) {
				texts = append(texts, m[1])
			}
		}
		for _, text := range texts {
			if c, ok := strings.CutPrefix(text, "tillmesh "); ok {
				if i := strings.Index(c, " #"); i >= 0 {
					c = c[:i]
				}
				if i := strings.IndexAny(c, "><"); i >= 0 {
					c = c[:i]
				}
				out = append(out, readmeCommand{line: start + 1, args: shellWords(c)})
			}
		}
	}
	return out
}

// shellWords splits a command line on spaces, keeping quoted strings
// together.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	quote, in := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// checkCommandLine walks args through the app's command tree: every word
// before the first positional argument must be a command or subcommand,
// every --flag one the command has (or a global one). "a|b" stands for
// either, and "[--flag X]" for an optional flag.
func checkCommandLine(a *cli.App, args []string) error {
	flags := map[string]cli.Flag{"help": &cli.BoolFlag{Name: "help"}, "h": &cli.BoolFlag{Name: "h"}}
	addFlags := func(fs []cli.Flag) {
		for _, f := range fs {
			for _, n := range f.Names() {
				flags[n] = f
			}
		}
	}
	addFlags(a.Flags)
	cmds := a.Commands
	var cur *cli.Command // the command reached so far
	var path []string
	positional := false
	for i := 0; i < len(args); i++ {
		w := strings.Trim(args[i], "[]")
		if w == "" || w == "..." {
			continue
		}
		if strings.HasPrefix(w, "-") {
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f, ok := flags[name]
			if !ok {
				return fmt.Errorf("tillmesh %s has no flag --%s", strings.Join(path, " "), name)
			}
			if _, isBool := f.(*cli.BoolFlag); !isBool && !hasValue {
				i++ // its value
			}
			continue
		}
		if positional || len(cmds) == 0 {
			positional = true
			continue
		}
		var next *cli.Command
		for _, alt := range strings.Split(w, "|") {
			c := findCommand(cmds, alt)
			if c == nil && alt != "help" {
				return fmt.Errorf("tillmesh %s has no command %q", strings.Join(path, " "), alt)
			}
			if next == nil {
				next = c
			}
		}
		if next == nil { // help
			positional = true
			continue
		}
		path = append(path, next.Name)
		cur = next
		flags = map[string]cli.Flag{"help": &cli.BoolFlag{Name: "help"}, "h": &cli.BoolFlag{Name: "h"}}
		addFlags(a.Flags)
		addFlags(next.Flags)
		cmds = next.Subcommands
	}
	if !positional && len(cmds) > 0 && (cur == nil || cur.Action == nil) { // tillmesh hq runs HQ, and has subcommands
		return fmt.Errorf("tillmesh %s needs a subcommand", strings.Join(path, " "))
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || c.HasName(name) {
			return c
		}
	}
	return nil
}
