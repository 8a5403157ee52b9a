package openstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"

	"github.com/vnfm-project/vnfm/internal/driver"
)

// stack is what the driver reads of a Heat stack.
type stack struct {
	ID           string
	Name         string
	Status       string
	StatusReason string
	Parameters   map[string]string
}

func (s *stack) inProgress() bool { return strings.HasSuffix(s.Status, "_IN_PROGRESS") }
func (s *stack) failed() bool     { return strings.HasSuffix(s.Status, "_FAILED") }

// heat wraps the Heat calls the driver makes. Templates go as text with
// their files map built by the driver (see loadHOT), so plain requests are
// used for create and update rather than stacks.Create's template fetching.
type heat struct {
	c *gophercloud.ServiceClient
}

// find returns the stack called name, nil when there is none. Heat
// answers GET /stacks/<name> with a redirect to /stacks/<name>/<id>.
func (h heat) find(ctx context.Context, name string) (*stack, error) {
	s, err := h.getURL(ctx, h.c.ServiceURL("stacks", name))
	if err != nil {
		return nil, classify("look up Heat stack "+name, err)
	}
	return s, nil
}

func (h heat) get(ctx context.Context, name, id string) (*stack, error) {
	s, err := h.getURL(ctx, h.c.ServiceURL("stacks", name, id))
	if err != nil {
		return nil, classify("read Heat stack "+name, err)
	}
	return s, nil
}

func (h heat) getURL(ctx context.Context, u string) (*stack, error) {
	var out struct {
		Stack struct {
			ID           string         `json:"id"`
			Name         string         `json:"stack_name"`
			Status       string         `json:"stack_status"`
			StatusReason string         `json:"stack_status_reason"`
			Parameters   map[string]any `json:"parameters"`
		} `json:"stack"`
	}
	_, err := h.c.Get(ctx, u, &out, nil)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, err
	}
	s := &stack{ID: out.Stack.ID, Name: out.Stack.Name, Status: out.Stack.Status, StatusReason: out.Stack.StatusReason,
		Parameters: map[string]string{}}
	for k, v := range out.Stack.Parameters {
		switch x := v.(type) {
		case string:
			s.Parameters[k] = x
		default:
			b, _ := json.Marshal(x)
			s.Parameters[k] = string(b)
		}
	}
	return s, nil
}

// stackBody is a create/update request body.
func stackBody(t *hot, params map[string]any, timeoutMins int) map[string]any {
	b := map[string]any{"parameters": params, "timeout_mins": timeoutMins}
	if t != nil {
		b["template"] = t.Template
		b["files"] = t.Files
	}
	return b
}

func (h heat) create(ctx context.Context, name string, t *hot, params map[string]any, timeoutMins int) (string, error) {
	b := stackBody(t, params, timeoutMins)
	b["stack_name"] = name
	// Keep failed resources for diagnosis and for the retry's update.
	b["disable_rollback"] = true
	var out struct {
		Stack struct {
			ID string `json:"id"`
		} `json:"stack"`
	}
	_, err := h.c.Post(ctx, h.c.ServiceURL("stacks"), b, &out, &gophercloud.RequestOpts{OkCodes: []int{201}})
	if err != nil {
		return "", classify("create Heat stack "+name, err)
	}
	return out.Stack.ID, nil
}

// update sends a full update (PUT: template and all parameters) or, with
// t == nil, a PATCH where Heat keeps the template and the parameters not
// given.
func (h heat) update(ctx context.Context, s *stack, t *hot, params map[string]any, timeoutMins int) error {
	u := h.c.ServiceURL("stacks", s.Name, s.ID)
	b := stackBody(t, params, timeoutMins)
	opts := &gophercloud.RequestOpts{OkCodes: []int{202}}
	var err error
	if t != nil {
		_, err = h.c.Put(ctx, u, b, nil, opts)
	} else {
		_, err = h.c.Patch(ctx, u, b, nil, opts)
	}
	return classify("update Heat stack "+s.Name, err)
}

func (h heat) delete(ctx context.Context, s *stack) error {
	_, err := h.c.Delete(ctx, h.c.ServiceURL("stacks", s.Name, s.ID), nil)
	if notFound(err) {
		return nil
	}
	return classify("delete Heat stack "+s.Name, err)
}

// markUnhealthy marks a resource of a (nested) stack CHECK_FAILED so that
// the next stack update replaces it. A resource already gone is fine: an
// earlier attempt of the same step removed it.
func (h heat) markUnhealthy(ctx context.Context, stackName, stackID, resource, reason string) error {
	err := stackresources.MarkUnhealthy(ctx, h.c, stackName, stackID, resource, stackresources.MarkUnhealthyOpts{
		MarkUnhealthy: true, ResourceStatusReason: reason,
	}).ExtractErr()
	if notFound(err) {
		return nil
	}
	return classify(fmt.Sprintf("mark resource %s of stack %s unhealthy", resource, stackName), err)
}

// resources lists a stack's resources, nested stacks included.
func (h heat) resources(ctx context.Context, s *stack) ([]stackresources.Resource, error) {
	pages, err := stackresources.List(h.c, s.Name, s.ID, stackresources.ListOpts{Depth: 5}).AllPages(ctx)
	if err != nil {
		return nil, classify("list resources of Heat stack "+s.Name, err)
	}
	res, err := stackresources.ExtractResources(pages)
	if err != nil {
		return nil, fmt.Errorf("decode resources of Heat stack %s: %w", s.Name, err)
	}
	return res, nil
}

