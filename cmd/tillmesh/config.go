package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// A configuration file holds one setting a line, "key = value", where key
// is a flag of the command without its dashes; a flag that repeats
// (--peer, --listen, --register) repeats its key. Blank lines and lines
// starting with # are skipped, an empty value leaves the default, and a
// value may be written as a Go quoted string ("a b"). Any other line, an
// unknown key, a key given twice or a value the flag refuses is an error
// naming the file, the line, the key and the value.
//
// Precedence: flag > environment variable > file > default. A flag set on
// the command line or by its environment variable is not touched.

// configured adds configuration to a command: a --config flag (default
// defaultPath, read only when it exists), an environment variable
// envPrefix+FLAG for every visible flag that has none, and an Action
// that first applies the file. Required flags are checked after the file,
// so they may come from it.
func configured(cmd *cli.Command, envPrefix, defaultPath string) *cli.Command {
	var required []string
	for _, f := range cmd.Flags {
		if !visible(f) {
			continue
		}
		name := f.Names()[0]
		setEnv(f, envPrefix+envName(name))
		if setRequired(f, false) {
			required = append(required, name)
		}
	}
	cmd.Flags = append(cmd.Flags, &cli.StringFlag{
		Name:    "config",
		Value:   defaultPath,
		Usage:   "configuration file of \"key = value\" lines mirroring these flags (the default is read only when it exists; \"\" for none)",
		EnvVars: []string{envPrefix + "CONFIG"},
	})
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if err := applyConfig(c, cmd); err != nil {
			return err
		}
		for _, name := range required {
			if !c.IsSet(name) || c.String(name) == "" {
				return fmt.Errorf("--%s is missing: give it as a flag, as %s or as %q in the configuration file", name, envPrefix+envName(name), name)
			}
		}
		return action(c)
	}
	return cmd
}

// envName is the environment variable suffix of a flag: upper case with
// underscores.
func envName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// visible reports whether a flag is one a person sets (not a hidden
// harness flag).
func visible(f cli.Flag) bool {
	vf, ok := f.(cli.VisibleFlag)
	return !ok || vf.IsVisible()
}

// setEnv gives a flag the environment variable env if it has none.
func setEnv(f cli.Flag, env string) {
	var vars *[]string
	switch f := f.(type) {
	case *cli.StringFlag:
		vars = &f.EnvVars
	case *cli.StringSliceFlag:
		vars = &f.EnvVars
	case *cli.BoolFlag:
		vars = &f.EnvVars
	case *cli.IntFlag:
		vars = &f.EnvVars
	case *cli.Uint64Flag:
		vars = &f.EnvVars
	case *cli.DurationFlag:
		vars = &f.EnvVars
	case *cli.Float64Flag:
		vars = &f.EnvVars
	default:
		return
	}
	if len(*vars) == 0 {
		*vars = []string{env}
	}
}

// setRequired sets a flag's Required field and reports what it was.
func setRequired(f cli.Flag, v bool) bool {
	var p *bool
	switch f := f.(type) {
	case *cli.StringFlag:
		p = &f.Required
	case *cli.StringSliceFlag:
		p = &f.Required
	case *cli.IntFlag:
		p = &f.Required
	default:
		return false
	}
	was := *p
	*p = v
	return was
}

// flagEnv returns a flag's environment variables.
func flagEnv(f cli.Flag) []string {
	if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
		return ef.GetEnvVars()
	}
	return nil
}

// configLine is one setting read from a configuration file.
type configLine struct {
	line       int
	key, value string
}

// readConfig reads a configuration file's settings.
func readConfig(path string) ([]configLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	defer f.Close()
	return parseConfig(f, path)
}

// parseConfig reads settings from r; path names it in errors.
func parseConfig(r io.Reader, path string) ([]configLine, error) {
	var out []configLine
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, fmt.Errorf("configuration %s line %d: %q is not \"key = value\"", path, n, text)
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("configuration %s line %d: %s = %s: unbalanced quotes", path, n, key, value)
			}
			value = uq
		}
		out = append(out, configLine{line: n, key: key, value: value})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("configuration %s line %d: %w", path, n+1, err)
	}
	return out, nil
}

// configKeys returns the flags a command's configuration file may set,
// by key: the command's visible flags and the global ones.
func configKeys(c *cli.Context, cmd *cli.Command) map[string]cli.Flag {
	keys := map[string]cli.Flag{}
	for _, fs := range [][]cli.Flag{c.App.Flags, cmd.Flags} {
		for _, f := range fs {
			if name := f.Names()[0]; visible(f) && name != "config" {
				keys[name] = f
			}
		}
	}
	return keys
}

// applyConfig reads the command's configuration file, when there is one,
// and sets every flag it names that neither the command line nor the
// environment set.
func applyConfig(c *cli.Context, cmd *cli.Command) error {
	path := c.String("config")
	if path == "" {
		return nil // --config "": no file, not even the default
	}
	lines, err := readConfig(path)
	if errors.Is(err, fs.ErrNotExist) && !c.IsSet("config") {
		return nil // the default file is optional
	}
	if err != nil {
		return err
	}
	keys := configKeys(c, cmd)
	preset := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines {
		f, ok := keys[l.key]
		if !ok {
			known := make([]string, 0, len(keys))
			for k := range keys {
				known = append(known, k)
			}
			slices.Sort(known)
			return fmt.Errorf("configuration %s line %d: unknown key %q (known keys: %s)", path, l.line, l.key, strings.Join(known, ", "))
		}
		_, isSlice := f.(*cli.StringSliceFlag)
		if first, twice := seen[l.key]; twice && !isSlice {
			return fmt.Errorf("configuration %s line %d: %s set again (first on line %d)", path, l.line, l.key, first)
		}
		seen[l.key] = l.line
		if l.value == "" {
			continue
		}
		set, checked := preset[l.key]
		if !checked {
			set = c.IsSet(l.key)
			preset[l.key] = set
		}
		if set {
			if err := checkValue(f, l.value); err != nil {
				return fmt.Errorf("configuration %s line %d: %s = %q: %w", path, l.line, l.key, l.value, err)
			}
			continue // the flag or its environment variable wins
		}
		if err := c.Set(l.key, l.value); err != nil {
			return fmt.Errorf("configuration %s line %d: %s = %q: %w", path, l.line, l.key, l.value, valueError(f))
		}
	}
	return nil
}

// checkValue parses a value the way the flag would, for a file setting
// that a flag overrides: a bad file is an error even then.
func checkValue(f cli.Flag, v string) error {
	var err error
	switch f.(type) {
	case *cli.BoolFlag:
		_, err = strconv.ParseBool(v)
	case *cli.IntFlag:
		_, err = strconv.ParseInt(v, 0, 64)
	case *cli.Uint64Flag:
		_, err = strconv.ParseUint(v, 0, 64)
	}
	if err != nil {
		return valueError(f)
	}
	return nil
}

// valueError says what a flag's value must look like.
func valueError(f cli.Flag) error {
	switch f.(type) {
	case *cli.BoolFlag:
		return errors.New("want true or false")
	case *cli.IntFlag:
		return errors.New("want a whole number")
	case *cli.Uint64Flag:
		return errors.New("want a whole number of zero or more")
	case *cli.DurationFlag:
		return errors.New("want a duration such as 90s or 5m")
	case *cli.Float64Flag:
		return errors.New("want a number")
	}
	return errors.New("not a valid value")
}
