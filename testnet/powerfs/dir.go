package powerfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirNode is a directory: its entries as programs see them, and as of
// its last fsync (what a cut keeps). Once its entry is durable it exists
// in the backing directory at bParent/bName.
type dirNode struct {
	gofs.Inode
	g      *generation
	id     uint64
	perm   uint32
	inited bool
	mtime  time.Time

	entries map[string]node
	durable map[string]node

	bParent *dirNode // nil: not in the backing directory (root: isRoot)
	bName   string
}

var (
	_ gofs.NodeGetattrer = (*dirNode)(nil)
	_ gofs.NodeSetattrer = (*dirNode)(nil)
	_ gofs.NodeLookuper  = (*dirNode)(nil)
	_ gofs.NodeReaddirer = (*dirNode)(nil)
	_ gofs.NodeMkdirer   = (*dirNode)(nil)
	_ gofs.NodeCreater   = (*dirNode)(nil)
	_ gofs.NodeUnlinker  = (*dirNode)(nil)
	_ gofs.NodeRmdirer   = (*dirNode)(nil)
	_ gofs.NodeRenamer   = (*dirNode)(nil)
	_ gofs.NodeFsyncer   = (*dirNode)(nil)
	_ gofs.NodeStatfser  = (*dirNode)(nil)
)

func (d *dirNode) ino() uint64      { return d.id }
func (d *dirNode) fileMode() uint32 { return syscall.S_IFDIR | d.perm }
func (d *dirNode) initDone() bool   { return d.inited }
func (d *dirNode) setInit()         { d.inited = true }

// lock takes the model's lock. Once the power is off (Freeze) an
// operation waits, answering nothing, until Release, and then fails with
// EIO, changing nothing: a program gets no answer from a disk without
// power, so it cannot go on to act on a write that failed.
func (g *generation) lock() syscall.Errno {
	g.fs.mu.Lock()
	if g.frozen {
		released := g.released
		g.fs.mu.Unlock()
		<-released
		return syscall.EIO
	}
	return 0
}

func (g *generation) unlock() { g.fs.mu.Unlock() }

// inodeOf returns n's go-fuse inode, making it on first use.
func (d *dirNode) inodeOf(ctx context.Context, n node) *gofs.Inode {
	if !n.initDone() {
		d.NewPersistentInode(ctx, n, gofs.StableAttr{Mode: n.fileMode() & syscall.S_IFMT, Ino: n.ino()})
		n.setInit()
	}
	return n.EmbeddedInode()
}

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	fillAttr(d, &out.Attr)
	return 0
}

func (d *dirNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	if m, ok := in.GetMode(); ok {
		d.perm = m & 0o7777
	}
	if t, ok := in.GetMTime(); ok {
		d.mtime = t
	}
	fillAttr(d, &out.Attr)
	return 0
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.g.lock(); e != 0 {
		return nil, e
	}
	defer d.g.unlock()
	n, ok := d.entries[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	fillAttr(n, &out.Attr)
	return d.inodeOf(ctx, n), 0
}

func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	if e := d.g.lock(); e != 0 {
		return nil, e
	}
	defer d.g.unlock()
	var list []fuse.DirEntry
	for _, name := range sortedNames(d.entries) {
		n := d.entries[name]
		list = append(list, fuse.DirEntry{Name: name, Mode: n.fileMode(), Ino: n.ino()})
	}
	return gofs.NewListDirStream(list), 0
}

func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if e := d.g.lock(); e != 0 {
		return nil, e
	}
	defer d.g.unlock()
	if _, ok := d.entries[name]; ok {
		return nil, syscall.EEXIST
	}
	c := d.g.newDir(mode & 0o7777)
	d.entries[name] = c
	d.mtime = time.Now()
	d.g.nsDirty = true
	fillAttr(c, &out.Attr)
	return d.inodeOf(ctx, c), 0
}

