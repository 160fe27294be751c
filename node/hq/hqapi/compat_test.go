package hqapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestUploadFromNewerRelay: fields a newer relay adds are ignored, in
// both content types, and what this HQ knows is read as sent.
func TestUploadFromNewerRelay(t *testing.T) {
	u := seedUpload()
	b, err := EncodeUpload(u)
	if err != nil {
		t.Fatal(err)
	}
	var m map[uint64]any
	if err := cbor.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m[99] = "a field from a newer relay"
	nb, err := cbor.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeUpload(ContentCBOR, nb)
	if err != nil || got.Fence != 3 || len(got.Events) != 1 || len(got.Versions) != 1 {
		t.Fatalf("cbor upload with a newer field: %+v %v", got, err)
	}
	got, err = DecodeUpload(ContentJSON, []byte(`{"fence":4,"events":[],"gift_cards":[1,2]}`))
	if err != nil || got.Fence != 4 {
		t.Fatalf("json upload with a newer field: %+v %v", got, err)
	}
	// Limits still hold.
	for till := range u.Versions {
		u.Versions[till] = strings.Repeat("v", MaxReleaseLen+1)
	}
	if b, err = EncodeUpload(u); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeUpload(ContentCBOR, b); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("a version over the limit: %v, want ErrBadRequest", err)
	}
}
