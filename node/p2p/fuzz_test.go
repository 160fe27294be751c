package p2p

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeHello feeds the hello decoder arbitrary bytes, as a peer may:
// it must return ErrBadHello or a certificate, never panic, and a
// certificate it returns must survive a round trip.
func FuzzDecodeHello(f *testing.F) {
	s := newTestStore(f)
	cert := s.enroll(f, newKey(f), 3)
	enc, err := cert.Encode()
	if err != nil {
		f.Fatal(err)
	}
	valid := encodeHello(enc)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0xff, 0xff, 0x03, 0xa0})
	f.Add(append([]byte{0x05}, 0xa1, 0x01, 0x41, 0x00, 0x00))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeHello(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadHello) {
				t.Fatalf("error %v does not wrap ErrBadHello", err)
			}
			return
		}
		enc1, err := c.Encode()
		if err != nil {
			t.Fatalf("decoded certificate does not encode: %v", err)
		}
		c2, err := decodeHello(bytes.NewReader(encodeHello(enc1)))
		if err != nil {
			t.Fatalf("re-encoded hello does not decode: %v", err)
		}
		enc2, err := c2.Encode()
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("round trip changed the certificate: %x != %x (%v)", enc1, enc2, err)
		}
	})
}

// FuzzDecodeHello2 feeds the hello 2 decoder arbitrary bytes: it must
// return ErrBadHello or a certificate and a release within the limit,
// never panic; keys a newer release adds are ignored.
func FuzzDecodeHello2(f *testing.F) {
	s := newTestStore(f)
	cert := s.enroll(f, newKey(f), 3)
	enc, err := cert.Encode()
	if err != nil {
		f.Fatal(err)
	}
	valid, err := encodeHelloV2(enc, "v1.2.3")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(encodeHello([]byte{0xa1, 0x03, 0x61, 'x'}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, rel, err := decodeHelloOf(HelloProtocolV2, bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadHello) {
				t.Fatalf("error %v does not wrap ErrBadHello", err)
			}
			return
		}
		if c == nil || len(rel) > MaxReleaseLen {
			t.Fatalf("decoded hello 2: cert %v, release of %d bytes", c, len(rel))
		}
	})
}
