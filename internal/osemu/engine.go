package osemu

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The engine runs stack actions asynchronously, one goroutine per top-level
// action; nested stacks are handled recursively on the same goroutine. State
// is only touched with e.mu held; the lock is released while waiting.

type actionRun struct {
	target string // stack_create | stack_update | stack_delete
	cancel context.CancelFunc
	done   chan struct{}
}

type actx struct {
	ctx    context.Context
	target string
}

// failure is a resource failure travelling up through nested stacks.
type failure struct {
	kind   string
	reason string
	path   []string // resource names from the current stack down to the leaf
	fault  bool     // injected: the leaf reason is exactly the fault's Reason
}

func (f *failure) Error() string { return f.describe() }

func (f *failure) describe() string {
	return f.kind + ": resources." + strings.Join(f.path, ".resources.") + ": " + f.reason
}

func (f *failure) wrap(name string) *failure {
	return &failure{kind: f.kind, reason: f.reason, fault: f.fault, path: append([]string{name}, f.path...)}
}

// startActionLocked runs fn for st on a new goroutine that Close waits for.
func (e *Emulator) startActionLocked(st *stack, target string, fn func(ac *actx)) {
	ctx, cancel := context.WithCancel(e.ctx)
	run := &actionRun{target: target, cancel: cancel, done: make(chan struct{})}
	st.busy = run
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel()
		fn(&actx{ctx: ctx, target: target})
		e.mu.Lock()
		if st.busy == run {
			st.busy = nil
		}
		e.mu.Unlock()
		close(run.done)
	}()
}

func (e *Emulator) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Emulator) stackEventLocked(st *stack, reason string) {
	e.addEventLocked(st, st.Name, st.ID, st.status(), reason)
}

func (e *Emulator) addEventLocked(st *stack, name, phys, status, reason string) {
	st.Events = append(st.Events, event{ID: newUUID(), Resource: name, PhysicalID: phys, Status: status, Reason: reason, Time: time.Now().UTC()})
	if len(st.Events) > maxEventsPerStack {
		st.Events = append([]event(nil), st.Events[len(st.Events)-maxEventsPerStack:]...)
	}
}

func (e *Emulator) setStackLocked(st *stack, action, status, reason string) {
	if st.Action == action && st.Status == status && st.Reason == reason {
		return
	}
	st.Action, st.Status, st.Reason = action, status, reason
	if action == "UPDATE" && status == "IN_PROGRESS" {
		st.Updated = time.Now().UTC()
	}
	e.stackEventLocked(st, reason)
	e.changed()
}

func (e *Emulator) setResLocked(st *stack, r *resource, action, status, reason string) {
	r.Action, r.Status, r.Reason = action, status, reason
	r.Updated = time.Now().UTC()
	e.addEventLocked(st, r.Name, r.PhysicalID, r.status(), reason)
	e.changed()
}

// finishStack closes an action on st after at least ActionDelay.
func (e *Emulator) finishStack(ac *actx, st *stack, action string, start time.Time, err error) {
	_ = e.sleep(ac.ctx, e.cfg.ActionDelay-time.Since(start))
	if ac.ctx.Err() != nil {
		return // Close or a superseding delete: leave it as the engine left it
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.setStackLocked(st, action, "COMPLETE", "Stack "+action+" completed successfully")
		return
	}
	var f *failure
	msg := err.Error()
	if errors.As(err, &f) {
		msg = f.describe()
	}
	e.setStackLocked(st, action, "FAILED", "Resource "+action+" failed: "+msg)
}

// evaluatorLocked evaluates functions in the context of st.
func (e *Emulator) evaluatorLocked(st *stack) *evaluator {
	params := st.Resolved
	if params == nil {
		params = map[string]any{}
	}
	return &evaluator{
		params: params,
		files:  st.Files,
		pseudo: map[string]any{"OS::stack_name": st.Name, "OS::stack_id": st.ID, "OS::project_id": e.st.ProjectID},
		resolve: func(name string) (string, error) {
			r, ok := st.Resources[name]
			if !ok {
				return "", badTemplate("The specified reference %q is incorrect.", name)
			}
			return r.PhysicalID, nil
		},
		attr: func(name string, path []any) (any, error) {
			r, ok := st.Resources[name]
			if !ok {
				return nil, badTemplate("The specified resource %q for get_attr is incorrect.", name)
			}
			return e.attrLocked(st, r, path, 0)
		},
	}
}

