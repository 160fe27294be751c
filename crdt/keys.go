package crdt

import (
	"strings"

	ds "github.com/ipfs/go-datastore"
)

// Key layout inside the CRDT (relative to its namespace). Every segment is
// an ID checked by validID, so keys never need escaping.
//
//	/product/<sku>                  CBOR Product; never deleted
//	/staff/<id>                     CBOR Staff
//	/cert/<till>                    opaque signed certificate bytes
//	/revoked/<id>                   CBOR Revocation; never deleted
//	/setting/<name>                 opaque bytes
//	/stock/<sku>/<till>/<epoch>     16-byte Slot; never deleted
//	/outbox/<connector>/<kind>/<id> opaque bytes of node/outbox (outbox.go)
//
// Outside the CRDT, under the store's namespace:
//
//	<ns>/c/...                      go-ds-crdt's own state
//	<ns>/blocks/<multihash>         DAG blocks
//	<ns>/local/epoch                this incarnation's epoch (never replicated)
//	<ns>/local/open                 present while a Store is open
const (
	prefixProduct = "product"
	prefixStaff   = "staff"
	prefixCert    = "cert"
	prefixRevoked = "revoked"
	prefixSetting = "setting"
	prefixStock   = "stock"
	prefixKinds   = "kinds"
	prefixOutbox  = "outbox"
)

const prefixCustomer = "customer" // customer.go: slots and erasure markers

func keyOf(prefix, id string) ds.Key {
	return ds.RawKey("/" + prefix + "/" + id)
}

func stockKey(sku, till, epoch string) ds.Key {
	return ds.RawKey("/" + prefixStock + "/" + sku + "/" + till + "/" + epoch)
}

func prefixKey(prefix string) string {
	return "/" + prefix
}

// splitKey turns "/a/b/c" into ["a","b","c"].
func splitKey(k string) []string {
	return strings.Split(strings.TrimPrefix(k, "/"), "/")
}

// parseStockKey splits /stock/<sku>/<till>/<epoch>; ok is false for any
// other shape.
func parseStockKey(k string) (sku, till, epoch string, ok bool) {
	p := splitKey(k)
	if len(p) != 4 || p[0] != prefixStock {
		return "", "", "", false
	}
	for _, s := range p[1:] {
		if validID(s) != nil {
			return "", "", "", false
		}
	}
	return p[1], p[2], p[3], true
}

// parseIDKey splits /<prefix>/<id>; ok is false for any other shape.
func parseIDKey(k string) (prefix, id string, ok bool) {
	p := splitKey(k)
	if len(p) != 2 || validID(p[1]) != nil {
		return "", "", false
	}
	return p[0], p[1], true
}
