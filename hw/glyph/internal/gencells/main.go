// Command gencells writes hw/glyph's cells.bin, the Go Mono fonts'
// glyphs as dot cells (see internal/render). Run by `go generate
// ./hw/glyph/` from hw/glyph; TestCellsMatchFonts fails when cells.bin
// is not what this writes.
package main

import (
	"fmt"
	"os"

	"github.com/tillmesh/tillmesh/hw/glyph/internal/render"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gencells:", err)
		os.Exit(1)
	}
}

func run() error {
	b, err := render.Table()
	if err != nil {
		return err
	}
	out := "cells.bin"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
