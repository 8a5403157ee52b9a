package conductor

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Exec is what a step sees: the op occ being run and the workflow's own
// state, which the conductor persists after every finished step so that a
// retry or a rollback in another process sees what this one did.
type Exec struct {
	Op  *store.OpOcc
	Log *slog.Logger
	// Data belongs to the workflow (accumulated driver results...). Steps
	// change it; the conductor stores it with the step journal.
	Data json.RawMessage
}

// Step is one named, resumable unit of a workflow. Do must be idempotent:
// after a crash or a failure it runs again and must look at the real state
// before acting. Undo reverts a finished Do; nil means nothing to undo.
type Step struct {
	Name string
	Do   func(ctx context.Context, x *Exec) error
	Undo func(ctx context.Context, x *Exec) error
	// Irreversible marks a step whose effects cannot be undone (resources
	// deleted): once it has run, the op occ cannot be rolled back.
	Irreversible bool
	// UndoFailed makes a rollback run Undo for this step also when the step
	// failed or was interrupted: it may have done part of its work (a Heat
	// stack half created). Undo must then cope with any partial state.
	UndoFailed bool
}

// Refused is a step error saying the operation must not go ahead (the NFVO
// refused the grant). When no finished step needs undoing the op occ ends
// ROLLED_BACK with Problem as its error, as nothing was done; otherwise it
// goes to FAILED_TEMP like any failure, for an operator to roll back.
type Refused struct {
	Problem *model.ProblemDetails
}

func (r *Refused) Error() string { return r.Problem.Detail }

// Plan is a workflow for one op occ.
type Plan struct {
	Steps []Step
	// Complete runs inside the transaction that moves the op occ to
	// COMPLETED, so the instance changes and the final state commit together.
	Complete func(ctx context.Context, tx store.Tx, x *Exec) error
	// RolledBack runs inside the transaction that moves the op occ to
	// ROLLED_BACK.
	RolledBack func(ctx context.Context, tx store.Tx, x *Exec) error
}

// Planner builds the plan for an op occ; lcm implements it.
type Planner interface {
	Plan(ctx context.Context, op *store.OpOcc) (*Plan, error)
}

// journal is the conductor's record of finished steps, kept in
// store.OpOcc.Progress.
type journal struct {
	Done []string `json:"done,omitempty"`
	// Started is the UndoFailed step that began and has not finished.
	Started string          `json:"started,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (j *journal) done(name string) bool {
	for _, d := range j.Done {
		if d == name {
			return true
		}
	}
	return false
}

func (j *journal) setDone(name string, done bool) {
	out := j.Done[:0]
	for _, d := range j.Done {
		if d != name {
			out = append(out, d)
		}
	}
	if done {
		out = append(out, name)
	}
	j.Done = out
}

func readJournal(raw json.RawMessage) (*journal, error) {
	j := &journal{}
	if len(raw) == 0 {
		return j, nil
	}
	if err := json.Unmarshal(raw, j); err != nil {
		return nil, err
	}
	return j, nil
}

// DoneSteps returns the names of the finished steps recorded for op, for
// callers that must decide whether a rollback is possible.
func DoneSteps(op *store.OpOcc) ([]string, error) {
	j, err := readJournal(op.Progress)
	if err != nil {
		return nil, err
	}
	return j.Done, nil
}
