package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

//go:embed files
var files embed.FS

// Meta is what the control file says about the package.
type Meta struct {
	Version string
	Arch    string
	MTime   time.Time
}

// debVersion is Debian's version syntax, without an epoch.
var debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)

// Entry is one file or directory of the installed tree.
type Entry struct {
	Path     string // absolute, as installed
	Mode     int64  // permission bits
	Dir      bool
	Body     []byte
	Conffile bool
}

// Package is the tree and the maintainer scripts of the .deb.
type Package struct {
	Meta Meta
	// Store writes the tar archives gzipped without compression: the
	// tests' package, which the race detector would take minutes to
	// compress.
	Store   bool
	Entries []Entry
	Scripts map[string][]byte // postinst, prerm, postrm
}

// layout is where each file of files/ is installed, with its mode.
var layout = []struct {
	src, dst string
	mode     int64
	conffile bool
}{
	{"tillmesh-till.service", "/lib/systemd/system/tillmesh-till.service", 0o644, false},
	{"tillmesh-hq.service", "/lib/systemd/system/tillmesh-hq.service", 0o644, false},
	{"till.conf", "/etc/tillmesh/till.conf", 0o644, true}, // no secrets; the kiosk reads http
	{"hq.conf", "/etc/tillmesh/hq.conf", 0o640, true},     // may hold the admin password
	{"tillmesh-kiosk", "/usr/bin/tillmesh-kiosk", 0o755, false},
	{"tillmesh-kiosk.desktop", "/usr/share/tillmesh/tillmesh-kiosk.desktop", 0o644, false},
	{"copyright", "/usr/share/doc/tillmesh/copyright", 0o644, false},
}

// newPackage assembles the package around the binary at bin.
func newPackage(m Meta, bin string) (*Package, error) {
	if !debVersion.MatchString(m.Version) {
		return nil, fmt.Errorf("version %q: want a Debian version starting with a digit (e.g. 0.3.0 or 0.3.0~git1a2b3c4)", m.Version)
	}
	if m.Arch == "" {
		return nil, errors.New("architecture is empty")
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read the binary: %w", err)
	}
	if !bytes.HasPrefix(exe, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s is not an ELF binary", bin)
	}
	p := &Package{Meta: m, Scripts: map[string][]byte{}}
	p.Entries = append(p.Entries, Entry{Path: "/usr/bin/tillmesh", Mode: 0o755, Body: exe})
	for _, l := range layout {
		b, err := files.ReadFile("files/" + l.src)
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, Entry{Path: l.dst, Mode: l.mode, Body: b, Conffile: l.conffile})
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := files.ReadFile("files/" + s)
		if err != nil {
			return nil, err
		}
		p.Scripts[s] = b
	}
	// Every parent directory, once, before its files.
	dirs := map[string]bool{}
	for _, e := range p.Entries {
		for d := path.Dir(e.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		p.Entries = append(p.Entries, Entry{Path: d, Mode: 0o755, Dir: true})
	}
	slices.SortFunc(p.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return p, nil
}

// Conffiles lists the configuration files dpkg keeps a person's edits of.
func (p *Package) Conffiles() []string {
	var out []string
	for _, e := range p.Entries {
		if e.Conffile {
			out = append(out, e.Path)
		}
	}
	return out
}

// control is the package's control file.
func (p *Package) control() []byte {
	var size int64
	for _, e := range p.Entries {
		size += int64(len(e.Body))
	}
	return fmt.Appendf(nil, `Package: tillmesh
Version: %s
Architecture: %s
Maintainer: tillmesh developers <tillmesh@users.noreply.github.com>
Installed-Size: %d
Depends: adduser
Recommends: chromium
Section: misc
Priority: optional
Homepage: https://github.com/tillmesh/tillmesh
Description: offline-first point-of-sale mesh for stores with several tills
 Every till keeps selling through any outage and records each sale as a
 signed, hash-chained event; tills share catalog, stock and sales over the
 store LAN, and one relays the merged ledger to HQ. This package holds the
 tillmesh binary, systemd units for a till (tillmesh-till) and for HQ
 (tillmesh-hq), their configuration in /etc/tillmesh and a Chromium kiosk
 starter for the till's page.
`, p.Meta.Version, p.Meta.Arch, (size+1023)/1024)
}

// WriteFile writes the .deb to path (beside it first, then renamed).
func (p *Package) WriteFile(name string) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		return err
	}
	tmp := name + ".partial"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Write writes the .deb: an ar archive of debian-binary, control.tar.gz
