package powerfs

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

const pageSize = 4096

// fileNode is a regular file: its durable contents in its store file
// (durSize bytes), and what was written since its last fsync in dirty
// pages over them. Store-file bytes at or past trunc were cut off by a
// truncate since then and read as zeros.
type fileNode struct {
	gofs.Inode
	g      *generation
	id     uint64
	perm   uint32
	inited bool
	mtime  time.Time

	data    fileIO
	durSize int64
	size    int64
	trunc   int64
	dirty   map[int64][]byte // page index -> pageSize bytes
}

// fileIO is what a file node needs of its store file (an *os.File).
type fileIO interface {
	ReadAt(b []byte, off int64) (int, error)
	WriteAt(b []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

var (
	_ gofs.NodeGetattrer = (*fileNode)(nil)
	_ gofs.NodeSetattrer = (*fileNode)(nil)
	_ gofs.NodeOpener    = (*fileNode)(nil)
	_ gofs.NodeReader    = (*fileNode)(nil)
	_ gofs.NodeWriter    = (*fileNode)(nil)
	_ gofs.NodeFsyncer   = (*fileNode)(nil)
	_ gofs.NodeFlusher   = (*fileNode)(nil)
	_ gofs.NodeReleaser  = (*fileNode)(nil)
	_ gofs.NodeAllocater = (*fileNode)(nil)
	_ gofs.NodeStatfser  = (*fileNode)(nil)
)

func (n *fileNode) ino() uint64      { return n.id }
func (n *fileNode) fileMode() uint32 { return syscall.S_IFREG | n.perm }
func (n *fileNode) initDone() bool   { return n.inited }
func (n *fileNode) setInit()         { n.inited = true }

func (n *fileNode) storePath() string {
	return filepath.Join(n.g.fs.store, fmt.Sprintf("%d", n.id))
}

func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := n.g.lock(); e != 0 {
		return e
	}
	defer n.g.unlock()
	fillAttr(n, &out.Attr)
	return 0
}

func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.g.lock(); e != 0 {
		return e
	}
	defer n.g.unlock()
	if m, ok := in.GetMode(); ok {
		n.perm = m & 0o7777
	}
	if sz, ok := in.GetSize(); ok {
		n.resize(int64(sz))
		n.mtime = time.Now()
	}
	if t, ok := in.GetMTime(); ok {
		n.mtime = t
	}
	fillAttr(n, &out.Attr)
	return 0
}

// resize sets the visible size: pages past a shrink are dropped, the
// store file's bytes past it hidden.
func (n *fileNode) resize(sz int64) {
	if sz < n.size {
		for idx, pg := range n.dirty {
			start := idx * pageSize
			switch {
			case start >= sz:
				delete(n.dirty, idx)
			case start+pageSize > sz:
				clear(pg[sz-start:])
			}
		}
		n.trunc = min(n.trunc, sz)
	}
	n.size = sz
}

