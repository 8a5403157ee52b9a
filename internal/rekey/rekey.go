// Package rekey re-encrypts every sealed value in the database with the
// current key of a keyring (vnfm rotate-key). It knows where the services
// keep sealed bytes: the sealed columns, and the sealed fields inside two
// JSON columns the store treats as opaque: an instance's private state (lcm:
// infraSealed, mgmtSealed) and an op occ's conductor journal (lcm's workflow
// data, data.sealed).
//
// Rows are rewritten in batches, one transaction each, in id order. A value
// already under the current key is left alone, so a run can be repeated or
// resumed after a crash: until it finishes, the database holds values under
// both keys, which a keyring of old and new opens.
package rekey

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Keyring seals with the new key and opens with the new or an old one
// (*secret.Box from secret.NewKeyring).
type Keyring interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
	IsCurrent(sealed []byte) bool
}

// Store runs transactions whose Tx is also a store.RekeyTx (both stores').
type Store interface {
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

// Kind names one place sealed values live; counts are kept per kind.
type Kind string

const (
	InstanceVims        Kind = "instance vimConnectionInfo"
	InstanceDriverState Kind = "instance driver state"
	OpOccParams         Kind = "op occ parameters"
	OpOccWorkflow       Kind = "op occ workflow data"
	VimCredentials      Kind = "VIM credentials"
	SubscriptionAuth    Kind = "subscription authentication"
	PackageSource       Kind = "package upload source"
)

// Kinds lists every Kind in report order.
var Kinds = []Kind{InstanceVims, InstanceDriverState, OpOccParams, OpOccWorkflow, VimCredentials, SubscriptionAuth, PackageSource}

// Count is what a rotation did to one kind of value.
type Count struct {
	Rotated int // re-encrypted with the current key
	Current int // already under the current key, left alone
}

// Report counts per kind; every Kind is present.
type Report map[Kind]*Count

func newReport() Report {
	r := Report{}
	for _, k := range Kinds {
		r[k] = &Count{}
	}
	return r
}

func (r Report) add(o Report) {
	for k, c := range o {
		r[k].Rotated += c.Rotated
		r[k].Current += c.Current
	}
}

// field is a sealed value inside a JSON column: the path of object keys
// to a base64 string (how encoding/json writes []byte).
type field struct {
	kind Kind
	path []string
}

// table is where one table keeps sealed values.
type table struct {
	name   store.SealedTable
	column Kind // the sealed column's kind
	fields []field
}

// tables must follow the services' formats: lcm's private (service.go),
// the conductor journal (conductor/plan.go) holding lcm's sealedData
// (lcm/plans.go). The end-to-end rotation test and Stale, which finds
// sealed values by their shape, catch a format this list misses.
var tables = []table{
	{name: store.SealedInstances, column: InstanceVims, fields: []field{
		{InstanceDriverState, []string{"infraSealed"}},
		{InstanceDriverState, []string{"mgmtSealed"}},
	}},
	{name: store.SealedOpOccs, column: OpOccParams, fields: []field{
		{OpOccWorkflow, []string{"data", "sealed"}},
	}},
	{name: store.SealedVims, column: VimCredentials},
	{name: store.SealedSubscriptions, column: SubscriptionAuth},
	{name: store.SealedPackages, column: PackageSource},
}

// DefaultBatch is how many rows one transaction rewrites by default.
const DefaultBatch = 100

// Options tune Rotate.
type Options struct {
	Batch int // rows per transaction; 0 = DefaultBatch
	Log   *slog.Logger
}

// Rotate re-encrypts every sealed value not under kr's current key. On error
// the batches committed so far stay (the report counts them); running again
// resumes. Errors name the table and row, never a value.
func Rotate(ctx context.Context, st Store, kr Keyring, opt Options) (Report, error) {
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	total := newReport()
	for _, t := range tables {
		after := ""
		for {
			var n int
			var last string
			var batch Report
			err := st.InTx(ctx, func(tx store.Tx) error {
				// InTx may run this again (serialization failure): count
				// afresh each time.
				batch = newReport()
				rtx, ok := tx.(store.RekeyTx)
				if !ok {
					return errors.New("rekey: the store cannot list sealed rows")
				}
				rows, err := rtx.SealedRows(ctx, t.name, after, opt.Batch)
				if err != nil {
					return err
				}
				n = len(rows)
				for _, row := range rows {
					last = row.ID
					changed, err := t.reseal(&row, kr, batch)
					if err != nil {
						return fmt.Errorf("rekey: %s %s: %w", t.name, row.ID, err)
					}
					if changed {
						if err := rtx.SetSealed(ctx, t.name, row); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			total.add(batch)
			opt.Log.Debug("rekey batch", "table", string(t.name), "rows", n, "after", after)
			if n < opt.Batch {
				break
			}
			after = last
		}
	}
	return total, nil
}

// reseal re-encrypts the row's values in place and reports whether any
// changed.
func (t table) reseal(row *store.SealedRow, kr Keyring, rep Report) (bool, error) {
	one := func(kind Kind, v []byte) ([]byte, bool, error) {
		if len(v) == 0 {
			return v, false, nil
		}
		if kr.IsCurrent(v) {
			rep[kind].Current++
			return v, false, nil
		}
		pt, err := kr.Open(v)
		if err != nil {
			if errors.Is(err, secret.ErrWrongKey) {
				return nil, false, fmt.Errorf("%s: %w (add that key with --old-encryption-key-files)", kind, err)
			}
			return nil, false, fmt.Errorf("%s: %w", kind, err)
		}
		nv, err := kr.Seal(pt)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", kind, err)
		}
		rep[kind].Rotated++
		return nv, true, nil
	}
	nv, changed, err := one(t.column, row.Sealed)
	if err != nil {
		return false, err
	}
	row.Sealed = nv
	for _, f := range t.fields {
		raw, ch, err := resealAt(row.JSON, f.path, func(v []byte) ([]byte, bool, error) { return one(f.kind, v) })
		if err != nil {
			return false, err
		}
		if ch {
			row.JSON, changed = raw, true
		}
	}
	return changed, nil
}

// resealAt applies fn to the base64 value at path in the JSON object raw
// and returns the document with the result in its place. Everything else is
// kept; a missing or null value is left alone.
func resealAt(raw json.RawMessage, path []string, fn func([]byte) ([]byte, bool, error)) (json.RawMessage, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return raw, false, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, false, fmt.Errorf("decode JSON column: %w", err)
	}
	v, ok := obj[path[0]]
	if !ok {
		return raw, false, nil
	}
	var out json.RawMessage
	if len(path) > 1 {
		sub, changed, err := resealAt(v, path[1:], fn)
		if err != nil || !changed {
			return raw, false, err
		}
		out = sub
	} else {
		var b []byte
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, false, fmt.Errorf("decode %s: %w", path[0], err)
		}
		nb, changed, err := fn(b)
		if err != nil || !changed {
			return raw, false, err
		}
		enc, err := json.Marshal(nb)
		if err != nil {
			return nil, false, err
		}
		out = enc
	}
	obj[path[0]] = out
	enc, err := json.Marshal(obj)
	if err != nil {
		return nil, false, fmt.Errorf("encode JSON column: %w", err)
	}
	return enc, true, nil
}

// Stale counts, per table, the sealed values not under kr's current key. It
// does not rely on the formats Rotate knows: besides the sealed column it
// looks at every string in the JSON column that decodes (base64) to
// something shaped like a sealed value, so a sealed field added later and
// missed by Rotate shows up here.
func Stale(ctx context.Context, st Store, kr Keyring) (map[store.SealedTable]int, error) {
	out := map[store.SealedTable]int{}
	for _, name := range store.SealedTables {
		after := ""
		for {
			var rows []store.SealedRow
			err := st.InTx(ctx, func(tx store.Tx) error {
				rtx, ok := tx.(store.RekeyTx)
				if !ok {
					return errors.New("rekey: the store cannot list sealed rows")
				}
				var err error
				rows, err = rtx.SealedRows(ctx, name, after, DefaultBatch)
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				if len(r.Sealed) > 0 && !kr.IsCurrent(r.Sealed) {
					out[name]++
				}
				if len(r.JSON) > 0 {
					var doc any
					if err := json.Unmarshal(r.JSON, &doc); err != nil {
						return nil, fmt.Errorf("rekey: %s %s: decode JSON column: %w", name, r.ID, err)
					}
					if n := staleIn(doc, kr); n > 0 {
						out[name] += n
					}
				}
			}
			if len(rows) < DefaultBatch {
				break
			}
			after = rows[len(rows)-1].ID
		}
	}
	return out, nil
}

func staleIn(v any, kr Keyring) int {
	switch t := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range t {
			n += staleIn(e, kr)
		}
		return n
	case []any:
		n := 0
		for _, e := range t {
			n += staleIn(e, kr)
		}
		return n
	case string:
		b, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			return 0
		}
		if _, ok := secret.KeyIDOf(b); ok && !kr.IsCurrent(b) {
			return 1
		}
	}
	return 0
}
