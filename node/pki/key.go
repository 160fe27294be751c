package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// LoadOrCreateKey reads the till's ed25519 key from path, or creates one
// (mode 0600) if the file does not exist. The same key signs the till's
// ledger and is its libp2p identity, so a restart keeps both.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate till key: %w", err)
		}
		data := hex.EncodeToString(key.Seed()) + "\n"
		if err := WriteFile(path, []byte(data)); err != nil { // synced: a cut leaves no empty key
			return nil, fmt.Errorf("write till key %s: %w", path, err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read till key %s: %w", path, err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("till key %s: want %d hex-encoded bytes", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
