package hq_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// A PostgreSQL server for the tests of this package: started on first
// use from Debian's binaries (/usr/lib/postgresql/*/bin), in a temporary
// directory, on a free loopback port, as the postgres system user when
// the tests run as root (postgres refuses root), and stopped by TestMain.
// It dies with the test binary too (parent-death signal). Each test gets
// its own schema. TILLMESH_TEST_POSTGRES=<dsn> uses an existing server
// instead.

var errNoPostgres = errors.New("no PostgreSQL binaries (apt-get install -y postgresql)")

type pgServer struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	dsn    string
	exited chan error
}

var (
	pgOnce   sync.Once
	pg       *pgServer
	pgErr    error
	pgSchema atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pg != nil {
		pg.stop()
	}
	os.Exit(code)
}

// postgresDSN returns the DSN of a fresh, empty schema, or skips.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("TILLMESH_TEST_POSTGRES")
	if base == "" {
		pgOnce.Do(func() { pg, pgErr = startPostgres() })
		if errors.Is(pgErr, errNoPostgres) {
			tb.Skipf("PostgreSQL tests skipped: %v", pgErr)
		}
		if pgErr != nil {
			tb.Fatalf("start postgres: %v", pgErr)
		}
		base = pg.dsn
	}
	schema := fmt.Sprintf("t%d_%d", os.Getpid(), pgSchema.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgExec(ctx, base, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pgExec(ctx, base, "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// pgExec runs one statement on a connection of its own.
func pgExec(ctx context.Context, dsn, stmt string) error {
	conn, err := pq.NewConnector(dsn)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func pgBinDir() (string, error) {
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(ms) == 0 {
		return "", errNoPostgres
	}
	sort.Slice(ms, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ms[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ms[j]))))
		return vi > vj
	})
	return filepath.Dir(ms[0]), nil
}

func startPostgres() (*pgServer, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tillmesh-pg-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &pgServer{dir: dir, port: port, dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "max_connections=100", "-c", "shared_buffers=128MB", "-c", "logging_collector=off")
	s.cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err == nil {
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		defer logf.Close()
	}
	// SIGINT is PostgreSQL's fast shutdown; the server gets it if this
	// process dies without stopping it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := pgExec(ctx, s.dsn, "SELECT 1")
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-exited
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres not ready after 60 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	s.exited = exited
	return s, nil
}

func (s *pgServer) stop() {
	if s.cmd.Process != nil {
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGKILL)
	}
	os.RemoveAll(s.dir)
}