func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	if e := d.g.lock(); e != 0 {
		return nil, nil, 0, e
	}
	defer d.g.unlock()
	if _, ok := d.entries[name]; ok {
		return nil, nil, 0, syscall.EEXIST
	}
	c, err := d.g.newFile(mode&0o7777, "")
	if err != nil {
		d.g.fs.log.Error("powerfs: create", "name", name, "err", err)
		return nil, nil, 0, syscall.EIO
	}
	d.entries[name] = c
	d.mtime = time.Now()
	d.g.nsDirty = true
	fillAttr(c, &out.Attr)
	return d.inodeOf(ctx, c), nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	n, ok := d.entries[name]
	switch {
	case !ok:
		return syscall.ENOENT
	case n.fileMode()&syscall.S_IFDIR != 0:
		return syscall.EISDIR
	}
	delete(d.entries, name)
	d.mtime = time.Now()
	d.g.nsDirty = true
	return 0
}

func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	n, ok := d.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	c, isDir := n.(*dirNode)
	switch {
	case !isDir:
		return syscall.ENOTDIR
	case len(c.entries) > 0:
		return syscall.ENOTEMPTY
	}
	delete(d.entries, name)
	d.mtime = time.Now()
	d.g.nsDirty = true
	return 0
}

// renameNoReplace and renameExchange are rename(2)'s flags.
const (
	renameNoReplace = 1
	renameExchange  = 2
)

func (d *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	to, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	if flags&renameExchange != 0 {
		return syscall.EINVAL
	}
	n, ok := d.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	if old, ok := to.entries[newName]; ok {
		if old == n {
			return 0
		}
		if flags&renameNoReplace != 0 {
			return syscall.EEXIST
		}
		od, oldIsDir := old.(*dirNode)
		_, newIsDir := n.(*dirNode)
		switch {
		case oldIsDir && !newIsDir:
			return syscall.EISDIR
		case !oldIsDir && newIsDir:
			return syscall.ENOTDIR
		case oldIsDir && len(od.entries) > 0:
			return syscall.ENOTEMPTY
		}
	}
	if c, ok := n.(*dirNode); ok {
		for p := to; p != nil; p = p.parentOf() {
			if p == c {
				return syscall.EINVAL // into itself
			}
		}
	}
	delete(d.entries, name)
	to.entries[newName] = n
	now := time.Now()
	d.mtime, to.mtime = now, now
	d.g.nsDirty = true
	return 0
}

// parentOf finds d's parent in the visible tree (nil for the root or a
// removed directory).
func (d *dirNode) parentOf() *dirNode {
	var find func(p *dirNode) *dirNode
	find = func(p *dirNode) *dirNode {
		for _, n := range p.entries {
			c, ok := n.(*dirNode)
			if !ok {
				continue
			}
			if c == d {
				return p
			}
			if r := find(c); r != nil {
				return r
			}
		}
		return nil
	}
	if d == d.g.root {
		return nil
	}
	return find(d.g.root)
}

// Fsync of a directory makes its entries as they are now durable.
func (d *dirNode) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if e := d.g.lock(); e != 0 {
		return e
	}
	defer d.g.unlock()
	if d.g.fs.model == Ext4 {
		if err := d.g.commitAll(); err != nil {
			d.g.fs.log.Error("powerfs: directory fsync", "err", err)
			return syscall.EIO
		}
		return 0
	}
	d.durable = make(map[string]node, len(d.entries))
	for k, v := range d.entries {
		d.durable[k] = v
	}
	if !d.materialized() {
		return 0 // its own entry is not durable yet: the entries wait for it
	}
	if err := d.reconcile(); err != nil {
		d.g.fs.log.Error("powerfs: directory fsync", "dir", d.backingPath(), "err", err)
		return syscall.EIO
	}
	return 0
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return statfs(d.g.fs.backing, out)
}

