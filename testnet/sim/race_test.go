//go:build race

package sim

// raceEnabled shortens the seed sweep under the race detector, which
// slows the single-goroutine simulator (signatures above all) about
// eightfold and has little to find in it.
const raceEnabled = true
