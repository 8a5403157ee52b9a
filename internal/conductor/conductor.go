// Package conductor runs LCM operation occurrences durably. The op occ row is
// the job: lcm writes it (STARTING, job "run") in the same transaction that
// takes the instance's operation slot; any conductor sharing the database
// claims it with a lease, runs the plan's steps, records each finished step,
// and ends in COMPLETED or FAILED_TEMP (ROLLED_BACK or FAILED_TEMP for a
// rollback). A process that dies leaves a lease that expires; its op occs
// then go to FAILED_TEMP, never silently redone.
package conductor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Config tunes a Conductor. Zero values take the defaults.
type Config struct {
	// Workers bounds concurrently running op occs in this process.
	Workers int
	// Lease is how long a claim stays valid without renewal; a crashed
	// process's op occs fail after at most this long.
	Lease time.Duration
	// Poll is the fallback interval to look for jobs without a wakeup.
	Poll time.Duration
	// TransientRetries and RetryBackoff bound retries of transient driver
	// errors inside one step.
	TransientRetries int
	RetryBackoff     time.Duration
	// Now is the clock.
	Now func() time.Time
	// Observer is told step and op occ durations; nil = nobody.
	Observer Observer
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.TransientRetries < 0 {
		c.TransientRetries = 0
	} else if c.TransientRetries == 0 {
		c.TransientRetries = 5
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Conductor claims and runs jobs.
type Conductor struct {
	st      store.Store
	planner Planner
	log     *slog.Logger
	cfg     Config
	id      string

	wake     chan struct{}
	mu       sync.Mutex
	running  map[string]*run
	draining bool
	wg       sync.WaitGroup
	stopLoop context.CancelFunc
	loopDone chan struct{}
}

type run struct {
	cancel   context.CancelCauseFunc
	graceful bool // a graceful cancel was requested: stop between steps
}

var (
	errCancelled   = errors.New("cancelled on request")
	errShutdown    = errors.New("vnfm is shutting down")
	errLostOwner   = errors.New("op occ is no longer owned by this conductor")
	errNothingToDo = errors.New("nothing to do")
)

// New makes a Conductor; Start runs it.
func New(st store.Store, planner Planner, log *slog.Logger, cfg Config) *Conductor {
	cfg.defaults()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Conductor{
		st: st, planner: planner, log: log, cfg: cfg,
		id:      hex.EncodeToString(b),
		wake:    make(chan struct{}, 1),
		running: map[string]*run{},
	}
}

// ID identifies this conductor in op occ owner columns.
func (c *Conductor) ID() string { return c.id }

// Notify wakes the claim loop (after lcm queued a job).
func (c *Conductor) Notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Start recovers op occs orphaned by a dead process and starts claiming.
func (c *Conductor) Start(ctx context.Context) error {
	if !c.st.Shared() {
		// Embedded store: no other process can hold a claim, so every owned
		// op occ was left by a previous run of this one.
		owned, err := c.st.OwnedJobs(ctx)
		if err != nil {
			return fmt.Errorf("recover owned jobs: %w", err)
		}
		for i := range owned {
			c.recover(ctx, &owned[i])
		}
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stopLoop = cancel
	c.loopDone = make(chan struct{})
	go c.loop(loopCtx)
	return nil
}

// Stop stops claiming, lets running op occs reach the end of their current
// step and checkpoint (they resume elsewhere or on restart), and waits for
// them until ctx ends; then it abandons them (their leases expire).
func (c *Conductor) Stop(ctx context.Context) {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	if c.stopLoop != nil {
		c.stopLoop()
		<-c.loopDone
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		c.mu.Lock()
		for _, r := range c.running {
			r.cancel(errShutdown)
		}
		c.mu.Unlock()
		<-done
	}
}

func (c *Conductor) loop(ctx context.Context) {
	defer close(c.loopDone)
	wakeups := c.st.Wakeups(ctx)
	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	renew := time.NewTicker(c.cfg.Lease / 3)
	defer renew.Stop()
	for {
		c.claimAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-wakeups:
		case <-poll.C:
		case <-renew.C:
			c.renewAndWatch(ctx)
			c.reap(ctx)
		}
	}
}

func (c *Conductor) claimAll(ctx context.Context) {
	for ctx.Err() == nil {
		c.mu.Lock()
		full := len(c.running) >= c.cfg.Workers || c.draining
		c.mu.Unlock()
		if full {
			return
		}
		op, err := c.st.ClaimJob(ctx, c.id, c.cfg.Now().Add(c.cfg.Lease))
		if err != nil {
			if ctx.Err() == nil {
				c.log.Error("claim job", "err", err)
			}
			return
		}
		if op == nil {
			return
		}
		runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		c.mu.Lock()
		c.running[op.ID] = &run{cancel: cancel}
		c.mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() {
				c.mu.Lock()
				delete(c.running, op.ID)
				c.mu.Unlock()
				cancel(nil)
				c.Notify() // a worker slot is free
			}()
			c.execute(runCtx, op)
		}()
	}
}

// renewAndWatch extends the leases of running op occs and notices cancel
// requests written by the API (possibly in another process).
func (c *Conductor) renewAndWatch(ctx context.Context) {
	c.mu.Lock()
	ids := make([]string, 0, len(c.running))
	for id := range c.running {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := c.st.RenewLeases(ctx, c.id, ids, c.cfg.Now().Add(c.cfg.Lease)); err != nil {
		c.log.Error("renew leases", "err", err)
	}
	for _, id := range ids {
		op, err := c.st.GetOpOcc(ctx, id, false)
		if err != nil {
			continue
		}
		if op.IsCancelPending {
			c.cancelRunning(id, op.CancelMode)
		}
	}
}

// CancelLocal applies a cancel request to an op occ running in this process
// at once; other processes see it at their next lease renewal.
func (c *Conductor) CancelLocal(id, mode string) { c.cancelRunning(id, mode) }

func (c *Conductor) cancelRunning(id, mode string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.running[id]
	if !ok {
		return
	}
	if mode == "GRACEFUL" {
		r.graceful = true
		return
	}
	r.cancel(errCancelled)
}

func (c *Conductor) gracefulCancel(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.running[id]
	return ok && r.graceful
}

func (c *Conductor) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// reap fails op occs whose owner stopped renewing its lease.
func (c *Conductor) reap(ctx context.Context) {
	expired, err := c.st.ExpiredJobs(ctx, c.cfg.Now())
	if err != nil {
		c.log.Error("list expired jobs", "err", err)
		return
	}
	for i := range expired {
		c.recover(ctx, &expired[i])
	}
}

// recover handles an op occ claimed by a process that is gone. Nothing ran
// for a STARTING one, so it is queued again; one that was PROCESSING or
// ROLLING_BACK may have half-done a step, so it goes to FAILED_TEMP for an
// operator (or NFVO) to retry, roll back or fail.
func (c *Conductor) recover(ctx context.Context, stale *store.OpOcc) {
	owner := stale.Owner
	var failed *store.OpOcc
	err := c.st.InTx(ctx, func(tx store.Tx) error {
		failed = nil
		op, err := tx.GetOpOcc(ctx, stale.ID, true)
		if err != nil {
			return err
		}
		if op.Owner != owner || (c.st.Shared() && op.LeaseUntil.After(c.cfg.Now())) {
			return errNothingToDo // renewed or taken over meanwhile
		}
		op.Owner = ""
		op.LeaseUntil = time.Time{}
		if op.OperationState == model.Starting {
			return tx.UpdateOpOcc(ctx, op)
		}
		op.Job = store.JobNone
		op.IsCancelPending = false
		c.setState(op, model.FailedTemp)
		op.Error = &model.ProblemDetails{
			Status: 500,
			Title:  "Operation interrupted",
			Detail: fmt.Sprintf("the vnfm process running this operation stopped while it was %s; the current step may be partly done: retry, rollback or fail it", stateVerb(stale.OperationState)),
		}
		failed = op
		return tx.UpdateOpOcc(ctx, op)
	})
	switch {
	case err == nil:
		if failed != nil {
			c.opEnded(failed, model.FailedTemp)
		}
		c.log.Warn("recovered orphaned op occ", "op_occ_id", stale.ID, "vnf_instance_id", stale.VnfInstanceID, "previous_owner", owner)
		c.Notify()
	case errors.Is(err, errNothingToDo):
	default:
		c.log.Error("recover op occ", "op_occ_id", stale.ID, "err", err)
	}
}

func stateVerb(s model.OperationState) string {
	if s == model.RollingBack {
		return "rolling back"
	}
	return "processing"
}

func (c *Conductor) setState(op *store.OpOcc, s model.OperationState) {
	op.OperationState = s
	op.StateEnteredTime = c.cfg.Now().UTC()
}

// update re-reads op under a row lock, checks this conductor still owns it,
// applies fn and writes it back.
func (c *Conductor) update(ctx context.Context, id string, fn func(tx store.Tx, op *store.OpOcc) error) (*store.OpOcc, error) {
	var out *store.OpOcc
	err := c.st.InTx(ctx, func(tx store.Tx) error {
		op, err := tx.GetOpOcc(ctx, id, true)
		if err != nil {
			return err
		}
		if op.Owner != c.id {
			return errLostOwner
		}
		if err := fn(tx, op); err != nil {
			return err
		}
		if err := tx.UpdateOpOcc(ctx, op); err != nil {
			return err
		}
		out = op
		return nil
	})
	return out, err
}

func (c *Conductor) execute(ctx context.Context, op *store.OpOcc) {
	log := c.log.With("op_occ_id", op.ID, "vnf_instance_id", op.VnfInstanceID, "operation", string(op.Operation))
	rollback := op.Job == store.JobRollback
	// Persisting state must outlive a forceful cancel of the steps.
	dbCtx := context.WithoutCancel(ctx)

	op, err := c.update(dbCtx, op.ID, func(_ store.Tx, op *store.OpOcc) error {
		if rollback {
			if op.OperationState != model.RollingBack {
				c.setState(op, model.RollingBack)
			}
		} else if op.OperationState != model.Processing {
			c.setState(op, model.Processing)
		}
		return nil
	})
	if err != nil {
		log.Error("start op occ", "err", err)
		return
	}
	log.Info("op occ running", "rollback", rollback)

	plan, err := c.plan(ctx, log, op)
	if err != nil {
		c.fail(dbCtx, log, op, "plan", err)
		return
	}
	j, err := readJournal(op.Progress)
	if err != nil {
		c.fail(dbCtx, log, op, "journal", err)
		return
	}
	x := &Exec{Op: op, Log: log, Data: j.Data}

	if rollback {
		for i := len(plan.Steps) - 1; i >= 0; i-- {
			st := plan.Steps[i]
			partial := st.UndoFailed && j.Started == st.Name
			if !j.done(st.Name) && !partial {
				continue
			}
			if st.Undo != nil {
				if stop := c.checkpoint(ctx, dbCtx, log, op, j, x); stop {
					return
				}
				if err := c.runStep(ctx, log, "undo "+st.Name, st.Undo, x); err != nil {
					c.endStep(ctx, dbCtx, log, op, j, x, "undo "+st.Name, err)
					return
				}
			}
			j.setDone(st.Name, false)
			if partial {
				j.Started = ""
			}
			if err := c.saveJournal(dbCtx, op, j, x); err != nil {
				log.Error("save journal", "err", err)
				return
			}
		}
		c.finish(dbCtx, log, op, x, model.RolledBack, plan.RolledBack)
		return
	}

	for _, st := range plan.Steps {
		if j.done(st.Name) {
			continue
		}
		if stop := c.checkpoint(ctx, dbCtx, log, op, j, x); stop {
			return
		}
		if st.UndoFailed && j.Started != st.Name {
			// Recorded first, so that a rollback after a failure or a
			// crash in the middle of the step undoes what it did.
			j.Started = st.Name
			if err := c.saveJournal(dbCtx, op, j, x); err != nil {
				log.Error("save journal", "err", err)
				return
			}
		}
		if err := c.runStep(ctx, log, st.Name, st.Do, x); err != nil {
			var refused *Refused
			if errors.As(err, &refused) && !undoable(plan, j) {
				log.Warn("op occ refused", "step", st.Name, "reason", refused.Problem.Detail)
				c.finishWith(dbCtx, log, op, x, model.RolledBack, plan.RolledBack, refused.Problem)
				return
			}
			c.endStep(ctx, dbCtx, log, op, j, x, st.Name, err)
			return
		}
		j.setDone(st.Name, true)
		if j.Started == st.Name {
			j.Started = ""
		}
		if err := c.saveJournal(dbCtx, op, j, x); err != nil {
			log.Error("save journal", "err", err)
			return
		}
	}
	c.finish(dbCtx, log, op, x, model.Completed, plan.Complete)
}

// checkpoint runs between steps: a graceful cancel ends the op occ in
// FAILED_TEMP here, and a draining conductor hands the job back so another
// process (or this one after restart) resumes at the next step.
func (c *Conductor) checkpoint(ctx, dbCtx context.Context, log *slog.Logger, op *store.OpOcc, j *journal, x *Exec) bool {
	if c.gracefulCancel(op.ID) {
		c.endStep(ctx, dbCtx, log, op, j, x, "", errCancelled)
		return true
	}
	if !c.isDraining() {
		return false
	}
	_, err := c.update(dbCtx, op.ID, func(_ store.Tx, o *store.OpOcc) error {
		o.Owner = ""
		o.LeaseUntil = time.Time{}
		return nil
	})
	if err != nil {
		log.Error("hand back op occ", "err", err)
	} else {
		log.Info("op occ handed back at checkpoint for shutdown")
	}
	return true
}

func (c *Conductor) saveJournal(ctx context.Context, op *store.OpOcc, j *journal, x *Exec) error {
	j.Data = x.Data
	raw, err := marshalJournal(j)
	if err != nil {
		return err
	}
	updated, err := c.update(ctx, op.ID, func(_ store.Tx, o *store.OpOcc) error {
		o.Progress = raw
		return nil
	})
	if err != nil {
		return err
	}
	*op = *updated
	x.Op = op
	return nil
}

// runStep runs fn, retrying transient errors with backoff and turning a
// panic into an error.
func (c *Conductor) runStep(ctx context.Context, log *slog.Logger, name string, fn func(context.Context, *Exec) error, x *Exec) error {
	backoff := c.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		start := c.cfg.Now()
		err := c.callSafely(ctx, log, name, fn, x)
		took := c.cfg.Now().Sub(start)
		if err == nil {
			c.cfg.Observer.StepAttempted(x.Op.Operation, name, StepOK, took)
			log.Info("step done", "step", name, "duration", took)
			return nil
		}
		if cause := context.Cause(ctx); cause != nil {
			c.cfg.Observer.StepAttempted(x.Op.Operation, name, StepCancelled, took)
			return cause
		}
		var te *driver.TransientError
		if !errors.As(err, &te) || attempt >= c.cfg.TransientRetries {
			c.cfg.Observer.StepAttempted(x.Op.Operation, name, stepResult(err), took)
			return err
		}
		c.cfg.Observer.StepAttempted(x.Op.Operation, name, StepTransient, took)
		wait := backoff
		if te.After > wait {
			wait = te.After
		}
		log.Warn("step failed, retrying", "step", name, "attempt", attempt+1, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		backoff *= 2
	}
}

// plan builds op's plan. Planning runs lcm and driver code outside any
// step; a panic there fails the op occ instead of the process.
func (c *Conductor) plan(ctx context.Context, log *slog.Logger, op *store.OpOcc) (p *Plan, err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("planning panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			p, err = nil, &panicError{step: "plan", value: v}
		}
	}()
	return c.planner.Plan(ctx, op)
}

type panicError struct {
	step  string
	value any
}

func (p *panicError) Error() string { return fmt.Sprintf("step %q panicked: %v", p.step, p.value) }

func (c *Conductor) callSafely(ctx context.Context, log *slog.Logger, name string, fn func(context.Context, *Exec) error, x *Exec) (err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("step panicked", "step", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = &panicError{step: name, value: v}
		}
	}()
	return fn(ctx, x)
}