func (e *Emulator) evalPropsLocked(st *stack, def map[string]any) (map[string]any, error) {
	v, err := e.evaluatorLocked(st).eval(def["properties"], 0)
	if err != nil {
		return nil, err
	}
	m, _ := jsonClone(v).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// stackFaultLocked consumes an injected stack fault that hits resource r.
func (e *Emulator) stackFaultLocked(ac *actx, st *stack, r *resource) *failure {
	typ := builtinType(r.Type, st.Registry)
	f, ok := e.takeFaultLocked(ac.target, func(f *Fault) bool {
		if f.Resource != "" {
			return f.Resource == r.Name
		}
		return typ == "OS::Nova::Server"
	})
	if !ok {
		return nil
	}
	reason := f.Reason
	if reason == "" {
		reason = defaultFaultReason
	}
	e.log.Info("stack fault fired", "target", ac.target, "stack", st.Name, "resource", r.Name)
	return &failure{kind: "Error", reason: reason, path: []string{r.Name}, fault: true}
}

// failResLocked marks r failed for its current action and returns the
// failure to propagate.
func (e *Emulator) failResLocked(st *stack, r *resource, action string, err error) error {
	var f *failure
	if !errors.As(err, &f) {
		f = &failure{kind: "Error", reason: err.Error(), path: []string{r.Name}}
	}
	reason := f.reason
	if !f.fault || len(f.path) > 1 {
		reason = f.kind + ": resources." + strings.Join(f.path, ".resources.") + ": " + f.reason
		if len(f.path) > 1 {
			reason = f.kind + ": resources." + strings.Join(f.path[1:], ".resources.") + ": " + f.reason
		}
	}
	e.setResLocked(st, r, action, "FAILED", reason)
	return f
}

func leafFailure(name, kind, format string, args ...any) *failure {
	return &failure{kind: kind, reason: fmt.Sprintf(format, args...), path: []string{name}}
}

// runCreate creates every resource of st in dependency order.
func (e *Emulator) runCreate(ac *actx, st *stack) error {
	start := time.Now()
	e.mu.Lock()
	e.setStackLocked(st, "CREATE", "IN_PROGRESS", "Stack CREATE started")
	defs := templateResources(st.Template)
	order, deps, err := topoOrder(defs)
	if err == nil {
		now := time.Now().UTC()
		for _, n := range order {
			if st.Resources[n] == nil {
				typ, _ := defs[n]["type"].(string)
				st.Resources[n] = &resource{Name: n, Type: typ, Action: "INIT", Status: "COMPLETE", Created: now, Updated: now, Deps: deps[n]}
			}
		}
		e.changed()
	}
	e.mu.Unlock()
	if err == nil {
		for _, n := range order {
			if err = e.createResource(ac, st, n, defs[n], deps[n]); err != nil {
				break
			}
		}
	}
	e.finishStack(ac, st, "CREATE", start, err)
	return err
}

// createResource creates resource name (new or replacing a failed one).
func (e *Emulator) createResource(ac *actx, st *stack, name string, def map[string]any, deps []string) error {
	if err := ac.ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	r := st.Resources[name]
	now := time.Now().UTC()
	if r == nil {
		r = &resource{Name: name, Created: now}
		st.Resources[name] = r
	}
	r.Type, _ = def["type"].(string)
	r.Deps = deps
	r.Created = now
	r.PhysicalID, r.NestedID = "", ""
	e.setResLocked(st, r, "CREATE", "IN_PROGRESS", "state changed")
	props, err := e.evalPropsLocked(st, def)
	if err != nil {
		err = e.failResLocked(st, r, "CREATE", leafFailure(name, "StackValidationFailed", "%v", err))
		e.mu.Unlock()
		return err
	}
	if f := e.stackFaultLocked(ac, st, r); f != nil {
		err = e.failResLocked(st, r, "CREATE", f)
		e.mu.Unlock()
		return err
	}
	r.Props = props
	e.mu.Unlock()

	err = e.doCreate(ac, st, r, props)

	e.mu.Lock()
	defer e.mu.Unlock()
	if ac.ctx.Err() != nil {
		return ac.ctx.Err()
	}
	if err != nil {
		return e.failResLocked(st, r, "CREATE", err)
	}
	e.setResLocked(st, r, "CREATE", "COMPLETE", "state changed")
	return nil
}

// nestedTemplateLocked returns the template a nested-stack resource runs, or
// nil when r is a plain resource.
func (e *Emulator) nestedTemplateLocked(st *stack, r *resource, props map[string]any) (map[string]any, map[string]any, error) {
	content, isTmpl, err := isTemplateType(r.Type, st.Files, st.Registry)
	if err != nil {
		return nil, nil, leafFailure(r.Name, "NotFound", "%v", err)
	}
	if isTmpl {
		t, err := parseYAMLDoc(content)
		if err != nil {
			return nil, nil, leafFailure(r.Name, "StackValidationFailed", "%v", err)
		}
		return t, props, nil
	}
	switch builtinType(r.Type, st.Registry) {
	case "OS::Heat::AutoScalingGroup":
		t, err := e.asgTemplateLocked(r, props)
		return t, map[string]any{}, err
	case "OS::Heat::ResourceGroup":
		t, err := rgTemplate(r, props)
		return t, map[string]any{}, err
	}
	return nil, nil, nil
}

func (e *Emulator) doCreate(ac *actx, st *stack, r *resource, props map[string]any) error {
	e.mu.Lock()
	tmpl, params, err := e.nestedTemplateLocked(st, r, props)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	if tmpl != nil {
		child, err := e.newNestedLocked(st, r, tmpl, params)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if err := e.runCreate(ac, child); err != nil {
			return wrapChild(r.Name, err)
		}
		return nil
	}
	typ := builtinType(r.Type, st.Registry)
	switch typ {
	case "OS::Nova::Server":
		id, err := e.createServerLocked(st, r, props)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		return e.startAndWaitServer(ac, r.Name, id)
	case "OS::Neutron::Port":
		defer e.mu.Unlock()
		p, err := e.createPortLocked(portName(st, r, props), props)
		if err != nil {
			return leafFailure(r.Name, "BadRequest", "%v", err)
		}
		r.PhysicalID = p.ID
	case "OS::Neutron::Net":
		defer e.mu.Unlock()
		name, _ := props["name"].(string)
		if name == "" {
			name = st.Name + "-" + r.Name + "-" + randName(12)
		}
		n := &network{ID: newUUID(), Name: name, SubnetIDs: []string{}, Created: time.Now().UTC()}
		n.Shared, _ = props["shared"].(bool)
		e.st.Networks[n.ID] = n
		r.PhysicalID = n.ID
	case "OS::Neutron::Subnet":
		defer e.mu.Unlock()
		sn, err := e.createSubnetLocked(st, r, props)
		if err != nil {
			return leafFailure(r.Name, "BadRequest", "%v", err)
		}
		r.PhysicalID = sn.ID
	default:
		// Server groups, volumes, attachments, scaling policies and unknown
		// types only need an identity.
		r.PhysicalID = newUUID()
		e.mu.Unlock()
	}
	return nil
}

func wrapChild(name string, err error) error {
	var f *failure
	if errors.As(err, &f) {
		return f.wrap(name)
	}
	return err
}

func (e *Emulator) newNestedLocked(parent *stack, r *resource, tmpl, params map[string]any) (*stack, error) {
	resolved, err := resolveParams(tmpl, params, nil)
	if err != nil {
		return nil, leafFailure(r.Name, "StackValidationFailed", "%v", err)
	}
	now := time.Now().UTC()
	child := &stack{
		ID: newUUID(), Name: parent.Name + "-" + r.Name + "-" + randName(12),
		ParentID: parent.ID, ParentResource: r.Name,
		Action: "INIT", Status: "COMPLETE", Created: now,
		Template: tmpl, Files: parent.Files, Registry: parent.Registry,
		Params: params, Resolved: resolved, BaseURL: parent.BaseURL,
		TimeoutMins: parent.TimeoutMins, DisableRollback: parent.DisableRollback,
		Resources: map[string]*resource{},
	}
	e.st.Stacks[child.ID] = child
	r.NestedID, r.PhysicalID = child.ID, child.ID
	e.changed()
	return child, nil
}

// runUpdate moves st from oldT to the template/params already stored in st.
func (e *Emulator) runUpdate(ac *actx, st *stack, oldT map[string]any) error {
	start := time.Now()
	e.mu.Lock()
	e.setStackLocked(st, "UPDATE", "IN_PROGRESS", "Stack UPDATE started")
	defs := templateResources(st.Template)
	order, deps, err := topoOrder(defs)
	e.mu.Unlock()
	if err == nil {
		for _, n := range order {
			if err = e.updateOrCreate(ac, st, n, defs[n], deps[n]); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = e.deleteRemoved(ac, st, defs, oldT)
	}
	e.finishStack(ac, st, "UPDATE", start, err)
	return err
}

func (e *Emulator) updateOrCreate(ac *actx, st *stack, name string, def map[string]any, deps []string) error {
	if err := ac.ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	r := st.Resources[name]
	newType, _ := def["type"].(string)
	switch {
	case r == nil || r.Action == "INIT" || (r.PhysicalID == "" && r.Status == "FAILED"):
		e.mu.Unlock()
		return e.createResource(ac, st, name, def, deps)
	case r.Type != newType:
		e.mu.Unlock()
		if err := e.deleteResource(ac, st, name, false); err != nil {
			return err
		}
		return e.createResource(ac, st, name, def, deps)
	}
	e.mu.Unlock()
	return e.updateResource(ac, st, r, def, deps)
}

// replaceResource deletes r's physical resource and creates a new one under
// the same name, as Heat's UpdateReplace does.
func (e *Emulator) replaceResource(ac *actx, st *stack, r *resource, def map[string]any, deps []string) error {
	if err := e.deleteResource(ac, st, r.Name, true); err != nil {
		return err
	}
	if err := e.createResource(ac, st, r.Name, def, deps); err != nil {
		return err
	}
	e.mu.Lock()
	e.setResLocked(st, r, "UPDATE", "COMPLETE", "state changed")
	e.mu.Unlock()
	return nil
}

var serverReplaceProps = []string{"image", "networks", "key_name", "user_data", "user_data_format", "config_drive", "scheduler_hints", "availability_zone", "block_device_mapping", "block_device_mapping_v2"}

func (e *Emulator) updateResource(ac *actx, st *stack, r *resource, def map[string]any, deps []string) error {
	e.mu.Lock()
	r.Deps = deps
	unhealthy := r.Action == "CHECK" && r.Status == "FAILED"
	failed := r.Status == "FAILED" && !unhealthy
	props, err := e.evalPropsLocked(st, def)
	if err != nil {
		err = e.failResLocked(st, r, "UPDATE", leafFailure(r.Name, "StackValidationFailed", "%v", err))
		e.mu.Unlock()
		return err
	}
	tmpl, params, err := e.nestedTemplateLocked(st, r, props)
	if err != nil {
		err = e.failResLocked(st, r, "UPDATE", err)
		e.mu.Unlock()
		return err
	}
	if tmpl != nil {
		child := e.st.Stacks[r.NestedID]
		if unhealthy || child == nil {
			e.mu.Unlock()
			return e.replaceResource(ac, st, r, def, deps)
		}
		if f := e.stackFaultLocked(ac, st, r); f != nil {
			err = e.failResLocked(st, r, "UPDATE", f)
			e.mu.Unlock()
			return err
		}
		resolved, err := resolveParams(tmpl, params, nil)
		if err != nil {
			err = e.failResLocked(st, r, "UPDATE", leafFailure(r.Name, "StackValidationFailed", "%v", err))
			e.mu.Unlock()
			return err
		}
		oldT := child.Template
		child.Template, child.Params, child.Resolved = tmpl, params, resolved
		child.Files, child.Registry = st.Files, st.Registry
		r.Props = props
		e.setResLocked(st, r, "UPDATE", "IN_PROGRESS", "state changed")
		e.mu.Unlock()
		err = e.runUpdate(ac, child, oldT)
		e.mu.Lock()
		defer e.mu.Unlock()
		if ac.ctx.Err() != nil {
			return ac.ctx.Err()
		}
		if err != nil {
			return e.failResLocked(st, r, "UPDATE", wrapChild(r.Name, err))
		}
		e.setResLocked(st, r, "UPDATE", "COMPLETE", "state changed")
		return nil
	}

	typ := builtinType(r.Type, st.Registry)
	replace := unhealthy
	inPlace := failed || !jsonEqual(props, r.Props)
	switch typ {
	case "OS::Nova::Server":
		srv := e.st.Servers[r.PhysicalID]
		if srv == nil || (failed && srv.effectiveStatus(time.Now()) == "ERROR") {
			replace = true
		}
		for _, k := range serverReplaceProps {
			if !jsonEqual(props[k], r.Props[k]) {
				replace = true
			}
		}
		// The default stack_update fault hits the first server visited.
		if f := e.stackFaultLocked(ac, st, r); f != nil {
			err = e.failResLocked(st, r, "UPDATE", f)
			e.mu.Unlock()
			return err
		}
	case "OS::Neutron::Port":
		if e.st.Ports[r.PhysicalID] == nil || !jsonEqual(props["network"], r.Props["network"]) || !jsonEqual(props["network_id"], r.Props["network_id"]) || !jsonEqual(props["fixed_ips"], r.Props["fixed_ips"]) || !jsonEqual(props["mac_address"], r.Props["mac_address"]) {
			replace = true
		}
	case "OS::Neutron::Net":
		if e.st.Networks[r.PhysicalID] == nil {
			replace = true
		}
	case "OS::Neutron::Subnet":
		if e.st.Subnets[r.PhysicalID] == nil || !jsonEqual(props["cidr"], r.Props["cidr"]) || !jsonEqual(props["network"], r.Props["network"]) || !jsonEqual(props["network_id"], r.Props["network_id"]) {
			replace = true
		}
	}
	if !replace && typ != "OS::Nova::Server" {
		if f := e.stackFaultLocked(ac, st, r); f != nil {
			err = e.failResLocked(st, r, "UPDATE", f)
			e.mu.Unlock()
			return err
		}
	}
	if replace {
		e.mu.Unlock()
		return e.replaceResource(ac, st, r, def, deps)
	}
	defer e.mu.Unlock()
	if !inPlace {
		return nil
	}
	e.setResLocked(st, r, "UPDATE", "IN_PROGRESS", "state changed")
	if typ == "OS::Nova::Server" {
		if err := e.updateServerLocked(r, props); err != nil {
			return e.failResLocked(st, r, "UPDATE", err)
		}
	}
	if typ == "OS::Neutron::Net" {
		if n := e.st.Networks[r.PhysicalID]; n != nil {
			if name, ok := props["name"].(string); ok && name != "" {
				n.Name = name
			}
		}
	}
	r.Props = props
	e.setResLocked(st, r, "UPDATE", "COMPLETE", "state changed")
	return nil
}

// deleteRemoved deletes resources no longer in the template, dependents
// first (using the old template's dependencies).
func (e *Emulator) deleteRemoved(ac *actx, st *stack, defs map[string]map[string]any, oldT map[string]any) error {
	e.mu.Lock()
	var gone []string
	for n := range st.Resources {
		if _, ok := defs[n]; !ok {
			gone = append(gone, n)
		}
	}
	e.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	oldOrder, _, err := topoOrder(templateResources(oldT))
	if err != nil {
		oldOrder = nil
	}
	rank := map[string]int{}
	for i, n := range oldOrder {
		rank[n] = i
	}
	sort.Slice(gone, func(i, j int) bool {
		ri, oki := rank[gone[i]]
		rj, okj := rank[gone[j]]
		if oki != okj {
			return !oki
		}
		if ri != rj {
			return ri > rj
		}
		return gone[i] < gone[j]
	})
	for _, n := range gone {
		if err := e.deleteResource(ac, st, n, false); err != nil {
			return err
		}
	}
	return nil
}

// runDelete deletes every resource of st in reverse dependency order, then
// st itself.
func (e *Emulator) runDelete(ac *actx, st *stack) error {
	start := time.Now()
	e.mu.Lock()
	e.setStackLocked(st, "DELETE", "IN_PROGRESS", "Stack DELETE started")
	order, _, err := topoOrder(templateResources(st.Template))
	if err != nil {
		order = nil
	}
	seen := map[string]bool{}
	var names []string
	for i := len(order) - 1; i >= 0; i-- {
		seen[order[i]] = true
	}
	for n := range st.Resources {
		if !seen[n] {
			names = append(names, n) // not in the template: delete first
		}
	}
	sort.Strings(names)
	for i := len(order) - 1; i >= 0; i-- {
		names = append(names, order[i])
	}
	e.mu.Unlock()
	err = nil
	for _, n := range names {
		if err = e.deleteResource(ac, st, n, false); err != nil {
			break
		}
	}
	if err == nil {
		_ = e.sleep(ac.ctx, e.cfg.ActionDelay-time.Since(start))
		if ac.ctx.Err() != nil {
			return ac.ctx.Err()
		}
		e.mu.Lock()
		e.setStackLocked(st, "DELETE", "COMPLETE", "Stack DELETE completed successfully")
		delete(e.st.Stacks, st.ID)
		e.changed()
		e.mu.Unlock()
		return nil
	}
	e.finishStack(ac, st, "DELETE", start, err)
	return err
}

// deleteResource deletes the physical resource of name; keep leaves the
// resource record (for replacement).
func (e *Emulator) deleteResource(ac *actx, st *stack, name string, keep bool) error {
	if err := ac.ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	r := st.Resources[name]
	if r == nil {
		e.mu.Unlock()
		return nil
	}
	if r.Action == "INIT" || (r.PhysicalID == "" && r.NestedID == "") {
		if !keep {
			delete(st.Resources, name)
			e.changed()
		}
		e.mu.Unlock()
		return nil
	}
	if !keep && ac.target == "stack_delete" {
		if f := e.stackFaultLocked(ac, st, r); f != nil {
			err := e.failResLocked(st, r, "DELETE", f)
			e.mu.Unlock()
			return err
		}
	}
	e.setResLocked(st, r, "DELETE", "IN_PROGRESS", "state changed")
	e.mu.Unlock()

	var err error
	if r.NestedID != "" {
		e.mu.Lock()
		child := e.st.Stacks[r.NestedID]
		e.mu.Unlock()
		if child != nil {
			err = wrapChild(name, e.runDelete(ac, child))
		}
	} else {
		err = e.doDelete(ac, st, r)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if ac.ctx.Err() != nil {
		return ac.ctx.Err()
	}
	if err != nil {
		return e.failResLocked(st, r, "DELETE", err)
	}
	e.setResLocked(st, r, "DELETE", "COMPLETE", "state changed")
	r.PhysicalID, r.NestedID = "", ""
	if !keep {
		delete(st.Resources, name)
		e.changed()
	}
	return nil
}

func (e *Emulator) doDelete(ac *actx, st *stack, r *resource) error {
	e.mu.Lock()
	typ := builtinType(r.Type, st.Registry)
	var stop string
	switch typ {
	case "OS::Nova::Server":
		if _, ok := e.st.Servers[r.PhysicalID]; ok {
			e.deleteServerLocked(r.PhysicalID)
			stop = r.PhysicalID
		}
	case "OS::Neutron::Port":
		e.deletePortLocked(r.PhysicalID)
	case "OS::Neutron::Subnet":
		if sn := e.st.Subnets[r.PhysicalID]; sn != nil {
			if n := e.st.Networks[sn.NetworkID]; n != nil {
				n.SubnetIDs = removeString(n.SubnetIDs, sn.ID)
			}
			delete(e.st.Subnets, sn.ID)
		}
	case "OS::Neutron::Net":
		if n := e.st.Networks[r.PhysicalID]; n != nil {
			for _, sid := range n.SubnetIDs {
				delete(e.st.Subnets, sid)
			}
			delete(e.st.Networks, n.ID)
		}
	}
	e.changed()
	e.mu.Unlock()
	if stop != "" {
		if err := e.backend.Stop(ac.ctx, stop); err != nil {
			e.log.Warn("backend stop failed", "server", stop, "err", err)
		}
	}
	return nil
}

func removeString(xs []string, s string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
