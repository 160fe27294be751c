//go:build race

package sim

// raceEnabled shortens the seed sweep under the race detector (to 100), which
// slows the single-goroutine simulator (signatures above all) about
// eightfold and has little to find in it.
const raceEnabled = true
