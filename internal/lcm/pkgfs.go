package lcm

import (
	"context"
	"io/fs"
	"sync"
)

// PackageFiles is an optional capability of Vnfds: the files of a VNF
// package, which drivers read (BaseHOT templates, scripts, charts).
type PackageFiles interface {
	PackageFS(ctx context.Context, pkgID string) (fs.FS, error)
}

// lazyFS opens the package on first use: most steps (grant, hooks without
// scripts) never read it, and opening means reading the whole CSAR.
type lazyFS struct {
	once sync.Once
	load func() (fs.FS, error)
	fsys fs.FS
	err  error
}

func (l *lazyFS) get() (fs.FS, error) {
	l.once.Do(func() { l.fsys, l.err = l.load() })
	return l.fsys, l.err
}

func (l *lazyFS) Open(name string) (fs.File, error) {
	f, err := l.get()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f.Open(name)
}

func (l *lazyFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := l.get()
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return fs.ReadDir(f, name)
}

func (l *lazyFS) ReadFile(name string) ([]byte, error) {
	f, err := l.get()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return fs.ReadFile(f, name)
}
