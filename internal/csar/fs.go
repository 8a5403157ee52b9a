package csar

import (
	"archive/zip"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"
)

// pkgFS is the read-only fs.FS over a CSAR's entries. Its maps are built by
// index and never change afterwards, so it is safe for concurrent use.
type pkgFS struct {
	files map[string]*zip.File
	dirs  map[string]*dirNode
}

type dirNode struct {
	mod      time.Time
	children map[string]bool // base name -> is a directory
	entries  []fs.DirEntry   // sorted, filled by build
}

var (
	_ fs.ReadFileFS = (*pkgFS)(nil)
	_ fs.ReadDirFS  = (*pkgFS)(nil)
	_ fs.StatFS     = (*pkgFS)(nil)
)

// dirNode returns (creating it and its ancestors) the directory at name.
func (p *pkgFS) dirNode(name string) *dirNode {
	d, ok := p.dirs[name]
	if !ok {
		d = &dirNode{}
		p.dirs[name] = d
	}
	if name != "." {
		parent := p.dirNode(path.Dir(name))
		if parent.children == nil {
			parent.children = map[string]bool{}
		}
		parent.children[path.Base(name)] = true
	}
	return d
}

// build links every file into its directory and sorts the listings.
func (p *pkgFS) build() {
	for name := range p.files {
		parent := p.dirNode(path.Dir(name))
		if parent.children == nil {
			parent.children = map[string]bool{}
		}
		parent.children[path.Base(name)] = false
	}
	for dname, d := range p.dirs {
		names := make([]string, 0, len(d.children))
		for n := range d.children {
			names = append(names, n)
		}
		sort.Strings(names)
		d.entries = make([]fs.DirEntry, 0, len(names))
		for _, n := range names {
			full := path.Join(dname, n)
			d.entries = append(d.entries, fs.FileInfoToDirEntry(p.info(full)))
		}
	}
}

func (p *pkgFS) hasFile(name string) bool {
	_, ok := p.files[name]
	return ok
}

// info returns the FileInfo of an existing file or directory.
func (p *pkgFS) info(name string) fileInfo {
	if f, ok := p.files[name]; ok {
		return fileInfo{name: path.Base(name), size: int64(f.UncompressedSize64), mode: f.Mode().Perm(), mod: f.Modified}
	}
	d := p.dirs[name]
	return fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o555, mod: d.mod}
}

func (p *pkgFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if f, ok := p.files[name]; ok {
		rc, err := f.Open()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		size := int64(f.UncompressedSize64)
		return &file{info: p.info(name), rc: rc,
			r: &sizeReader{name: name, r: io.LimitReader(rc, size+1), size: size}}, nil
	}
	if d, ok := p.dirs[name]; ok {
		return &dir{info: p.info(name), entries: d.entries}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (p *pkgFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if _, ok := p.files[name]; ok {
		return p.info(name), nil
	}
	if _, ok := p.dirs[name]; ok {
		return p.info(name), nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (p *pkgFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	d, ok := p.dirs[name]
	if !ok {
		if _, isFile := p.files[name]; isFile {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return append([]fs.DirEntry(nil), d.entries...), nil
}

// ReadFile reads a whole file; its size was checked against the limits and
// against the actual data by Open.
func (p *pkgFS) ReadFile(name string) ([]byte, error) {
	f, err := p.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	fl, ok := f.(*file)
	if !ok {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	buf := make([]byte, fl.info.size)
	if _, err := io.ReadFull(fl, buf); err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	var one [1]byte
	if n, err := fl.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more data than declared")
		}
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return buf, nil
}

// readText reads a metadata text file for parsing, bounded by maxTextSize.
func (p *pkgFS) readText(name string) ([]byte, error) {
	f := p.files[name]
	if f.UncompressedSize64 > maxTextSize {
		return nil, errf(name, 0, ErrLimit, "file is larger than %d bytes", maxTextSize)
	}
	buf := make([]byte, 0, f.UncompressedSize64)
	w := &appendWriter{buf: buf}
	if _, err := copyEntry(w, name, f); err != nil {
		return nil, err
	}
	return w.buf, nil
}

type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	return len(b), nil
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

type file struct {
	info   fileInfo
	rc     io.ReadCloser
	r      io.Reader
	closed bool
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }

func (f *file) Read(b []byte) (int, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: fs.ErrClosed}
	}
	return f.r.Read(b)
}

func (f *file) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.info.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return f.rc.Close()
}

type dir struct {
	info    fileInfo
	entries []fs.DirEntry
	off     int
	closed  bool
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.info.name, Err: fs.ErrClosed}
	}
	d.closed = true
	return nil
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.info.name, Err: fs.ErrClosed}
	}
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return append([]fs.DirEntry(nil), rest...), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return append([]fs.DirEntry(nil), rest[:n]...), nil
}
