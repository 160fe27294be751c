package hq_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

// TestAPIVersionNegotiated: a relay that speaks versions 2 and 1 is
// answered in 1 (the highest both speak), one without the header is a
// version-1 relay, and one that speaks only versions HQ does not is
// refused with a clear error naming both sides.
func TestAPIVersionNegotiated(t *testing.T) {
	store := hqtest.NewStore(70, 1)
	h := newHQ(t, backends[0].open(t, backends[0].place(t)), store)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	for _, c := range []struct {
		name, header string
		wantVersion  string
		wantCode     string
	}{
		{"v1 and v2", "2, 1", "1", ""},
		{"no header", "", "1", ""},
		{"v1", "1", "1", ""},
		{"v2 only", "2", "", hqapi.CodeAPIVersion},
		{"garbage", "two", "", hqapi.CodeAPIVersion},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/stores/"+store.ID.String()+"/vector", nil)
		if c.header != "" {
			req.Header.Set(hqapi.HeaderVersions, c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body hqapi.ErrorBody
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if got := resp.Header.Get(hqapi.HeaderVersion); got != c.wantVersion {
			t.Errorf("%s: answered in version %q, want %q", c.name, got, c.wantVersion)
		}
		if c.wantCode != "" && (resp.StatusCode != http.StatusBadRequest || body.Code != c.wantCode) {
			t.Errorf("%s: %d %+v, want 400 %s", c.name, resp.StatusCode, body, c.wantCode)
		}
		if c.wantCode == "" && body.Code == hqapi.CodeAPIVersion {
			t.Errorf("%s: refused for its version: %s", c.name, body.Error)
		}
		if c.name == "v2 only" && !strings.Contains(body.Error, "relay speaks 2") {
			t.Errorf("v2 only: error %q does not say what each side speaks", body.Error)
		}
	}
	if v, err := hqapi.Negotiate([]int{3, 2, 1}, []int{2, 1}); err != nil || v != 2 {
		t.Errorf("Negotiate(3 2 1, 2 1) = %d, %v; want 2", v, err)
	}
}
