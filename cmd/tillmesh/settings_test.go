package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// settingFlags returns the flags a person sets on a configured command,
// by name: its visible flags (with --config) and the global ones.
func settingFlags(t *testing.T, name string) map[string]cli.Flag {
	t.Helper()
	a := app()
	cmd := findCommand(a.Commands, name)
	if cmd == nil {
		t.Fatalf("no command %q", name)
	}
	out := map[string]cli.Flag{}
	for _, fs := range [][]cli.Flag{cmd.Flags, a.Flags} {
		for _, f := range fs {
			if visible(f) {
				out[f.Names()[0]] = f
			}
		}
	}
	return out
}

// readmeSettings returns the rows of README's settings table by
// "command --flag": environment, config key, default.
func readmeSettings(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Settings\n")
	if !ok {
		t.Fatal(`README.md has no "## Settings" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	rows := map[string][]string{}
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| till ") && !strings.HasPrefix(line, "| hq ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if len(cells) != 6 {
			t.Errorf("README settings row with %d cells, want 6: %s", len(cells), line)
			continue
		}
		key := cells[0] + " " + cells[1]
		if _, dup := rows[key]; dup {
			t.Errorf("README settings table lists %s twice", key)
		}
		rows[key] = cells[2:5]
	}
	return rows
}

// TestSettingsTable fails when README's settings table misses a flag of
// tillmesh till or hq, lists one they lack, or names another environment
// variable, config key or default than the flag has.
func TestSettingsTable(t *testing.T) {
	rows := readmeSettings(t)
	seen := map[string]bool{}
	for _, cmd := range []string{"till", "hq"} {
		for name, f := range settingFlags(t, cmd) {
			key := cmd + " --" + name
			seen[key] = true
			row, ok := rows[key]
			if !ok {
				t.Errorf("README.md's settings table has no row for tillmesh %s", key)
				continue
			}
			if want := strings.Join(flagEnv(f), ", "); row[0] != want {
				t.Errorf("%s: README says environment %q, the flag reads %q", key, row[0], want)
			}
			wantKey := name
			if name == "config" {
				wantKey = ""
			}
			if row[1] != wantKey {
				t.Errorf("%s: README says config key %q, want %q", key, row[1], wantKey)
			}
			if df, ok := f.(cli.DocGenerationFlag); ok {
				def := strings.Trim(df.GetValue(), `"`)
				if def != "" && !strings.Contains(row[2], def) {
					t.Errorf("%s: README says default %q, the flag's is %q", key, row[2], def)
				}
			}
		}
	}
	for key := range rows {
		if !seen[key] {
			t.Errorf("README.md's settings table lists tillmesh %s, which has no such flag", key)
		}
	}
}

// TestConffilesMirrorFlags: the packaged configuration files name every
// setting of their command once, and nothing else.
func TestConffilesMirrorFlags(t *testing.T) {
	for _, cmd := range []string{"till", "hq"} {
		path := "../tillmesh-deb/files/" + cmd + ".conf"
		lines, err := readConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, l := range lines {
			got = append(got, l.key)
		}
		for name := range settingFlags(t, cmd) {
			if name != "config" {
				want = append(want, name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s keys %q, want one per flag: %q", path, got, want)
		}
	}
}
