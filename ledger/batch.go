package ledger

import (
	"bytes"
	"crypto/sha256"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// batchSize is how many signatures VerifyAll checks in one batch
// equation: the cost per signature falls with the batch and levels off
// in the hundreds; a bad signature costs a serial pass over its batch.
const batchSize = 256

// batchOptions are curve25519-voi's default rules: the cofactored
// equation, which batch verification needs, and canonical, non
// small-order public keys (every till key is made by ed25519.GenerateKey).
var batchOptions = &voi.Options{Verify: voi.VerifyOptionsDefault}

// VerifyAll checks what Verify checks for every event (signature and own
// invariants), verifying the signatures in batches: one batch equation
// over up to 256 signatures costs a fraction of that many single checks.
// It returns nil if every event verifies, otherwise one error per event,
// nil for the good ones; each error is the one Verify returns.
//
// The one difference from Verify: a batch accepts a signature when the
// cofactored verification equation holds, while crypto/ed25519 also
// rejects a signature whose R has a small-order component. Only the
// holder of a till's key can make such a signature (it is a valid
// signature with a torsion point added), so it authenticates the event
// as much as any; sync (VerifyRun) checks the newest signature of a run
// with crypto/ed25519 and the rest by hash chain only. A signature the
// batch rejects is checked again with crypto/ed25519, so VerifyAll never
// rejects what Verify accepts.
//
// The batch's random coefficients are derived from a hash of everything
// it checks, so VerifyAll is deterministic (the ledger uses no randomness)
// and a signer cannot pick signatures that cancel in the equation without
// breaking SHA-256.
func VerifyAll(evs []*Event) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(evs))
		}
		errs[i] = err
	}
	keys := map[TillID]*voi.ExpandedPublicKey{}
	bv := voi.NewBatchVerifierWithCapacity(min(len(evs), batchSize))
	var idx []int // events in the current batch
	seed := sha256.New()
	flush := func() {
		if len(idx) == 0 {
			return
		}
		ok, valid := bv.Verify(bytes.NewReader(seed.Sum(nil)))
		if !ok {
			for j, i := range idx {
				if !valid[j] {
					if err := evs[i].verifySig(); err != nil {
						fail(i, err)
					}
				}
			}
		}
		bv.Reset()
		seed.Reset()
		idx = idx[:0]
	}
	for i, e := range evs {
		if err := e.Check(); err != nil {
			fail(i, err)
			continue
		}
		if len(e.Sig) != voi.SignatureSize {
			fail(i, e.errorf(ErrBadSignature, "signature is %d bytes", len(e.Sig)))
			continue
		}
		msg := e.signedPart()
		if msg != nil { // the ID hashes the recorded bytes: message and signature
			seed.Write(e.id[:])
		} else {
			var err error
			if msg, err = e.encode(nil); err != nil {
				fail(i, e.errorf(ErrMalformed, "%v", err))
				continue
			}
			seed.Write(msg)
			seed.Write(e.Sig)
		}
		k, ok := keys[e.Till]
		if !ok {
			k, _ = voi.NewExpandedPublicKey(voi.PublicKey(e.Till[:]))
			keys[e.Till] = k
		}
		if k == nil { // not a point: only the serial check can say why
			if err := e.verifySig(); err != nil {
				fail(i, err)
			}
			continue
		}
		bv.AddExpandedWithOptions(k, msg, e.Sig, batchOptions)
		seed.Write(e.Till[:])
		idx = append(idx, i)
		if len(idx) == batchSize {
			flush()
		}
	}
	flush()
	return errs
}
