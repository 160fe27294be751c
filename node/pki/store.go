package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/badgeropen"
)

// File names in a store directory (made by InitStore) and a till's data
// directory.
const (
	StoreFileName    = "store.json" // for tills: store ID, PSK, CA public key
	CAKeyFileName    = "ca.key"     // stays with whoever enrolls tills
	EnrolledFileName = "enrolled.json"
	TillKeyFileName  = "till.key"
	TillCertFileName = "till.cert"
)

// StoreFile is what every till of a store holds: the store's ID, the
// private-network key of its LAN mesh and the CA public key that signs
// till certificates. It is secret (the PSK): mode 0600.
type StoreFile struct {
	ID   ledger.StoreID    `json:"id"`
	Name string            `json:"name"`
	PSK  hexBytes          `json:"psk"`
	CA   ed25519.PublicKey `json:"ca"`
}

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	*h = v
	return err
}

// PSKBytes returns the 32-byte private-network key.
func (s *StoreFile) PSKBytes() [32]byte {
	var k [32]byte
	copy(k[:], s.PSK)
	return k
}

// LoadStoreFile reads and checks a store file.
func LoadStoreFile(path string) (*StoreFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read store file: %w (a till's data directory gets one from `tillmesh store enroll`, a store directory from `tillmesh store init`: README, \"Running a real store\")", err)
		}
		return nil, fmt.Errorf("read store file: %w", err)
	}
	var s StoreFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("store file %s: %w", path, err)
	}
	switch {
	case len(s.PSK) != 32:
		return nil, fmt.Errorf("store file %s: psk is %d bytes, want 32", path, len(s.PSK))
	case len(s.CA) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("store file %s: ca is %d bytes, want %d", path, len(s.CA), ed25519.PublicKeySize)
	case s.ID == ledger.StoreID{}:
		return nil, fmt.Errorf("store file %s: no store id", path)
	}
	return &s, nil
}

// InitStore creates a store's secret material in dir: a random store ID,
// a 32-byte PSK and a CA key pair. The store file for tills and the CA's
// private key are separate files. It refuses to overwrite a store.
func InitStore(dir, name string) (*StoreFile, error) {
	if name == "" {
		return nil, errors.New("store init: a store needs a name")
	}
	if _, err := os.Stat(filepath.Join(dir, StoreFileName)); err == nil {
		return nil, fmt.Errorf("store init: %s already holds a store; refusing to overwrite it", dir)
	}
	s := &StoreFile{Name: name, PSK: make([]byte, 32)}
	if _, err := rand.Read(s.ID[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(s.PSK); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store init: %w", err)
	}
	ca, err := LoadOrCreateKey(filepath.Join(dir, CAKeyFileName))
	if err != nil {
		return nil, err
	}
	s.CA = ca.Public().(ed25519.PublicKey)
	if err := WriteJSON(filepath.Join(dir, StoreFileName), s); err != nil {
		return nil, err
	}
	return s, nil
}

// Enrolled is one issued certificate, as the store directory records it.
type Enrolled struct {
	Number uint32        `json:"number"`
	Name   string        `json:"name"`
	Till   ledger.TillID `json:"till"`
	Issued time.Time     `json:"issued"`
}

// Enroll certifies the till whose data directory is tillDir (creating its
// key if it has none) as number in the store in dir, writes the
// certificate and a copy of the store file into tillDir, and records it in
// dir's registry. A number is never given to a second key: a till rebuilt
// after disk loss gets a new key and needs a new number, or its receipt
// numbers would repeat.
func Enroll(dir, tillDir string, number uint32, name string, now time.Time) (*ledger.Certificate, error) {
	if number == 0 {
		return nil, errors.New("store enroll: till numbers start at 1")
	}
	store, err := LoadStoreFile(filepath.Join(dir, StoreFileName))
	if err != nil {
		return nil, err
	}
	ca, err := LoadKey(filepath.Join(dir, CAKeyFileName))
	if err != nil {
		return nil, fmt.Errorf("store enroll: the store CA key: %w", err)
	}
	key, err := LoadOrCreateKey(filepath.Join(tillDir, TillKeyFileName))
	if err != nil {
		return nil, err
	}
	till := ledger.TillOf(key)
	var reg []Enrolled
	regPath := filepath.Join(dir, EnrolledFileName)
	if b, err := os.ReadFile(regPath); err == nil {
		if err := json.Unmarshal(b, &reg); err != nil {
			return nil, fmt.Errorf("store enroll: %s: %w", regPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range reg {
		if e.Number == number && e.Till != till {
			return nil, fmt.Errorf("store enroll: till number %d belongs to till %s (%s); a new or rebuilt till needs a number never used before, so receipt numbers stay unique", number, e.Till.Short(), e.Name)
		}
		if e.Till == till && e.Number != number {
			return nil, fmt.Errorf("store enroll: this till is already number %d", e.Number)
		}
	}
	cert := &ledger.Certificate{Store: store.ID, Till: till, Number: number, Name: name, Issued: now.UnixMilli()}
	if err := cert.Sign(ca); err != nil {
		return nil, err
	}
	b, err := cert.Encode()
	if err != nil {
		return nil, err
	}
	if err := WriteFile(filepath.Join(tillDir, TillCertFileName), b); err != nil {
		return nil, err
	}
	if err := WriteJSON(filepath.Join(tillDir, StoreFileName), store); err != nil {
		return nil, err
	}
	known := false
	for _, e := range reg {
		known = known || e.Till == till
	}
	if !known {
		reg = append(reg, Enrolled{Number: number, Name: name, Till: till, Issued: now.UTC()})
		if err := WriteJSON(regPath, reg); err != nil {
			return nil, err
		}
	}
	return cert, nil
}

// LoadCertificate reads a till's certificate and checks it against the
// store and the till's own key.
func LoadCertificate(path string, store *StoreFile, key ed25519.PrivateKey) (*ledger.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read till certificate (enroll the till first: tillmesh store enroll): %w", err)
	}
	c, err := ledger.DecodeCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("till certificate %s: %w", path, err)
	}
	if err := c.Verify(store.CA, store.ID); err != nil {
		return nil, fmt.Errorf("till certificate %s: %w", path, err)
	}
	if c.Till != ledger.TillOf(key) {
		return nil, fmt.Errorf("till certificate %s is for till %s, but this till's key is %s", path, c.Till.Short(), ledger.TillOf(key).Short())
	}
	return c, nil
}

// LoadKey reads an existing key (LoadOrCreateKey without the creating).
func LoadKey(path string) (ed25519.PrivateKey, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return LoadOrCreateKey(path)
}

// WriteJSON writes v as indented JSON with WriteFile.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteFile writes atomically with mode 0600: temp file, fsync, rename,
// then fsync the directory (and its parent, which may have just gained
// it), so a power cut leaves the old file or the new one, never none.
func WriteFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := badgeropen.SyncDir(d); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
