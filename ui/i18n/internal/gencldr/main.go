// Command gencldr writes ui/i18n's cldr_gen.go from golang.org/x/text
// (see internal/cldr). Run by `go generate ./ui/i18n/`;
// TestCLDRTablesMatchXText fails when the file is not what this writes.
package main

import (
	"fmt"
	"os"

	"github.com/tillmesh/tillmesh/ui/i18n/internal/cldr"
)

func main() {
	src, err := cldr.Source()
	if err == nil {
		err = os.WriteFile("cldr_gen.go", src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencldr:", err)
		os.Exit(1)
	}
}