// endStep records a failed (or cancelled) step; a nil j keeps the stored
// journal. A shutdown leaves the op occ
// as it is: its lease runs out and recovery takes over.
func (c *Conductor) endStep(ctx, dbCtx context.Context, log *slog.Logger, op *store.OpOcc, j *journal, x *Exec, step string, err error) {
	if errors.Is(context.Cause(ctx), errShutdown) {
		log.Warn("op occ abandoned at shutdown", "step", step)
		return
	}
	var raw []byte
	if j != nil {
		j.Data = x.Data
		var jerr error
		if raw, jerr = marshalJournal(j); jerr != nil {
			log.Error("marshal journal", "err", jerr)
			return
		}
	}
	pd := problemFor(step, err)
	if errors.Is(err, errCancelled) {
		log.Info("op occ cancelled", "step", step)
	} else {
		log.Error("step failed", "step", step, "err", err)
	}
	ended, uerr := c.update(dbCtx, op.ID, func(_ store.Tx, o *store.OpOcc) error {
		if raw != nil {
			o.Progress = raw
		}
		o.Job = store.JobNone
		o.Owner = ""
		o.LeaseUntil = time.Time{}
		o.IsCancelPending = false
		o.Error = pd
		c.setState(o, model.FailedTemp)
		return nil
	})
	if uerr != nil {
		log.Error("record failure", "err", uerr)
		return
	}
	c.opEnded(ended, model.FailedTemp)
}

