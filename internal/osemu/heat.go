package osemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

var stackNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$`)

type stackRequest struct {
	StackName       string            `json:"stack_name"`
	Template        json.RawMessage   `json:"template"`
	TemplateURL     string            `json:"template_url"`
	Files           map[string]string `json:"files"`
	Parameters      map[string]any    `json:"parameters"`
	ClearParameters []string          `json:"clear_parameters"`
	Environment     json.RawMessage   `json:"environment"`
	TimeoutMins     int               `json:"timeout_mins"`
	DisableRollback *bool             `json:"disable_rollback"`
}

func (e *Emulator) serveHeat(w http.ResponseWriter, r *http.Request) {
	seg := splitPath(r.URL.Path, "/heat-api/v1")
	e.mu.Lock()
	pid := e.st.ProjectID
	e.mu.Unlock()
	if len(seg) < 2 || seg[0] != pid || seg[1] != "stacks" {
		writeHeatError(w, http.StatusNotFound, "HTTPNotFound", "The resource could not be found.")
		return
	}
	seg = seg[2:]
	base := e.baseURL(r)
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		e.listStacks(w, r, base)
	case len(seg) == 0 && r.Method == http.MethodPost:
		e.createStack(w, r, base)
	case len(seg) == 1 || (len(seg) >= 2 && isStackSub(seg[1])):
		e.stackByName(w, r, base, seg)
	default:
		e.stackOp(w, r, base, seg[0], seg[1], seg[2:])
	}
}

func isStackSub(s string) bool {
	switch s {
	case "resources", "events", "outputs", "template", "environment", "files":
		return true
	}
	return false
}

// stackByName serves /stacks/{name or id}[/sub...]: Heat redirects GETs to
// the canonical /stacks/{name}/{id} URL and acts directly otherwise.
func (e *Emulator) stackByName(w http.ResponseWriter, r *http.Request, base string, seg []string) {
	e.mu.Lock()
	st := e.lookupStackLocked(seg[0], "")
	e.mu.Unlock()
	if st == nil {
		writeHeatError(w, http.StatusNotFound, "EntityNotFound", fmt.Sprintf("The Stack (%s) could not be found.", seg[0]))
		return
	}
	if r.Method == http.MethodGet {
		loc := e.stackURL(base, st) + strings.TrimPrefix(strings.Join(append([]string{""}, seg[1:]...), "/"), "")
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		writeJSON(w, http.StatusFound, map[string]any{"location": loc})
		return
	}
	e.stackOp(w, r, base, st.Name, st.ID, seg[1:])
}

func (e *Emulator) stackURL(base string, st *stack) string {
	return base + "/heat-api/v1/" + e.st.ProjectID + "/stacks/" + st.Name + "/" + st.ID
}

// lookupStackLocked finds a live stack by name and/or id.
func (e *Emulator) lookupStackLocked(name, id string) *stack {
	if id != "" {
		st := e.st.Stacks[id]
		if st == nil || (st.Name != name && st.ID != name) {
			return nil
		}
		return st
	}
	if st := e.st.Stacks[name]; st != nil {
		return st
	}
	for _, st := range e.st.Stacks {
		if st.Name == name {
			return st
		}
	}
	return nil
}

func (e *Emulator) stackOp(w http.ResponseWriter, r *http.Request, base, name, id string, rest []string) {
	e.mu.Lock()
	st := e.lookupStackLocked(name, id)
	e.mu.Unlock()
	if st == nil {
		writeHeatError(w, http.StatusNotFound, "EntityNotFound", fmt.Sprintf("The Stack (%s) could not be found.", name))
		return
	}
	switch {
	case len(rest) == 0:
		switch r.Method {
		case http.MethodGet:
			e.mu.Lock()
			body := e.stackJSONLocked(base, st, true)
			e.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"stack": body})
		case http.MethodPatch, http.MethodPut:
			e.updateStack(w, r, st)
		case http.MethodDelete:
			e.deleteStack(w, st)
		default:
			writeHeatError(w, http.StatusMethodNotAllowed, "HTTPMethodNotAllowed", "Method not allowed")
		}
	case rest[0] == "resources" && len(rest) == 1 && r.Method == http.MethodGet:
		e.listResources(w, r, base, st)
	case rest[0] == "resources" && len(rest) == 2 && r.Method == http.MethodGet:
		e.mu.Lock()
		res := st.Resources[rest[1]]
		var body map[string]any
		if res != nil {
			body = e.resourceJSONLocked(base, st, res)
			body["attributes"] = e.resourceAttrsLocked(st, res)
			body["description"] = ""
		}
		e.mu.Unlock()
		if res == nil {
			writeHeatError(w, http.StatusNotFound, "EntityNotFound", fmt.Sprintf("The Resource (%s) could not be found.", rest[1]))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"resource": body})
	case rest[0] == "resources" && len(rest) == 2 && r.Method == http.MethodPatch:
		e.markUnhealthy(w, r, st, rest[1])
	case rest[0] == "resources" && len(rest) == 3 && rest[2] == "events" && r.Method == http.MethodGet:
		e.listEvents(w, r, base, st, rest[1])
	case rest[0] == "resources" && len(rest) == 3 && rest[2] == "metadata" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"metadata": map[string]any{}})
	case rest[0] == "events" && len(rest) == 1 && r.Method == http.MethodGet:
		e.listEvents(w, r, base, st, "")
	case rest[0] == "outputs" && r.Method == http.MethodGet && len(rest) <= 2:
		e.mu.Lock()
		outs := e.outputsLocked(st)
		e.mu.Unlock()
		if len(rest) == 1 {
			for _, o := range outs {
				delete(o, "output_value")
			}
			writeJSON(w, http.StatusOK, map[string]any{"outputs": outs})
			return
		}
		for _, o := range outs {
			if o["output_key"] == rest[1] {
				writeJSON(w, http.StatusOK, map[string]any{"output": o})
				return
			}
		}
		writeHeatError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("Specified output key %s not found.", rest[1]))
	case rest[0] == "template" && len(rest) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		t := jsonClone(st.Template)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, t)
	case rest[0] == "files" && len(rest) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		f := maps.Clone(st.Files)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, f)
	case rest[0] == "environment" && len(rest) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		env := map[string]any{"parameters": jsonClone(st.EnvParams), "resource_registry": jsonClone(st.Registry), "parameter_defaults": map[string]any{}}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, env)
	default:
		writeHeatError(w, http.StatusNotFound, "HTTPNotFound", "The resource could not be found.")
	}
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return &heatError{Type: "HTTPBadRequest", Msg: "The request body could not be parsed: " + err.Error()}
	}
	return nil
}

func writeErr(w http.ResponseWriter, err error) {
	var he *heatError
	if errors.As(err, &he) {
		writeHeatError(w, http.StatusBadRequest, he.Type, he.Msg)
		return
	}
	writeHeatError(w, http.StatusInternalServerError, "InternalError", err.Error())
}

func (e *Emulator) createStack(w http.ResponseWriter, r *http.Request, base string) {
	var req stackRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if !stackNameRE.MatchString(req.StackName) {
		writeHeatError(w, http.StatusBadRequest, "StackValidationFailed", fmt.Sprintf("Invalid stack name %s must contain only alphanumeric or \"_-.\" characters, must start with alpha and must be 255 characters or less.", req.StackName))
		return
	}
	if req.TemplateURL != "" && len(req.Template) == 0 {
		writeHeatError(w, http.StatusBadRequest, "HTTPBadRequest", "template_url is not supported by the emulator; send the template")
		return
	}
	t, err := parseDoc(req.Template)
	if err == nil && t == nil {
		err = &heatError{Type: "HTTPBadRequest", Msg: "No template specified"}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	env, err := parseEnvironment(req.Environment)
	if err != nil {
		writeErr(w, err)
		return
	}
	params, _ := jsonClone(req.Parameters).(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	if err := validateTemplate(t, req.Files, env.Registry, nil, 0); err != nil {
		writeErr(w, err)
		return
	}
	resolved, err := resolveParams(t, params, env.Params)
	if err != nil {
		writeErr(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		writeHeatError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The emulator is shutting down.")
		return
	}
	if e.lookupStackLocked(req.StackName, "") != nil {
		writeHeatError(w, http.StatusConflict, "StackExists", fmt.Sprintf("The Stack (%s) already exists.", req.StackName))
		return
	}
	now := time.Now().UTC()
	st := &stack{
		ID: newUUID(), Name: req.StackName, Action: "CREATE", Status: "IN_PROGRESS", Reason: "Stack CREATE started",
		Created: now, Template: t, Files: req.Files, Params: params, EnvParams: env.Params, Registry: env.Registry,
		Resolved: resolved, TimeoutMins: req.TimeoutMins, DisableRollback: req.DisableRollback == nil || *req.DisableRollback,
		BaseURL: base, Resources: map[string]*resource{},
	}
	e.st.Stacks[st.ID] = st
	e.stackEventLocked(st, st.Reason)
	e.changed()
	e.startActionLocked(st, "stack_create", func(ac *actx) { _ = e.runCreate(ac, st) })
	e.log.Info("stack create", "stack", st.Name, "id", st.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"stack": map[string]any{
		"id": st.ID, "links": []any{map[string]any{"href": e.stackURL(base, st), "rel": "self"}},
	}})
}

func (e *Emulator) updateStack(w http.ResponseWriter, r *http.Request, st *stack) {
	patch := r.Method == http.MethodPatch
	var req stackRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	newT, err := parseDoc(req.Template)
	if err != nil {
		writeErr(w, err)
		return
	}
	if newT == nil && !patch {
		writeHeatError(w, http.StatusBadRequest, "HTTPBadRequest", "No template specified")
		return
	}
	env, err := parseEnvironment(req.Environment)
	if err != nil {
		writeErr(w, err)
		return
	}
	newParams, _ := jsonClone(req.Parameters).(map[string]any)

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.stackUsableLocked(w, st) {
		return
	}
	if st.busy != nil || st.Status == "IN_PROGRESS" {
		writeHeatError(w, http.StatusConflict, "ActionInProgress", fmt.Sprintf("Stack %s already has an action (%s) in progress.", st.Name, st.Action))
		return
	}
	if st.Action == "DELETE" {
		writeHeatError(w, http.StatusBadRequest, "NotSupported", "Updating a stack when it is deleting is not supported.")
		return
	}
	files, params, envParams, registry := req.Files, newParams, env.Params, env.Registry
	if patch {
		// PATCH is Heat's "existing" update: everything not given is kept.
		if newT == nil {
			newT = st.Template
		}
		files = mergeMap(st.Files, req.Files)
		params = mergeMap(st.Params, newParams)
		for _, k := range req.ClearParameters {
			delete(params, k)
		}
		envParams = mergeMap(st.EnvParams, env.Params)
		registry = mergeMap(st.Registry, env.Registry)
	}
	if params == nil {
		params = map[string]any{}
	}
	if err := validateTemplate(newT, files, registry, nil, 0); err != nil {
		writeErr(w, err)
		return
	}
	resolved, err := resolveParams(newT, params, envParams)
	if err != nil {
		writeErr(w, err)
		return
	}
	oldT := st.Template
	st.Template, st.Files, st.Params, st.EnvParams, st.Registry, st.Resolved = newT, files, params, envParams, registry, resolved
	if req.TimeoutMins > 0 {
		st.TimeoutMins = req.TimeoutMins
	}
	e.setStackLocked(st, "UPDATE", "IN_PROGRESS", "Stack UPDATE started")
	e.startActionLocked(st, "stack_update", func(ac *actx) { _ = e.runUpdate(ac, st, oldT) })
	e.log.Info("stack update", "stack", st.Name, "id", st.ID, "patch", patch)
	w.WriteHeader(http.StatusAccepted)
}

func mergeMap[V any](old, upd map[string]V) map[string]V {
	out := make(map[string]V, len(old)+len(upd))
	maps.Copy(out, old)
	maps.Copy(out, upd)
	return out
}

func (e *Emulator) deleteStack(w http.ResponseWriter, st *stack) {
	e.mu.Lock()
	if run := st.busy; run != nil {
		if run.target == "stack_delete" {
			e.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Heat cancels a running create/update in favour of the delete.
		run.cancel()
		e.mu.Unlock()
		<-run.done
		e.mu.Lock()
	}
	defer e.mu.Unlock()
	if !e.stackUsableLocked(w, st) {
		return
	}
	e.setStackLocked(st, "DELETE", "IN_PROGRESS", "Stack DELETE started")
	e.startActionLocked(st, "stack_delete", func(ac *actx) { _ = e.runDelete(ac, st) })
	e.log.Info("stack delete", "stack", st.Name, "id", st.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) stackJSONLocked(base string, st *stack, detail bool) map[string]any {
	desc, _ := st.Template["description"].(string)
	var parent any
	if st.ParentID != "" {
		parent = st.ParentID
	}
	m := map[string]any{
		"id":                    st.ID,
		"stack_name":            st.Name,
		"description":           desc,
		"stack_status":          st.status(),
		"stack_status_reason":   st.Reason,
		"creation_time":         fmtTime(st.Created),
		"updated_time":          fmtTime(st.Updated),
		"deletion_time":         nil,
		"links":                 []any{map[string]any{"href": e.stackURL(base, st), "rel": "self"}},
		"parent":                parent,
		"stack_owner":           DefaultUser,
		"stack_user_project_id": e.st.ProjectID,
		"project":               e.st.ProjectID,
		"tags":                  nil,
	}
	if !detail {
		return m
	}
	params := map[string]string{
		"OS::stack_name": st.Name, "OS::stack_id": st.ID, "OS::project_id": e.st.ProjectID,
	}
	for k, v := range st.Resolved {
		params[k] = paramString(v)
	}
	m["parameters"] = params
	m["outputs"] = e.outputsLocked(st)
	m["template_description"] = desc
	m["disable_rollback"] = st.DisableRollback
	m["timeout_mins"] = st.TimeoutMins
	m["capabilities"] = []any{}
	m["notification_topics"] = []any{}
	return m
}

func (e *Emulator) outputsLocked(st *stack) []map[string]any {
	outs, _ := st.Template["outputs"].(map[string]any)
	keys := make([]string, 0, len(outs))
	for k := range outs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	res := []map[string]any{}
	for _, k := range keys {
		om, _ := outs[k].(map[string]any)
		desc, _ := om["description"].(string)
		o := map[string]any{"output_key": k, "description": desc}
		v, err := e.outputLocked(st, k, 0)
		if err != nil {
			o["output_error"] = err.Error()
			o["output_value"] = nil
		} else {
			o["output_value"] = jsonClone(v)
		}
		res = append(res, o)
	}
	return res
}

func (e *Emulator) listStacks(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	nested := strings.EqualFold(q.Get("show_nested"), "true")
	e.mu.Lock()
	var list []map[string]any
	var created []time.Time
	for _, st := range e.st.Stacks {
		if st.ParentID != "" && !nested {
			continue
		}
		if v := q.Get("name"); v != "" && v != st.Name {
			continue
		}
		if v := q.Get("id"); v != "" && v != st.ID {
			continue
		}
		if v := q.Get("status"); v != "" && v != st.Status && v != st.status() {
			continue
		}
		list = append(list, e.stackJSONLocked(base, st, false))
		created = append(created, st.Created)
	}
	e.mu.Unlock()
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return created[idx[a]].After(created[idx[b]]) })
	out := make([]any, 0, len(list))
	for _, i := range idx {
		out = append(out, list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"stacks": out})
}

func (e *Emulator) resourceJSONLocked(base string, st *stack, r *resource) map[string]any {
	var reqBy []string
	for n, o := range st.Resources {
		for _, d := range o.Deps {
			if d == r.Name {
				reqBy = append(reqBy, n)
			}
		}
	}
	sort.Strings(reqBy)
	if reqBy == nil {
		reqBy = []string{}
	}
	surl := e.stackURL(base, st)
	links := []any{
		map[string]any{"href": surl + "/resources/" + r.Name, "rel": "self"},
		map[string]any{"href": surl, "rel": "stack"},
	}
	if child := e.st.Stacks[r.NestedID]; child != nil {
		links = append(links, map[string]any{"href": e.stackURL(base, child), "rel": "nested"})
	}
	m := map[string]any{
		"resource_name":          r.Name,
		"logical_resource_id":    r.Name,
		"physical_resource_id":   r.PhysicalID,
		"resource_type":          r.Type,
		"resource_status":        r.status(),
		"resource_status_reason": r.Reason,
		"creation_time":          fmtTime(r.Created),
		"updated_time":           fmtTime(r.Updated),
		"required_by":            reqBy,
		"links":                  links,
		"stack_name":             st.Name,
		"stack_identity": map[string]any{
			"stack_name": st.Name, "stack_id": st.ID, "tenant": e.st.ProjectID, "path": "",
		},
	}
	if st.ParentResource != "" {
		m["parent_resource"] = st.ParentResource
	}
	return m
}

func (e *Emulator) resourceAttrsLocked(st *stack, r *resource) map[string]any {
	var names []string
	switch builtinType(r.Type, st.Registry) {
	case "OS::Nova::Server":
		names = []string{"first_address", "networks", "addresses", "name"}
	case "OS::Neutron::Port":
		names = []string{"fixed_ips", "mac_address", "network_id", "name"}
	case "OS::Neutron::Net":
		names = []string{"name", "subnets"}
	case "OS::Neutron::Subnet":
		names = []string{"cidr", "gateway_ip", "name", "network_id"}
	case "OS::Heat::AutoScalingGroup":
		names = []string{"current_size", "refs"}
	case "OS::Heat::ResourceGroup":
		names = []string{"refs"}
	default:
		if child := e.st.Stacks[r.NestedID]; child != nil {
			outs, _ := child.Template["outputs"].(map[string]any)
			for k := range outs {
				names = append(names, k)
			}
		}
	}
	out := map[string]any{}
	for _, n := range names {
		v, err := e.attrLocked(st, r, []any{n}, 0)
		if err == nil {
			out[n] = v
		}
	}
	return out
}

func (e *Emulator) listResources(w http.ResponseWriter, r *http.Request, base string, st *stack) {
	q := r.URL.Query()
	depth, _ := strconv.Atoi(q.Get("nested_depth"))
	depth = min(max(depth, 0), 10)
	e.mu.Lock()
	out := []any{}
	var walk func(s *stack, d int)
	walk = func(s *stack, d int) {
		names := make([]string, 0, len(s.Resources))
		for n := range s.Resources {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			res := s.Resources[n]
			if matchesResourceFilters(q, res) {
				out = append(out, e.resourceJSONLocked(base, s, res))
			}
			if d > 0 {
				if child := e.st.Stacks[res.NestedID]; child != nil {
					walk(child, d-1)
				}
			}
		}
	}
	walk(st, depth)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}

func matchesResourceFilters(q map[string][]string, r *resource) bool {
	check := func(key, val string) bool {
		vs := q[key]
		if len(vs) == 0 {
			return true
		}
		for _, v := range vs {
			if v == val {
				return true
			}
		}
		return false
	}
	return check("type", r.Type) && check("name", r.Name) && (check("status", r.Status) || check("status", r.status())) && (check("action", r.Action))
}

func (e *Emulator) markUnhealthy(w http.ResponseWriter, r *http.Request, st *stack, name string) {
	var body struct {
		MarkUnhealthy *bool  `json:"mark_unhealthy"`
		Reason        string `json:"resource_status_reason"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	if body.MarkUnhealthy == nil {
		writeHeatError(w, http.StatusBadRequest, "HTTPBadRequest", "mark_unhealthy is required")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	res := st.Resources[name]
	if res == nil {
		writeHeatError(w, http.StatusNotFound, "EntityNotFound", fmt.Sprintf("The Resource (%s) could not be found.", name))
		return
	}
	if res.Status == "IN_PROGRESS" {
		writeHeatError(w, http.StatusConflict, "ActionInProgress", fmt.Sprintf("Resource %s is in progress.", name))
		return
	}
	switch {
	case *body.MarkUnhealthy:
		e.setResLocked(st, res, "CHECK", "FAILED", body.Reason)
	case res.Action == "CHECK" && res.Status == "FAILED":
		e.setResLocked(st, res, "CHECK", "COMPLETE", body.Reason)
	}
	w.WriteHeader(http.StatusOK)
}

