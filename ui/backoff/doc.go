// Package backoff slows down the guessing of PINs and passwords. A
// Limiter keeps, per key, how many checks have been made and failed, and
// refuses a new check while the key's wait runs. It serves the till's
// login, unlock and approvals (package ui) and HQ's dashboard login.
//
// The point of the package is that an attempt is counted before the
// secret is checked (Reserve), in one step with the test that the key is
// not waiting: however many requests arrive at once, at most Rule.Free
// checks run before the key backs off. A success hands the attempt back
// (Ticket.Success), a failure keeps it.
//
// Callers combine keys with different rules: a tight one per (account,
// client) that may back off for minutes, and a ceiling per account whose
// wait is short, so that nobody can lock an account's owner out for long
// by guessing from many clients.
//
// backoff is pure apart from its mutex: time comes in as an argument, it
// logs nothing and imports only the standard library. A Limiter is safe
// for concurrent use.
package backoff
