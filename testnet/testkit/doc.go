// Package testkit is what the repository's tests share: a guard on a
// package's imports (Imports), polling a condition with a deadline
// (WaitFor) and a logger that is quiet unless TILLMESH_TEST_LOG is set
// (Quiet). Only tests import it; it imports nothing of this module.
package testkit