func (e *Emulator) listEvents(w http.ResponseWriter, r *http.Request, base string, st *stack, resName string) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	marker := q.Get("marker")
	desc := q.Get("sort_dir") == "desc"
	e.mu.Lock()
	evs := append([]event(nil), st.Events...)
	surl := e.stackURL(base, st)
	e.mu.Unlock()
	if desc {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	if marker != "" {
		for i, ev := range evs {
			if ev.ID == marker {
				evs = evs[i+1:]
				break
			}
		}
	}
	out := []any{}
	for _, ev := range evs {
		if resName != "" && ev.Resource != resName {
			continue
		}
		if names := q["resource_name"]; len(names) > 0 && !contains(names, ev.Resource) {
			continue
		}
		out = append(out, map[string]any{
			"id":                     ev.ID,
			"resource_name":          ev.Resource,
			"logical_resource_id":    ev.Resource,
			"physical_resource_id":   ev.PhysicalID,
			"resource_status":        ev.Status,
			"resource_status_reason": ev.Reason,
			"event_time":             ev.Time.Format(heatTime),
			"links": []any{
				map[string]any{"href": surl + "/resources/" + ev.Resource + "/events/" + ev.ID, "rel": "self"},
				map[string]any{"href": surl + "/resources/" + ev.Resource, "rel": "resource"},
				map[string]any{"href": surl, "rel": "stack"},
			},
		})
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// stackUsableLocked answers 503 while the emulator closes and 404 when st
// was deleted meanwhile; it reports whether the caller may go on.
func (e *Emulator) stackUsableLocked(w http.ResponseWriter, st *stack) bool {
	if e.closed {
		writeHeatError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The emulator is shutting down.")
		return false
	}
	if e.st.Stacks[st.ID] == nil {
		writeHeatError(w, http.StatusNotFound, "EntityNotFound", fmt.Sprintf("The Stack (%s) could not be found.", st.Name))
		return false
	}
	return true
}
