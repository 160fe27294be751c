package cli

// tillmesh fork: the help text is written by this file instead of
// text/template. text/template looks fields and methods up by name at run
// time (reflect.Value.MethodByName), and a program that links that makes
// the Go linker keep every exported method of every type it keeps: about
// 4 MB of tillmesh's binary. renderHelp writes what AppHelpTemplate,
// CommandHelpTemplate and SubcommandHelpTemplate say, for the *App and
// *Command values help.go passes; a custom template is not interpreted
// (tillmesh sets none): its data is written with the template of its kind.

import (
	"fmt"
	"io"
	"strings"
)

// helpData is what the templates read, from an *App or a *Command.
type helpData struct {
	app                                                          bool
	helpName, usage, usageText, argsUsage, description, category string
	args                                                         bool
	hasCommands                                                  bool
	version                                                      string
	hideVersion                                                  bool
	authors                                                      []*Author
	copyright                                                    string
	visibleCommands                                              []*Command
	visibleCategories                                            func() []CommandCategory // called only when listed, as the templates do
	visibleFlags                                                 []Flag
	visibleFlagCategories                                        []VisibleFlagCategory
}

func helpDataOf(data interface{}) (helpData, bool) {
	switch d := data.(type) {
	case *App:
		return helpData{
			app: true, helpName: d.HelpName, usage: d.Usage, usageText: d.UsageText,
			argsUsage: d.ArgsUsage, description: d.Description, args: d.Args,
			hasCommands: len(d.Commands) > 0, version: d.Version, hideVersion: d.HideVersion,
			authors: d.Authors, copyright: d.Copyright,
			visibleCommands: d.VisibleCommands(), visibleCategories: d.VisibleCategories,
			visibleFlags: d.VisibleFlags(), visibleFlagCategories: d.VisibleFlagCategories(),
		}, true
	case *Command:
		return helpData{
			helpName: d.HelpName, usage: d.Usage, usageText: d.UsageText,
			argsUsage: d.ArgsUsage, description: d.Description, category: d.Category, args: d.Args,
			visibleCommands: d.VisibleCommands(), visibleCategories: func() []CommandCategory {
				// "help <command>" shows a command before its categories
				// are set up; text/template swallowed the panic and cut
				// the help short there.
				if d.categories == nil {
					return []CommandCategory{&commandCategory{commands: d.VisibleCommands()}}
				}
				return d.VisibleCategories()
			},
			visibleFlags: d.VisibleFlags(), visibleFlagCategories: d.VisibleFlagCategories(),
		}, true
	}
	return helpData{}, false
}

// renderHelp writes the help of data (an *App or a *Command) as templ
// would; wrapAt is where "wrap" breaks lines.
func renderHelp(w io.Writer, templ string, data interface{}, wrapAt int) {
	d, ok := helpDataOf(data)
	if !ok {
		_, _ = fmt.Fprint(w, templ)
		return
	}
	wr := func(s string, off int) string { return wrap(s, off, wrapAt) }
	var b strings.Builder

	// helpNameTemplate
	b.WriteString("NAME:\n   ")
	b.WriteString(wr(d.helpName, 3))
	if d.usage != "" {
		b.WriteString(" - ")
		b.WriteString(wr(d.usage, offset(d.helpName, 6)))
	}

	b.WriteString("\n\nUSAGE:\n   ")
	switch {
	case d.usageText != "":
		b.WriteString(wr(d.usageText, 3))
	case d.app || templ == AppHelpTemplate:
		b.WriteString(d.helpName + " ")
		if len(d.visibleFlags) > 0 {
			b.WriteString("[global options]")
		}
		if d.hasCommands {
			b.WriteString(" command [command options]")
		}
		writeArgsUsage(&b, d)
	default: // usageTemplate
		b.WriteString(d.helpName)
		if len(d.visibleFlags) > 0 {
			b.WriteString(" [command options]")
		}
		writeArgsUsage(&b, d)
	}

	if d.app {
		if d.version != "" && !d.hideVersion {
			b.WriteString("\n\nVERSION:\n   " + d.version)
		}
	} else if d.category != "" {
		b.WriteString("\n\nCATEGORY:\n   " + d.category)
	}
	if d.description != "" {
		b.WriteString("\n\nDESCRIPTION:\n   " + wr(d.description, 3))
	}
	if d.app && len(d.authors) > 0 { // authorsTemplate
		b.WriteString("\n\nAUTHOR")
		if len(d.authors) != 1 {
			b.WriteString("S")
		}
		b.WriteString(":\n   ")
		for i, a := range d.authors {
			if i > 0 {
				b.WriteString("\n   ")
			}
			fmt.Fprint(&b, a)
		}
	}
	// A command without subcommands (CommandHelpTemplate) lists none.
	if (d.app || templ != CommandHelpTemplate) && len(d.visibleCommands) > 0 {
		b.WriteString("\n\nCOMMANDS:")
		writeCommandCategories(&b, d.visibleCategories(), wr)
	}
	options := "OPTIONS:"
	if d.app {
		options = "GLOBAL OPTIONS:"
	}
	switch {
	case len(d.visibleFlagCategories) > 0: // visibleFlagCategoryTemplate
		b.WriteString("\n\n" + options)
		for _, c := range d.visibleFlagCategories {
			b.WriteString("\n   ")
			if c.Name() != "" {
				b.WriteString(c.Name() + "\n\n   ")
			}
			flags := c.Flags()
			for i, f := range flags {
				fmt.Fprint(&b, f)
				if i == len(flags)-1 {
					b.WriteString("\n")
				} else {
					b.WriteString("\n   ")
				}
			}
		}
	case len(d.visibleFlags) > 0: // visibleFlagTemplate
		b.WriteString("\n\n" + options)
		for _, f := range d.visibleFlags {
			b.WriteString("\n   " + wr(f.String(), 6))
		}
	}
	if d.app && d.copyright != "" {
		b.WriteString("\n\nCOPYRIGHT:\n   " + wr(d.copyright, 3))
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

func writeArgsUsage(b *strings.Builder, d helpData) {
	if d.argsUsage != "" {
		b.WriteString(" " + d.argsUsage)
	} else if d.args {
		b.WriteString(" [arguments...]")
	}
}

// writeCommandCategories is visibleCommandCategoryTemplate.
func writeCommandCategories(b *strings.Builder, cats []CommandCategory, wr func(string, int) string) {
	for _, c := range cats {
		if c.Name() != "" {
			b.WriteString("\n   " + c.Name() + ":")
			for _, cmd := range c.VisibleCommands() {
				b.WriteString("\n     " + strings.Join(cmd.Names(), ", ") + "\t" + cmd.Usage)
			}
			continue
		}
		// visibleCommandTemplate
		cmds := c.VisibleCommands()
		cv := offsetCommands(cmds, 5)
		for _, cmd := range cmds {
			s := strings.Join(cmd.Names(), ", ")
			b.WriteString("\n   " + s + indent(subtract(cv, offset(s, 3)), "") + wr(cmd.Usage, cv))
		}
	}
}
