// Package hqapi is the wire between a store's relay and HQ: the request
// and answer types, the request signature (Sign, ParseAuth, Verify), the
// bounded decoders HQ runs on what relays send (fuzzed), and a Client.
// It is small on purpose: a till imports it without HQ's storage.
//
// Every decoder here reads bytes from the network: each has a size limit
// and is a fuzz target. Nothing here touches disk or starts goroutines;
// Client is safe for concurrent use.
package hqapi