func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	if e := n.g.lock(); e != 0 {
		return nil, 0, e
	}
	defer n.g.unlock()
	if flags&syscall.O_DIRECT != 0 {
		return nil, 0, syscall.EINVAL
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// page returns page idx as it reads now: dirty, or from the store file
// up to trunc and zeros after.
func (n *fileNode) page(idx int64) ([]byte, error) {
	if pg, ok := n.dirty[idx]; ok {
		return pg, nil
	}
	pg := make([]byte, pageSize)
	return pg, n.readStore(pg, idx*pageSize)
}

// readStore fills b with the store file's bytes at off, zeros past
// trunc.
func (n *fileNode) readStore(b []byte, off int64) error {
	clear(b)
	limit := min(n.trunc, n.durSize)
	if off >= limit {
		return nil
	}
	m := min(int64(len(b)), limit-off)
	if k, err := n.data.ReadAt(b[:m], off); err != nil {
		return fmt.Errorf("read store file at %d (+%d): read %d: %w", off, m, k, err)
	}
	return nil
}

func (n *fileNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := n.g.lock(); e != 0 {
		return nil, e
	}
	defer n.g.unlock()
	if off >= n.size {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), n.size)
	buf := dest[:end-off]
	// Runs of clean pages are read from the store file in one go.
	clean := int64(-1) // start of the current run of clean pages
	flush := func(to int64) error {
		if clean < 0 {
			return nil
		}
		err := n.readStore(buf[clean-off:to-off], clean)
		clean = -1
		return err
	}
	for pos := off; pos < end; {
		idx := pos / pageSize
		in := pos - idx*pageSize
		m := min(pageSize-in, end-pos)
		if pg, ok := n.dirty[idx]; ok {
			if err := flush(pos); err != nil {
				n.g.fs.log.Error("powerfs: read", "file", n.id, "err", err)
				return nil, syscall.EIO
			}
			copy(buf[pos-off:pos-off+m], pg[in:in+m])
		} else if clean < 0 {
			clean = pos
		}
		pos += m
	}
	if err := flush(end); err != nil {
		n.g.fs.log.Error("powerfs: read", "file", n.id, "err", err)
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(buf), 0
}

func (n *fileNode) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if e := n.g.lock(); e != 0 {
		return 0, e
	}
	defer n.g.unlock()
	if err := n.write(data, off); err != nil {
		n.g.fs.log.Error("powerfs: write", "file", n.id, "err", err)
		return 0, syscall.EIO
	}
	n.mtime = time.Now()
	return uint32(len(data)), 0
}

func (n *fileNode) write(data []byte, off int64) error {
	end := off + int64(len(data))
	for pos := off; pos < end; {
		idx := pos / pageSize
		in := pos - idx*pageSize
		m := min(pageSize-in, end-pos)
		pg, ok := n.dirty[idx]
		if !ok {
			var err error
			if pg, err = n.page(idx); err != nil {
				return err
			}
			n.dirty[idx] = pg
		}
		copy(pg[in:in+m], data[pos-off:pos-off+m])
		pos += m
	}
	n.size = max(n.size, end)
	return nil
}

// Fsync makes the file's contents and size durable (not its names).
func (n *fileNode) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if e := n.g.lock(); e != 0 {
		return e
	}
	defer n.g.unlock()
	if err := n.sync(); err != nil {
		n.g.fs.log.Error("powerfs: fsync", "file", n.id, "err", err)
		return syscall.EIO
	}
	if n.g.fs.model == Ext4 {
		if err := n.g.commitAll(); err != nil {
			n.g.fs.log.Error("powerfs: fsync: journal commit", "err", err)
			return syscall.EIO
		}
	}
	return 0
}

func (n *fileNode) sync() error {
	if n.trunc < n.durSize {
		if err := n.data.Truncate(n.trunc); err != nil {
			return err
		}
	}
	for idx, pg := range n.dirty {
		start := idx * pageSize
		if start >= n.size {
			continue
		}
		if _, err := n.data.WriteAt(pg[:min(pageSize, n.size-start)], start); err != nil {
			return err
		}
	}
	if err := n.data.Truncate(n.size); err != nil {
		return err
	}
	if err := n.data.Sync(); err != nil {
		return err
	}
	n.durSize, n.trunc = n.size, n.size
	clear(n.dirty)
	return nil
}

func (n *fileNode) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno   { return 0 }
func (n *fileNode) Release(ctx context.Context, fh gofs.FileHandle) syscall.Errno { return 0 }

// Allocate extends the file (mode 0) or does nothing (KEEP_SIZE); the
// zeros it adds are as volatile as a write.
func (n *fileNode) Allocate(ctx context.Context, fh gofs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	if e := n.g.lock(); e != 0 {
		return e
	}
	defer n.g.unlock()
	switch {
	case mode == 0:
		if end := int64(off + size); end > n.size {
			n.resize(end)
		}
		return 0
	case mode == unix.FALLOC_FL_KEEP_SIZE:
		return 0
	}
	return syscall.EOPNOTSUPP
}

func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(n.g.fs.backing, out)
}