// and data.tar.gz, in that order (dpkg requires it).
func (p *Package) Write(w io.Writer) error {
	md5sums := &bytes.Buffer{}
	data, err := p.tarGz(func(tw *tar.Writer) error {
		for _, e := range p.Entries {
			h := &tar.Header{Name: "." + e.Path, Mode: e.Mode, ModTime: p.Meta.MTime, Uname: "root", Gname: "root", Format: tar.FormatGNU}
			if e.Dir {
				h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			} else {
				h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Body))
				fmt.Fprintf(md5sums, "%x  %s\n", md5.Sum(e.Body), strings.TrimPrefix(e.Path, "/"))
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(e.Body); err != nil {
				return err
			}
		}
		return nil
	}, "./")
	if err != nil {
		return fmt.Errorf("data.tar.gz: %w", err)
	}
	ctl, err := p.tarGz(func(tw *tar.Writer) error {
		add := func(name string, mode int64, b []byte) error {
			h := &tar.Header{Name: "./" + name, Mode: mode, Size: int64(len(b)), ModTime: p.Meta.MTime, Uname: "root", Gname: "root", Typeflag: tar.TypeReg, Format: tar.FormatGNU}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			_, err := tw.Write(b)
			return err
		}
		if err := add("control", 0o644, p.control()); err != nil {
			return err
		}
		if err := add("conffiles", 0o644, []byte(strings.Join(p.Conffiles(), "\n")+"\n")); err != nil {
			return err
		}
		if err := add("md5sums", 0o644, md5sums.Bytes()); err != nil {
			return err
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if err := add(s, 0o755, p.Scripts[s]); err != nil {
				return err
			}
		}
		return nil
	}, "./")
	if err != nil {
		return fmt.Errorf("control.tar.gz: %w", err)
	}
	if _, err := io.WriteString(w, "!<arch>\n"); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl}, {"data.tar.gz", data}} {
		hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.name, p.Meta.MTime.Unix(), 0, 0, 0o100644, len(m.body))
		if _, err := io.WriteString(w, hdr); err != nil {
			return err
		}
		if _, err := w.Write(m.body); err != nil {
			return err
		}
		if len(m.body)%2 == 1 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

// tarGz makes a gzipped tar whose first entry is the root directory.
func (p *Package) tarGz(fill func(*tar.Writer) error, root string) ([]byte, error) {
	var buf bytes.Buffer
	level := gzip.BestCompression
	if p.Store {
		level = gzip.NoCompression
	}
	gz, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: root, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: p.Meta.MTime, Uname: "root", Gname: "root", Format: tar.FormatGNU}); err != nil {
		return nil, err
	}
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ArMember is one member of an ar archive.
type ArMember struct {
	Name string
	Body []byte
}

// ReadAr reads the members of an ar archive (the format Write writes).
func ReadAr(b []byte) ([]ArMember, error) {
	rest, ok := bytes.CutPrefix(b, []byte("!<arch>\n"))
	if !ok {
		return nil, errors.New("not an ar archive")
	}
	var out []ArMember
	for len(rest) > 0 {
		if len(rest) < 60 || string(rest[58:60]) != "`\n" {
			return nil, fmt.Errorf("ar member %d: bad header", len(out)+1)
		}
		name := strings.TrimRight(strings.TrimSpace(string(rest[:16])), "/")
		var size int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(rest[48:58])), "%d", &size); err != nil || size < 0 || 60+size > len(rest) {
			return nil, fmt.Errorf("ar member %q: bad size", name)
		}
		out = append(out, ArMember{Name: name, Body: rest[60 : 60+size]})
		rest = rest[60+size:]
		if size%2 == 1 && len(rest) > 0 {
			rest = rest[1:]
		}
	}
	return out, nil
}
