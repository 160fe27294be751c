package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tarFile is one entry of a tar archive in the package.
type tarFile struct {
	mode int64
	dir  bool
	body []byte
}

func readTarGz(t *testing.T, b []byte) map[string]tarFile {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]tarFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" {
			t.Errorf("%s: owned by %s (%d:%d), want root", h.Name, h.Uname, h.Uid, h.Gid)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = tarFile{mode: h.Mode, dir: h.Typeflag == tar.TypeDir, body: body}
	}
}

// buildTillmesh builds the tillmesh binary for the package.
func buildTillmesh(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found: cannot build the binary to package")
	}
	bin := filepath.Join(t.TempDir(), "tillmesh")
	// The flags of make build, so the two share Go's build cache.
	cmd := exec.Command(goBin, "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags=-s -w", "-o", bin, "../tillmesh")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPackage builds the .deb and checks what dpkg would install: files
// and modes, conffiles, maintainer scripts, the units (systemd-analyze
// verify where it exists), and that the packaged binary starts as HQ and
// as a till with the packaged configuration.
func TestPackage(t *testing.T) {
	bin := buildTillmesh(t)
	p, err := newPackage(Meta{Version: "0.1.0~test", Arch: "amd64", MTime: time.Unix(1_767_225_600, 0)}, bin)
	if err != nil {
		t.Fatal(err)
	}
	p.Store = true
	debPath := filepath.Join(t.TempDir(), "tillmesh.deb")
	if err := p.WriteFile(debPath); err != nil {
		t.Fatal(err)
	}
	deb, err := os.ReadFile(debPath)
	if err != nil {
		t.Fatal(err)
	}
	members, err := ReadAr(deb)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	if want := []string{"debian-binary", "control.tar.gz", "data.tar.gz"}; !slices.Equal(names, want) {
		t.Fatalf("ar members %q, want %q", names, want)
	}
	if string(members[0].Body) != "2.0\n" {
		t.Errorf("debian-binary %q", members[0].Body)
	}
	ctl := readTarGz(t, members[1].Body)
	data := readTarGz(t, members[2].Body)

	t.Run("control", func(t *testing.T) {
		control := string(ctl["./control"].body)
		for _, want := range []string{"Package: tillmesh\n", "Version: 0.1.0~test\n", "Architecture: amd64\n", "Depends: adduser\n", "Recommends: chromium\n", "Description: "} {
			if !strings.Contains(control, want) {
				t.Errorf("control lacks %q:\n%s", want, control)
			}
		}
		if got, want := string(ctl["./conffiles"].body), "/etc/tillmesh/hq.conf\n/etc/tillmesh/till.conf\n"; got != want {
			t.Errorf("conffiles %q, want %q", got, want)
		}
		for _, s := range []string{"./postinst", "./prerm", "./postrm"} {
			f, ok := ctl[s]
			if !ok || f.mode != 0o755 || !bytes.HasPrefix(f.body, []byte("#!/bin/sh\nset -e\n")) {
				t.Errorf("%s: present %v, mode %o, starts %q", s, ok, f.mode, f.body[:min(len(f.body), 20)])
			}
		}
		postinst := string(ctl["./postinst"].body)
		for _, want := range []string{"adduser --system --group", "install -d -o tillmesh -g tillmesh -m 0750 /var/lib/tillmesh", "chgrp tillmesh /etc/tillmesh/hq.conf"} {
			if !strings.Contains(postinst, want) {
				t.Errorf("postinst lacks %q", want)
			}
		}
		if strings.Contains(string(ctl["./postrm"].body), "rm -rf /var/lib/tillmesh") {
			t.Error("postrm removes the ledgers")
		}
		if sh, err := exec.LookPath("sh"); err == nil {
			for _, s := range []string{"./postinst", "./prerm", "./postrm"} {
				cmd := exec.Command(sh, "-n")
				cmd.Stdin = bytes.NewReader(ctl[s].body)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: sh -n: %v %s", s, err, out)
				}
			}
		}
		// md5sums names every file with its digest.
		sums := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(ctl["./md5sums"].body)), "\n") {
			sum, name, _ := strings.Cut(l, "  ")
			sums["./"+name] = sum
		}
		for name, f := range data {
			if f.dir {
				continue
			}
			if got := fmt.Sprintf("%x", md5.Sum(f.body)); sums[name] != got {
				t.Errorf("md5sums: %s has %q, want %q", name, sums[name], got)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		want := map[string]int64{
			"./usr/bin/tillmesh":                          0o755,
			"./usr/bin/tillmesh-kiosk":                    0o755,
			"./lib/systemd/system/tillmesh-till.service":  0o644,
			"./lib/systemd/system/tillmesh-hq.service":    0o644,
			"./etc/tillmesh/till.conf":                    0o644,
			"./etc/tillmesh/hq.conf":                      0o640,
			"./usr/share/tillmesh/tillmesh-kiosk.desktop": 0o644,
			"./usr/share/doc/tillmesh/copyright":          0o644,
		}
		for name, mode := range want {
			f, ok := data[name]
			if !ok {
				t.Errorf("%s is missing", name)
				continue
			}
			if f.mode != mode {
				t.Errorf("%s: mode %o, want %o", name, f.mode, mode)
			}
		}
		for name, f := range data {
			if _, ok := want[name]; !ok && !f.dir {
				t.Errorf("unexpected file %s", name)
			}
			if f.dir && f.mode != 0o755 {
				t.Errorf("directory %s: mode %o", name, f.mode)
			}
		}
		exe, _ := os.ReadFile(bin)
		if !bytes.Equal(data["./usr/bin/tillmesh"].body, exe) {
			t.Error("the packaged binary is not the one built")
		}
		for _, u := range []string{"till", "hq"} {
			unit := string(data["./lib/systemd/system/tillmesh-"+u+".service"].body)
			for _, want := range []string{
				"ExecStart=/usr/bin/tillmesh " + u + " --config /etc/tillmesh/" + u + ".conf\n",
				"User=tillmesh\n", "Group=tillmesh\n", "StateDirectory=tillmesh\n",
				"StandardOutput=journal\n", "WantedBy=multi-user.target\n",
			} {
				if !strings.Contains(unit, want) {
					t.Errorf("tillmesh-%s.service lacks %q", u, want)
				}
			}
		}
		if got := string(data["./etc/tillmesh/till.conf"].body); !regexp.MustCompile(`(?m)^data = /var/lib/tillmesh/till$`).MatchString(got) {
			t.Errorf("till.conf does not keep the till's data under /var/lib/tillmesh:\n%s", got)
		}
		if got := string(data["./etc/tillmesh/hq.conf"].body); !regexp.MustCompile(`(?m)^data = /var/lib/tillmesh/hq$`).MatchString(got) {
			t.Errorf("hq.conf does not keep HQ's data under /var/lib/tillmesh:\n%s", got)
		}
	})

	t.Run("maintainer scripts", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		// Every command the scripts run is a stub that logs its
		// arguments: nothing on this machine changes.
		stubs := t.TempDir()
		log := filepath.Join(stubs, "log")
		for _, c := range []string{"adduser", "install", "chgrp", "chmod", "systemctl"} {
			stub := "#!/bin/sh\necho \"" + c + " $*\" >> \"$STUBLOG\"\n"
			if err := os.WriteFile(filepath.Join(stubs, c), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// getent knows the groups, and the user once $USER_EXISTS is set.
		getent := "#!/bin/sh\necho \"getent $*\" >> \"$STUBLOG\"\n" +
			"if [ \"$1\" = passwd ] && [ -z \"$USER_EXISTS\" ]; then exit 2; fi\nexit 0\n"
		if err := os.WriteFile(filepath.Join(stubs, "getent"), []byte(getent), 0o755); err != nil {
			t.Fatal(err)
		}
		runScript := func(name string, env []string, args ...string) []string {
			t.Helper()
			os.Remove(log)
			script := filepath.Join(stubs, name+".sh")
			if err := os.WriteFile(script, ctl["./"+name].body, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sh, append([]string{script}, args...)...)
			cmd.Env = append([]string{"PATH=" + stubs, "STUBLOG=" + log}, env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
			}
			b, _ := os.ReadFile(log)
			return strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		fresh := runScript("postinst", nil, "configure")
		for _, want := range []string{
			"adduser --system --group --home /var/lib/tillmesh --no-create-home --gecos tillmesh point of sale tillmesh",
			"adduser tillmesh dialout", "adduser tillmesh lp",
			"install -d -o tillmesh -g tillmesh -m 0750 /var/lib/tillmesh",
			"chgrp tillmesh /etc/tillmesh/hq.conf", "chmod 0640 /etc/tillmesh/hq.conf",
		} {
			if !slices.Contains(fresh, want) {
				t.Errorf("postinst configure on a new machine did not run %q; it ran:\n%s", want, strings.Join(fresh, "\n"))
			}
		}
		again := runScript("postinst", []string{"USER_EXISTS=1"}, "configure", "0.1.0")
		for _, l := range again {
			if strings.HasPrefix(l, "adduser --system") {
				t.Errorf("postinst on an upgrade made the user again: %q", l)
			}
		}
		if !slices.Contains(again, "install -d -o tillmesh -g tillmesh -m 0750 /var/lib/tillmesh") {
			t.Errorf("postinst on an upgrade: %q", again)
		}
		runScript("prerm", nil, "remove")
		runScript("prerm", nil, "upgrade", "0.2.0")
		for _, l := range runScript("postrm", nil, "purge") {
			if strings.Contains(l, "/var/lib/tillmesh") {
				t.Errorf("postrm purge touches the data: %q", l)
			}
		}
	})

	root := t.TempDir()
	for name, f := range data {
		path := filepath.Join(root, name)
		if f.dir {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.body, os.FileMode(f.mode)|0o200); err != nil {
			t.Fatal(err)
		}
	}
	packaged := filepath.Join(root, "usr/bin/tillmesh")

	t.Run("dpkg-deb", func(t *testing.T) {
		dpkg, err := exec.LookPath("dpkg-deb")
		if err != nil {
			t.Skip("dpkg-deb not found: the archive is checked by this test's reader only")
		}
		for _, args := range [][]string{{"--info", debPath}, {"--contents", debPath}, {"--field", debPath, "Package"}} {
			out, err := exec.Command(dpkg, args...).CombinedOutput()
			if err != nil {
				t.Errorf("dpkg-deb %s: %v\n%s", args[0], err, out)
			}
			if args[0] == "--contents" && !strings.Contains(string(out), "./usr/bin/tillmesh") {
				t.Errorf("dpkg-deb --contents lacks the binary:\n%s", out)
			}
		}
	})

	t.Run("systemd-analyze", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not found: units checked by content only")
		}
		// verify wants ExecStart's binary at its path: point the units at
		// the extracted one.
		dir := t.TempDir()
		var units []string
		for _, u := range []string{"tillmesh-till.service", "tillmesh-hq.service"} {
			b := bytes.ReplaceAll(data["./lib/systemd/system/"+u].body, []byte("/usr/bin/tillmesh "), []byte(packaged+" "))
			path := filepath.Join(dir, u)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			units = append(units, path)
		}
		out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("starts", func(t *testing.T) {
		work := t.TempDir()
		run := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(packaged, args...)
			cmd.Dir, cmd.Env = work, cleanEnv(work)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tillmesh %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		varLib := filepath.Join(root, "var/lib/tillmesh")
		run("store", "init", "--dir", "store", "--name", "Packaged")
		run("store", "enroll", "--dir", "store", "--till-data", filepath.Join(varLib, "till"), "--number", "1")

		hqPort, tillPort := freePort(t), freePort(t)
		hqConf := redirect(t, root, "hq.conf", map[string]string{
			"http": "127.0.0.1:" + hqPort, "register": filepath.Join(work, "store/store.json"),
		})
		tillConf := redirect(t, root, "till.conf", map[string]string{
			"http": "127.0.0.1:" + tillPort, "listen": "/ip4/127.0.0.1/tcp/0", "no-mdns": "true",
			"hq": "http://127.0.0.1:" + hqPort,
		})
		hq := start(t, packaged, work, "hq", "--config", hqConf)
		waitBody(t, hq, "http://127.0.0.1:"+hqPort+"/v1/health", "ok")
		till := start(t, packaged, work, "till", "--config", tillConf)
		waitBody(t, till, "http://127.0.0.1:"+tillPort+"/api/status", `"number":1`)
		for _, d := range []string{"hq/MANIFEST", "till/till.key"} {
			if _, err := os.Stat(filepath.Join(varLib, d)); err != nil {
				t.Errorf("data not where the configuration puts it: %v", err)
			}
		}
		// HQ hears from the store's relay, the till named in till.conf.
		waitBody(t, hq, "http://127.0.0.1:"+hqPort+"/v1/health", "ok")
		till.stop(t)
		hq.stop(t)
	})
}

// redirect copies a packaged configuration file with /var/lib/tillmesh
// moved under root and the given keys set.
func redirect(t *testing.T, root, name string, set map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/tillmesh", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "= /var/lib/tillmesh/", "= "+filepath.Join(root, "var/lib/tillmesh")+"/")
	lines := strings.Split(text, "\n")
	for k, v := range set {
		found := false
		for i, l := range lines {
			if key, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") && strings.TrimSpace(key) == k {
				lines[i], found = k+" = "+v, true
				break
			}
		}
		if !found {
			t.Fatalf("%s has no key %q", name, k)
		}
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func cleanEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

// syncBuffer is a bytes.Buffer the process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, cleanEnv(dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGTERM, as systemd does, and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited: %v\n%s", p.cmd.Args[1], p.err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on SIGTERM within 30s", p.cmd.Args[1])
	}
}

// waitBody polls url until its body holds want, failing early if the
// process exits.
func waitBody(t *testing.T, p *proc, url, want string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before %s answered:\n%s", p.cmd.Args[1], p.err, url, p.out)
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within 30s (last: %s)\n%s", url, want, last, p.out)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}
