package hqapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The relay API is versioned like the tills' libp2p protocols: the relay
// names every version it speaks in HeaderVersions on each request, and
// HQ answers in the highest one both speak, named in HeaderVersion. A
// request without HeaderVersions speaks version 1 (relays before
// versions); an answer without HeaderVersion is version 1 (HQs before
// versions). With no version in common HQ refuses the request with
// CodeAPIVersion, saying what each side speaks.
const (
	HeaderVersions = "Tillmesh-Api-Versions" // request: "2, 1"
	HeaderVersion  = "Tillmesh-Api-Version"  // answer: "1"
	CodeAPIVersion = "api_version"
)

// Versions returns the relay API versions this build speaks, newest first.
func Versions() []int { return []int{1} }

// FormatVersions writes versions for HeaderVersions.
func FormatVersions(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// ParseVersions reads HeaderVersions; an empty header is version 1.
func ParseVersions(h string) ([]int, error) {
	if strings.TrimSpace(h) == "" {
		return []int{1}, nil
	}
	parts := strings.Split(h, ",")
	if len(parts) > 16 {
		return nil, fmt.Errorf("%w: %s lists %d versions", ErrBadRequest, HeaderVersions, len(parts))
	}
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%w: %s %q: want versions like \"2, 1\"", ErrBadRequest, HeaderVersions, h)
		}
		out = append(out, v)
	}
	return out, nil
}

// Negotiate returns the highest version in both theirs and ours, or an
// error naming both lists.
func Negotiate(theirs, ours []int) (int, error) {
	best := 0
	for _, v := range theirs {
		if v > best && slices.Contains(ours, v) {
			best = v
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no HQ API version in common: the relay speaks %s, this side %s (upgrade the older side)",
			FormatVersions(theirs), FormatVersions(ours))
	}
	return best, nil
}
