// Package scale decodes what retail scales send: the CAS 22-byte frame
// that CAS indicators stream continuously, and the Toledo 8217 reply to a
// 'W' request.
//
// A [Reading] says whether the weight is stable, over the capacity or
// under zero, and the weight in thousandths of its unit. A till acts only
// on a stable, in-range weight: [Reading.Usable] says whether one is.
//
// Invariants: a decoder never panics, holds a bounded amount of input and
// gives the same readings however the bytes are split between reads;
// a malformed frame is dropped and reported, never guessed at.
//
// The package is pure: no I/O, no goroutines, no logging, no clock.
package scale
