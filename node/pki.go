package node

import (
	"crypto/ed25519"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/pki"
)

// The store's keys and certificates are node/pki's. These names remain
// for the till's start-up (till.go), revocation (revoke.go) and the
// commands that still spell them node.X; new code uses pki directly.
const (
	StoreFileName    = pki.StoreFileName
	CAKeyFileName    = pki.CAKeyFileName
	EnrolledFileName = pki.EnrolledFileName
	TillKeyFileName  = pki.TillKeyFileName
	TillCertFileName = pki.TillCertFileName
)

// StoreFile is pki.StoreFile.
type StoreFile = pki.StoreFile

// Enrolled is pki.Enrolled.
type Enrolled = pki.Enrolled

// LoadStoreFile is pki.LoadStoreFile.
func LoadStoreFile(path string) (*StoreFile, error) { return pki.LoadStoreFile(path) }

// LoadCertificate is pki.LoadCertificate.
func LoadCertificate(path string, store *StoreFile, key ed25519.PrivateKey) (*ledger.Certificate, error) {
	return pki.LoadCertificate(path, store, key)
}

func loadKey(path string) (ed25519.PrivateKey, error) { return pki.LoadKey(path) }

func writeJSON(path string, v any) error { return pki.WriteJSON(path, v) }

// InitStore is pki.InitStore (the demo calls it).
func InitStore(dir, name string) (*StoreFile, error) { return pki.InitStore(dir, name) }

// Enroll is pki.Enroll (the demo calls it).
func Enroll(dir, tillDir string, number uint32, name string, now time.Time) (*ledger.Certificate, error) {
	return pki.Enroll(dir, tillDir, number, name, now)
}