func (c *Conductor) fail(ctx context.Context, log *slog.Logger, op *store.OpOcc, step string, err error) {
	c.endStep(ctx, ctx, log, op, nil, nil, step, err)
}

// undoable reports whether a finished step has something to undo.
func undoable(plan *Plan, j *journal) bool {
	for _, st := range plan.Steps {
		if st.Undo != nil && j.done(st.Name) {
			return true
		}
	}
	return false
}

func (c *Conductor) finish(ctx context.Context, log *slog.Logger, op *store.OpOcc, x *Exec, final model.OperationState, apply func(context.Context, store.Tx, *Exec) error) {
	c.finishWith(ctx, log, op, x, final, apply, nil)
}

// finishWith ends the op occ in a final state, with pd as its error.
func (c *Conductor) finishWith(ctx context.Context, log *slog.Logger, op *store.OpOcc, x *Exec, final model.OperationState, apply func(context.Context, store.Tx, *Exec) error, pd *model.ProblemDetails) {
	ended, err := c.update(ctx, op.ID, func(tx store.Tx, o *store.OpOcc) error {
		x.Op = o
		if apply != nil {
			if err := apply(ctx, tx, x); err != nil {
				return err
			}
		}
		o.Job = store.JobNone
		o.Owner = ""
		o.LeaseUntil = time.Time{}
		o.IsCancelPending = false
		o.Error = pd
		c.setState(o, final)
		return nil
	})
	if err != nil {
		if errors.Is(err, errLostOwner) {
			log.Error("op occ taken away before it could finish", "err", err)
			return
		}
		c.fail(ctx, log, op, "finish", err)
		return
	}
	c.opEnded(ended, final)
	log.Info("op occ finished", "state", string(final))
}
