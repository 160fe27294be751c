// Command tillmesh-deb builds the Debian package of tillmesh (`make
// package`): the binary, systemd units for `tillmesh till` and `tillmesh
// hq`, their configuration files under /etc/tillmesh (conffiles whose
// keys are the flags), maintainer scripts that create the tillmesh system
// user and /var/lib/tillmesh, and the Chromium kiosk starter.
//
// It writes the .deb itself (an ar archive of debian-binary,
// control.tar.gz and data.tar.gz) with the standard library: nfpm would
// add a few dozen modules to go.mod for what is three hundred lines here,
// and the package's test reads the archive back with the same code.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tillmesh-deb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tillmesh-deb", flag.ContinueOnError)
	bin := fs.String("binary", "bin/tillmesh", "the tillmesh binary to package")
	version := fs.String("version", "", "package version (Debian syntax, starts with a digit)")
	arch := fs.String("arch", "amd64", "Debian architecture of the binary")
	out := fs.String("out", "", "the .deb to write (default: dist/tillmesh_<version>_<arch>.deb)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		*out = fmt.Sprintf("dist/tillmesh_%s_%s.deb", *version, *arch)
	}
	mtime := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		mtime = time.Unix(sec, 0)
	}
	p, err := newPackage(Meta{Version: *version, Arch: *arch, MTime: mtime}, *bin)
	if err != nil {
		return err
	}
	if err := p.WriteFile(*out); err != nil {
		return err
	}
	fmt.Printf("%s: %s %s (%s)\n", *out, "tillmesh", *version, *arch)
	return nil
}
