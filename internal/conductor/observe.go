package conductor

import (
	"errors"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// StepResult is how one attempt of a step ended.
type StepResult string

const (
	StepOK        StepResult = "ok"
	StepTransient StepResult = "transient" // failed, retried
	StepError     StepResult = "error"     // failed, the op occ goes to FAILED_TEMP
	StepPanic     StepResult = "panic"
	StepCancelled StepResult = "cancelled" // cancel request or shutdown
)

// Observer is told how long steps and op occs take (metrics). Calls are
// synchronous, from the goroutine running the op occ: they must be quick.
type Observer interface {
	// StepAttempted reports one attempt of a step (one driver call).
	StepAttempted(op model.Operation, step string, result StepResult, d time.Duration)
	// OpOccEnded reports an op occ reaching state (a final one or
	// FAILED_TEMP), d after it started.
	OpOccEnded(op model.Operation, state model.OperationState, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) StepAttempted(model.Operation, string, StepResult, time.Duration) {}
func (nopObserver) OpOccEnded(model.Operation, model.OperationState, time.Duration)  {}

// stepResult classifies a failed attempt that is not retried.
func stepResult(err error) StepResult {
	var p *panicError
	if errors.As(err, &p) {
		return StepPanic
	}
	return StepError
}

func (c *Conductor) opEnded(op *store.OpOcc, state model.OperationState) {
	c.cfg.Observer.OpOccEnded(op.Operation, state, c.cfg.Now().Sub(op.StartTime))
}
