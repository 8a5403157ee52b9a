package store

import (
	"context"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Vim is a stored VIM registration.
type Vim struct {
	model.Vim
	// Sealed holds the encrypted credentials (auth_cred and secret extra
	// fields) stripped from the public document. Opaque to the store.
	Sealed []byte
	// Revision increases on every update.
	Revision int64
	Seq      int64
}

// VimTx is the VIM registry's part of a transaction. Names are unique, and
// at most one VIM is the default (both enforced by the database).
type VimTx interface {
	// CreateVim inserts v (Revision=1, Seq assigned); ErrDuplicate when
	// the id or the name is taken, or v is a default while another is.
	CreateVim(ctx context.Context, v *Vim) error
	GetVim(ctx context.Context, id string) (*Vim, error)
	// ListVims returns every VIM in registration order.
	ListVims(ctx context.Context) ([]Vim, error)
	// UpdateVim writes v if the revision matches (else ErrConflict);
	// ErrDuplicate as for CreateVim.
	UpdateVim(ctx context.Context, v *Vim) error
	DeleteVim(ctx context.Context, id string) error
}