func statfs(path string, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return gofs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

func (d *dirNode) materialized() bool { return d == d.g.root || d.bParent != nil }

func (d *dirNode) backingPath() string {
	if d == d.g.root {
		return d.g.fs.backing
	}
	return filepath.Join(d.bParent.backingPath(), d.bName)
}

// reconcile makes d's backing directory hold exactly d's durable
// entries: a hard link to each file's store file, a directory for each
// directory (made, or moved from where it was, with its own durable
// entries), nothing else; then syncs it.
func (d *dirNode) reconcile() error {
	path := d.backingPath()
	for _, name := range sortedNames(d.durable) {
		p := filepath.Join(path, name)
		switch c := d.durable[name].(type) {
		case *fileNode:
			want, err := os.Stat(c.storePath())
			if err != nil {
				return err
			}
			if fi, err := os.Lstat(p); err == nil && os.SameFile(fi, want) {
				continue
			} else if err == nil && fi.IsDir() {
				d.dropBacking(name)
				if err := os.RemoveAll(p); err != nil {
					return err
				}
			}
			tmp := filepath.Join(path, fmt.Sprintf("%s%d", tempPrefix, c.id))
			os.Remove(tmp)
			if err := os.Link(c.storePath(), tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, p); err != nil {
				return err
			}
		case *dirNode:
			if c.bParent == d && c.bName == name {
				continue
			}
			if fi, err := os.Lstat(p); err == nil {
				if fi.IsDir() {
					d.dropBacking(name)
					if err := os.RemoveAll(p); err != nil {
						return err
					}
				} else if err := os.Remove(p); err != nil {
					return err
				}
			}
			if c.bParent != nil { // durable elsewhere: a directory has one place
				from := c.backingPath()
				if err := os.Rename(from, p); err != nil {
					return err
				}
				if c.bParent.durable[c.bName] == c {
					delete(c.bParent.durable, c.bName)
				}
				if err := syncDir(c.bParent.backingPath()); err != nil {
					return err
				}
				c.bParent, c.bName = d, name
				continue
			}
			if err := os.Mkdir(p, os.FileMode(c.perm)); err != nil {
				return err
			}
			c.bParent, c.bName = d, name
			if err := c.reconcile(); err != nil {
				return err
			}
		}
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if _, ok := d.durable[e.Name()]; ok {
			continue
		}
		if e.IsDir() {
			d.dropBacking(e.Name())
			if err := os.RemoveAll(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		} else if err := os.Remove(filepath.Join(path, e.Name())); err != nil {
			return err
		}
	}
	return syncDir(path)
}

// dropBacking forgets that a directory node lives at d/name in the
// backing directory (it is about to be removed there), and so its
// descendants.
func (d *dirNode) dropBacking(name string) {
	var drop func(c *dirNode)
	drop = func(c *dirNode) {
		c.bParent, c.bName = nil, ""
		for _, n := range c.durable {
			if cc, ok := n.(*dirNode); ok && cc.bParent == c {
				drop(cc)
			}
		}
	}
	for _, n := range d.g.allDirs() {
		if n.bParent == d && n.bName == name {
			drop(n)
		}
	}
}

// allDirs lists every directory node reachable through visible or
// durable entries.
func (g *generation) allDirs() []*dirNode {
	seen := map[*dirNode]bool{}
	var walk func(d *dirNode)
	walk = func(d *dirNode) {
		if seen[d] {
			return
		}
		seen[d] = true
		for _, m := range []map[string]node{d.entries, d.durable} {
			for _, n := range m {
				if c, ok := n.(*dirNode); ok {
					walk(c)
				}
			}
		}
	}
	walk(g.root)
	out := make([]*dirNode, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	return out
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errorsJoin(err, f.Close())
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// commitAll makes every directory's entries durable, as a journal
// commit does (the Ext4 model).
func (g *generation) commitAll() error {
	if !g.nsDirty {
		return nil
	}
	var set func(d *dirNode)
	set = func(d *dirNode) {
		d.durable = make(map[string]node, len(d.entries))
		for k, v := range d.entries {
			d.durable[k] = v
			if c, ok := v.(*dirNode); ok {
				set(c)
			}
		}
	}
	set(g.root)
	var rec func(d *dirNode) error
	rec = func(d *dirNode) error {
		if err := d.reconcile(); err != nil {
			return err
		}
		for _, name := range sortedNames(d.durable) {
			if c, ok := d.durable[name].(*dirNode); ok {
				if err := rec(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := rec(g.root); err != nil {
		return err
	}
	g.nsDirty = false
	return nil
}
