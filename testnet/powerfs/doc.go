// Package powerfs is a FUSE file system that loses power on command. It
// serves a backing directory through a mount point and behaves like a
// disk with a volatile write cache: what a program writes is visible at
// once through the mount, but reaches the backing directory only when
// an fsync says so, and Cut drops everything that was not synced, as a
// power cut would. testnet's power-cut step runs tills on it.
//
// # The models
//
// Two models, chosen at Mount. POSIX (the default): data and names are
// made durable separately, as POSIX requires and as portable crash-safe
// code must assume:
//
//   - A file's contents and size (write, truncate, fallocate, a write
//     past the end) are durable once the file is fsynced (fsync or
//     fdatasync; msync of a shared mapping ends in an fsync). Until then
//     they live in the file system's own page cache, 4 KiB pages over the
//     durable contents, and a cut drops them.
//   - A directory's entries (create, mkdir, unlink, rmdir, rename into or
//     out of it) are durable once the directory itself is fsynced. A cut
//     puts back the entries of each directory as of its last fsync.
//   - An entry made durable names the file, not a copy of it: it shows
//     the file's durable contents at the cut. So a file created and
//     written but never fsynced, whose directory was fsynced afterwards
//     (because another file was created next to it), comes back empty,
//     0 bytes; a file created and fsynced whose directory never was
//     disappears.
//   - A directory moved to another directory is durable in its new
//     place once the new parent is fsynced (and is gone from the old
//     place then, as directories have one name); a file moved across
//     directories is durable at its new name when the new parent is
//     fsynced and stays at its old name until the old parent is.
//   - Modes and times are written through at once; they are not what a
//     program's recovery depends on.
//
// POSIX is the worst case of ext4 with data=ordered: ext4 loses at
// most this much, and often less, since its journal commits every 5 s
// and an fsync commits every metadata change made so far by anyone. It
// is what LazyFS allows, and the model to test code that must be right
// on any file system.
//
// Ext4 is what ext4 with data=ordered loses at worst on a till's disk:
// the namespace is journaled, so any fsync (of any file or directory)
// makes every create, rename, unlink and mkdir made so far durable, in
// every directory; contents and sizes still need their own file's fsync
// (with delayed allocation a file's size reaches the disk with its
// data). So a file created and written but never fsynced comes back
// empty once anyone fsyncs, as Badger's new .mem and .vlog files do
// (dgraph-io/badger#2207), and a file fsynced keeps its name. (Real
// ext4 journals an ftruncate's size too; we keep sizes with the data,
// which is what LazyFS showed.) Neither model ever shows stale blocks,
// as data=ordered does not.
//
// Both drop everything unsynced at a cut, never a random part of it: a
// crash test should find what can go wrong, not what usually does.
//
// # Storage
//
// Every regular file's durable contents live in a file of its own in a
// store directory next to the backing one (backing + ".powerfs", same
// file system); the backing directory holds hard links to those files,
// one per durable name, and real directories. At any moment the backing
// directory is exactly the state a cut would leave. A cut is: hold
// every further operation unanswered (Freeze: the power is off, nothing
// changes), let the caller kill the programs using the mount, answer the
// held operations with EIO (Release: the killed programs, stuck in the
// kernel until answered, exit without running another instruction),
// unmount, forget the cache, rebuild from the backing directory, mount
// again. Failing operations with EIO at once instead would let a program
// go on after a failed fsync and, say, answer a retried request from a
// write that was never durable (Badger leaves a commit whose sync
// failed in its memtable): a disk without power answers nothing.
//
// Not supported: hard links, symbolic links, special files, extended
// attributes, RENAME_EXCHANGE and O_DIRECT. Mounting needs /dev/fuse and
// the right to mount (root, or CAP_SYS_ADMIN); Available says whether
// this machine has both, and why not.
package powerfs
