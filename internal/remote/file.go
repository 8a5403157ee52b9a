package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"time"

	"github.com/pkg/sftp"
)

// fileTimeout bounds one file transfer: callers pass a step's context,
// which has no deadline, and SFTP has none of its own.
const fileTimeout = 10 * time.Minute

// WriteFile atomically replaces path (a remote POSIX path) with data:
// parent directories are created, data goes to a temporary file in the same
// directory which is then renamed over path, so a reader never sees a
// partial file. mode 0 means 0644.
func (c *Client) WriteFile(ctx context.Context, p string, data []byte, mode os.FileMode) (err error) {
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	if mode == 0 {
		mode = 0o644
	}
	fail := func(step string, err error) error {
		if ctx.Err() != nil {
			err = ctx.Err() // the SFTP error is just "connection lost"
		}
		return fmt.Errorf("write %s on %s: %s: %w", p, c.addr, step, err)
	}
	fc, release, err := c.sftp(ctx)
	if err != nil {
		return fail("sftp", err)
	}
	defer release()

	dir := path.Dir(p)
	if err := fc.MkdirAll(dir); err != nil {
		return fail("mkdir "+dir, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, "."+path.Base(p)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := fc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fail("create temp file", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = fc.Remove(tmp)
		}
	}()
	// chmod before writing: the file is created with the server's default
	// mode, which must not expose a secret (kubeconfig, token) even briefly.
	if err := f.Chmod(mode); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		return fail("write", err)
	}
	// Without fsync a VM crash after the rename can leave an empty file.
	if _, ok := fc.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return fail("fsync", err)
		}
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	if err := fc.PosixRename(tmp, p); err != nil {
		return fail("rename", err)
	}
	return nil
}

// ReadFile returns the content of a remote file; a missing file gives an
// error matching fs.ErrNotExist.
func (c *Client) ReadFile(ctx context.Context, p string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("read %s on %s: %w", p, c.addr, err)
	}
	fc, release, err := c.sftp(ctx)
	if err != nil {
		return nil, fail(err)
	}
	defer release()
	f, err := fc.Open(p)
	if err != nil {
		return nil, fail(err)
	}
	defer func() { _ = f.Close() }()
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, fail(err)
	}
	return buf.Bytes(), nil
}

// sftp opens an SFTP session for one call; closing it when ctx ends aborts
// whatever operation is in flight. A session per call costs one channel and
// avoids sharing a session that a cancelled call has broken.
func (c *Client) sftp(ctx context.Context) (*sftp.Client, func(), error) {
	fc, err := withCtx(ctx, func() (*sftp.Client, error) { return sftp.NewClient(c.ssh) },
		func(fc *sftp.Client) { _ = fc.Close() })
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = fc.Close() })
	return fc, func() { stop(); _ = fc.Close() }, nil
}