// waitOpts bounds a wait for a stack action.
type waitOpts struct {
	action   string // CREATE, UPDATE, DELETE: for messages
	timeout  time.Duration
	interval time.Duration
}

// wait polls the stack until it is no longer in progress. It returns nil
// (and a nil stack) when the stack is gone. A *_FAILED stack becomes a
// ProblemError naming the deepest failed resources.
func (h heat) wait(ctx context.Context, s *stack, o waitOpts) (*stack, error) {
	deadline := time.Now().Add(o.timeout)
	// Polls start fast and slow down to the interval: many stack actions
	// take well under the interval, long ones should not hammer Heat.
	next := min(o.interval, 100*time.Millisecond)
	for {
		cur, err := h.get(ctx, s.Name, s.ID)
		if err != nil {
			return nil, err
		}
		if cur == nil || cur.Status == "DELETE_COMPLETE" {
			return nil, nil
		}
		if !cur.inProgress() {
			if cur.failed() {
				return cur, h.failure(ctx, cur)
			}
			return cur, nil
		}
		if time.Now().After(deadline) {
			return cur, h.timedOut(ctx, cur, o)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for Heat stack %s (%s): %w", s.Name, cur.Status, ctx.Err())
		case <-t.C:
		}
		next = min(2*next, o.interval)
	}
}

// failure explains a *_FAILED stack by its deepest failed resources.
func (h heat) failure(ctx context.Context, s *stack) error {
	title := "Heat stack " + s.Status
	res, err := h.resources(ctx, s)
	if err != nil {
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: title,
			Err: fmt.Errorf("Heat stack %s is %s: %s (resources could not be listed: %v)", s.Name, s.Status, s.StatusReason, err)}
	}
	failed := deepestFailed(res)
	if len(failed) == 0 {
		return &driver.ProblemError{Status: statusFor(s.StatusReason), Title: title,
			Err: fmt.Errorf("Heat stack %s is %s: %s", s.Name, s.Status, s.StatusReason)}
	}
	var parts []string
	status := http.StatusInternalServerError
	for _, r := range failed {
		parts = append(parts, fmt.Sprintf("resource %s (%s) %s: %s", r.Name, r.Type, r.Status, r.StatusReason))
		if statusFor(r.StatusReason) == http.StatusUnprocessableEntity {
			status = http.StatusUnprocessableEntity
		}
	}
	return &driver.ProblemError{Status: status, Title: title,
		Err: fmt.Errorf("Heat stack %s is %s: %s", s.Name, s.Status, strings.Join(parts, "; "))}
}

// deepestFailed returns the failed resources whose own nested stack (if
// any) has no failed resource: the causes rather than the parents that
// failed because of them.
func deepestFailed(res []stackresources.Resource) []stackresources.Resource {
	failedIn := map[string]bool{} // stack id -> holds a failed resource
	for _, r := range res {
		if strings.HasSuffix(r.Status, "_FAILED") {
			if id, _ := linkStack(r, "stack"); id != "" {
				failedIn[id] = true
			}
		}
	}
	var out []stackresources.Resource
	for _, r := range res {
		if !strings.HasSuffix(r.Status, "_FAILED") {
			continue
		}
		if id, _ := linkStack(r, "nested"); id != "" && failedIn[id] {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// statusFor maps a failure reason to 422 when the VIM refused for quota or
// limits (the operator must act), else 500.
func statusFor(reason string) int {
	l := strings.ToLower(reason)
	for _, k := range []string{"quota", "limit exceeded", "exceeds", "overlimit", "http 413", "(http 403)"} {
		if strings.Contains(l, k) {
			return http.StatusUnprocessableEntity
		}
	}
	return http.StatusInternalServerError
}

func (h heat) timedOut(ctx context.Context, s *stack, o waitOpts) error {
	var busy []string
	if res, err := h.resources(ctx, s); err == nil {
		for _, r := range res {
			if strings.HasSuffix(r.Status, "_IN_PROGRESS") {
				busy = append(busy, fmt.Sprintf("%s (%s)", r.Name, r.Type))
			}
		}
	}
	sort.Strings(busy)
	detail := "no resource reported in progress"
	if len(busy) > 0 {
		detail = "still in progress: " + strings.Join(busy, ", ")
	}
	return &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Heat stack " + o.action + " timed out",
		Err: fmt.Errorf("Heat stack %s still %s after %s; %s", s.Name, s.Status, o.timeout, detail)}
}

// linkStack returns the stack id and name of a resource link ("stack": the
// stack holding the resource, "nested": the stack it owns), parsed from
// the link's .../stacks/<name>/<id> href.
func linkStack(r stackresources.Resource, rel string) (id, name string) {
	for _, l := range r.Links {
		if l.Rel != rel {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil {
			continue
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		for i := len(parts) - 1; i >= 2; i-- {
			if parts[i-2] == "stacks" {
				n, _ := url.PathUnescape(parts[i-1])
				return parts[i], n
			}
		}
	}
	return "", ""
}
