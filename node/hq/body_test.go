package hq_test

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// countingBody is a request body that counts what the server reads.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestUploadAuthenticatedBeforeItsBodyIsRead is finding 9: an unsigned
// 31 MB upload was read and decoded before it was refused. Now HQ
// refuses by the headers, reading nothing, and a body longer than it was
// signed for is cut off by a counting reader.
func TestUploadAuthenticatedBeforeItsBodyIsRead(t *testing.T) {
	store := hqtest.NewStore(150, 1)
	h, _ := httpHQ(t, store)
	path := hqapi.EventsPath(store.ID)
	send := func(length int64, body io.Reader, sign func(*http.Request)) (int, int64) {
		cb := &countingBody{r: body}
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Body, req.ContentLength = cb, length
		req.Header.Set("Content-Type", hqapi.ContentCBOR)
		if sign != nil {
			sign(req)
		}
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, req)
		return rec.Code, cb.read.Load()
	}
	const big = 31 << 20
	signWith := func(key ed25519.PrivateKey, cert []byte, declared []byte) func(*http.Request) {
		return func(req *http.Request) { hqapi.Sign(req, key, cert, declared, time.Now().UnixMilli()) }
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	small := []byte("a small body")
	for _, tc := range []struct {
		name   string
		length int64
		body   io.Reader
		sign   func(*http.Request)
		code   int
		most   int64 // bytes the server may read
	}{
		{"unsigned 31 MB", big, io.LimitReader(zeros{}, big), nil, http.StatusUnauthorized, 0},
		{"31 MB signed by a key the store never enrolled", big, io.LimitReader(zeros{}, big),
			signWith(stranger, nil, make([]byte, big)), http.StatusForbidden, 0},
		{"declared over the limit", hqapi.MaxBody + 1, io.LimitReader(zeros{}, hqapi.MaxBody+1), nil, http.StatusRequestEntityTooLarge, 0},
		{"Content-Length other than signed", big, io.LimitReader(zeros{}, big),
			signWith(store.Tills[0].Key, store.EncodedCerts()[0], small), http.StatusBadRequest, 0},
		{"chunked body longer than signed", -1, io.LimitReader(zeros{}, 10<<20),
			signWith(store.Tills[0].Key, store.EncodedCerts()[0], small), http.StatusRequestEntityTooLarge, int64(len(small)) + 1 + 32<<10},
	} {
		code, read := send(tc.length, tc.body, tc.sign)
		if code != tc.code || read > tc.most {
			t.Errorf("%s: status %d after reading %d bytes, want %d after at most %d", tc.name, code, read, tc.code, tc.most)
		}
	}
	if h.Vector(store.ID).Total() != 0 {
		t.Fatal("a refused upload stored events")
	}
	// The real thing still goes through.
	w := hqtest.NewWorkload(store, rand.New(rand.NewPCG(5, 5)))
	body, _ := hqapi.EncodeUpload(&hqapi.Upload{Fence: 1, Events: raws(w.Sales(3, day0, 1000))})
	code, read := send(int64(len(body)), bytes.NewReader(body), signWith(store.Tills[0].Key, store.EncodedCerts()[0], body))
	if code != http.StatusOK || read != int64(len(body)) {
		t.Fatalf("signed upload: %d after %d of %s bytes", code, read, strconv.Itoa(len(body)))
	}
}
