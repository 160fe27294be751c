/*
 * SPDX-FileCopyrightText: © 2017-2025 Istari Digital, Inc.
 * SPDX-License-Identifier: Apache-2.0
 */

package y

import "errors"

// ErrZSTD is the error of any ZSTD use. tillmesh's fork does not build in
// ZSTD (klauspost/compress/zstd, about 0.4 MB of binary): tillmesh opens
// its databases uncompressed or with Snappy and never wrote ZSTD, and Open
// refuses options.ZSTD.
var ErrZSTD = errors.New("badger: ZSTD compression is not built into this fork (tillmesh)")

// ZSTDDecompress fails: see ErrZSTD.
func ZSTDDecompress(dst, src []byte) ([]byte, error) { return nil, ErrZSTD }

// ZSTDCompress fails: see ErrZSTD.
func ZSTDCompress(dst, src []byte, compressionLevel int) ([]byte, error) { return nil, ErrZSTD }

// ZSTDCompressBound returns the worst case size needed for a destination buffer.
// Klauspost ZSTD library does not provide any API for Compression Bound. This
// calculation is based on the DataDog ZSTD library.
// See https://pkg.go.dev/github.com/DataDog/zstd#CompressBound
func ZSTDCompressBound(srcSize int) int {
	lowLimit := 128 << 10 // 128 kB
	var margin int
	if srcSize < lowLimit {
		margin = (lowLimit - srcSize) >> 11
	}
	return srcSize + (srcSize >> 8) + margin
}
