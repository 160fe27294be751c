// Package browsertest drives the till web UI in a real browser: two real
// tills of one store on this machine (libp2p on loopback, each with its
// HTTP UI) and Debian's chromium under chromedp, headless.
//
// The tests skip, saying why, when no chromium is installed (apt-get
// install -y chromium; .ci/run installs it). They never sleep to wait:
// every wait is chromedp's WaitVisible or Poll, or a poll with a deadline.
//
// Screenshots of the main screens go to a temporary directory, or to
// docs/screenshots for the README with
//
//	go test ./ui/browsertest -screenshots ../../docs/screenshots
//
// This package has only tests; it may import node (package ui may not).
package browsertest
