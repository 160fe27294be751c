// Package pinhash hashes and checks staff PINs and HQ passwords with
// argon2id, in the PHC string format
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key> (unpadded
// base64). Tills and HQ use it alike: HQ makes the PIN hashes it sends
// down, and the tills check them with the same parser and bounds.
//
// A hash is data from the CRDT or HQ's storage, so it may be damaged or
// hostile: Parse refuses parameters outside one set of bounds (at most
// 256 MiB, 10 passes, 4 lanes) with an error naming the parameter, so a
// login never allocates more than that. The package is pure but for the
// salt that Hash reads from crypto/rand; it is safe for concurrent use,
// and runs one argon2id computation at a time (each holds its memory
// parameter on the heap).
package pinhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. They are written into every
// hash, so they can change without invalidating stored hashes.
type Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// Default is one of OWASP's equivalent argon2id minimums (7 MiB, 5
// passes, 1 lane; the same cost to an attacker as 19 MiB and 2 passes):
// about 30-50 ms on a till, and 12 MB less memory per login on a till
// that must stay under 60 MB (BENCHMARKS.md, "Footprint"). A 4-digit PIN
// still falls to an offline search in minutes; the hashes' protection is
// that they never leave the store's tills and HQ, and the back-off on
// login. Hashes made with the earlier default (19 MiB, 2 passes) keep
// their parameters and still verify.
var Default = Params{Time: 5, MemoryKiB: 7 * 1024, Threads: 1}

// Bounds on the parameters and lengths of a hash that Parse accepts.
const (
	MinMemoryKiB = 8
	MaxMemoryKiB = 256 * 1024 // 256 MiB
	MaxTime      = 10
	MaxThreads   = 4
	SaltLen      = 16 // what Hash makes; Parse accepts 8..64
	KeyLen       = 32 // what Hash makes; Parse accepts 16..64
)

// Errors Parse and Verify return wrap one of these.
var (
	ErrFormat = errors.New("pinhash: not an argon2id PHC string")
	ErrBounds = errors.New("pinhash: parameters out of bounds")
)

// A Hash is a parsed argon2id hash.
type Hash struct {
	Params
	Salt, Key []byte
}

// Validate checks the parameters against the bounds.
func (p Params) Validate() error {
	switch {
	case p.MemoryKiB < MinMemoryKiB || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB, want %d..%d", ErrBounds, p.MemoryKiB, MinMemoryKiB, MaxMemoryKiB)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: %d passes, want 1..%d", ErrBounds, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: %d lanes, want 1..%d", ErrBounds, p.Threads, MaxThreads)
	}
	return nil
}

// New hashes secret with p and a fresh random salt.
func New(secret string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("pin hash salt: %w", err)
	}
	h := Hash{Params: p, Salt: salt, Key: idKey([]byte(secret), salt, p, KeyLen)}
	return h.String(), nil
}

func (h Hash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.MemoryKiB, h.Time, h.Threads,
		b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// Parse reads a PHC string. Parameters outside the bounds wrap
// ErrBounds; anything else that is not an argon2id hash of this version
// wraps ErrFormat.
func Parse(s string) (Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Hash{}, ErrFormat
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Hash{}, fmt.Errorf("%w: version %.16q, want v=%d", ErrFormat, parts[2], argon2.Version)
	}
	var h Hash
	var m, t, p uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return Hash{}, fmt.Errorf("%w: parameters %.40q", ErrFormat, parts[3])
	}
	if m > MaxMemoryKiB || t > MaxTime || p > MaxThreads {
		return Hash{}, fmt.Errorf("%w: m=%d KiB (at most %d), t=%d (at most %d), p=%d (at most %d)",
			ErrBounds, m, MaxMemoryKiB, t, MaxTime, p, MaxThreads)
	}
	h.Params = Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(p)}
	if err := h.Params.Validate(); err != nil {
		return Hash{}, err
	}
	// Go's base64 decoders skip \r and \n, even Strict ones: refuse them,
	// so a hash has one spelling.
	if strings.ContainsAny(parts[4], "\r\n") || strings.ContainsAny(parts[5], "\r\n") {
		return Hash{}, fmt.Errorf("%w: line break in the salt or key", ErrFormat)
	}
	var err1, err2 error
	strict := base64.RawStdEncoding.Strict() // one spelling per hash
	h.Salt, err1 = strict.DecodeString(parts[4])
	h.Key, err2 = strict.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.Salt) < 8 || len(h.Salt) > 64 || len(h.Key) < 16 || len(h.Key) > 64 {
		return Hash{}, fmt.Errorf("%w: bad salt or key", ErrFormat)
	}
	return h, nil
}

// Verify reports whether secret matches hash, in constant time. A hash
// it cannot read is an error, never a match.
func Verify(hash, secret string) (bool, error) {
	h, err := Parse(hash)
	if err != nil {
		return false, err
	}
	got := idKey([]byte(secret), h.Salt, h.Params, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(got, h.Key) == 1, nil
}

// slot lets one argon2id computation run at a time in the process: each
// holds its whole memory parameter (7-19 MiB) on the heap, so four
// cashiers logging in at once would otherwise take 28-76 MB at that
// moment. A login waits a hash's 30-50 ms per login ahead of it.
var (
	slot                = make(chan struct{}, 1)
	running, maxRunning atomic.Int32 // for the test of slot
)

func idKey(secret, salt []byte, p Params, keyLen uint32) []byte {
	slot <- struct{}{}
	defer func() { <-slot }()
	n := running.Add(1)
	defer running.Add(-1)
	if n > maxRunning.Load() {
		maxRunning.Store(n)
	}
	return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
}
