package osemu

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// heatError is a request error Heat reports as 400 with an error type.
type heatError struct {
	Type string
	Msg  string
}

func (h *heatError) Error() string { return h.Msg }

func badTemplate(format string, args ...any) error {
	return &heatError{Type: "StackValidationFailed", Msg: fmt.Sprintf(format, args...)}
}

const maxEvalDepth = 64

// parseDoc decodes a template or environment given either as a JSON object or
// as a YAML/JSON string.
func parseDoc(raw json.RawMessage) (map[string]any, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, badTemplate("invalid template string: %v", err)
		}
		return parseYAMLDoc(s)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, badTemplate("invalid template: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badTemplate("The template is not a JSON object or YAML mapping.")
	}
	return m, nil
}

func parseYAMLDoc(s string) (m map[string]any, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	// yaml.v3 can panic on pathological input; a template error is enough.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, badTemplate("invalid template: %v", r)
		}
	}()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, badTemplate("Error parsing template: %v", err)
	}
	m, ok := normalize(v, 0).(map[string]any)
	if !ok {
		return nil, badTemplate("The template is not a JSON object or YAML mapping.")
	}
	return m, nil
}

// normalize turns decoded YAML into the JSON data model.
func normalize(v any, depth int) any {
	if depth > 512 {
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalize(x, depth+1)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = normalize(x, depth+1)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalize(x, depth+1)
		}
		return out
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return float64(t)
	case time.Time:
		return t.Format("2006-01-02")
	default:
		return t
	}
}

// jsonClone deep-copies a JSON-model value (and normalizes Go numbers).
func jsonClone(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

func jsonEqual(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

// environment is the subset of a Heat environment the emulator honours.
type environment struct {
	Params   map[string]any
	Registry map[string]string
}

func parseEnvironment(raw json.RawMessage) (environment, error) {
	var env environment
	m, err := parseDoc(raw)
	if err != nil {
		return env, &heatError{Type: "InvalidEnvironment", Msg: err.Error()}
	}
	env.Params = map[string]any{}
	env.Registry = map[string]string{}
	for _, key := range []string{"parameter_defaults", "parameters"} {
		if p, ok := m[key].(map[string]any); ok {
			for k, v := range p {
				env.Params[k] = v
			}
		}
	}
	if rr, ok := m["resource_registry"].(map[string]any); ok {
		for k, v := range rr {
			if s, ok := v.(string); ok {
				env.Registry[k] = s
			}
		}
	}
	return env, nil
}

// isTemplateType tells whether typ names a template (nested stack), and
// returns the file content.
func isTemplateType(typ string, files map[string]string, registry map[string]string) (string, bool, error) {
	for i := 0; i < 4; i++ { // registry entries may chain
		mapped, ok := registry[typ]
		if !ok || mapped == typ {
			break
		}
		typ = mapped
	}
	if c, ok := files[typ]; ok {
		return c, true, nil
	}
	if strings.HasPrefix(typ, "OS::") || strings.HasPrefix(typ, "AWS::") {
		return "", false, nil
	}
	if strings.HasSuffix(typ, ".yaml") || strings.HasSuffix(typ, ".yml") || strings.HasSuffix(typ, ".template") || strings.Contains(typ, "/") {
		return "", false, badTemplate("Could not fetch remote template %q: not found in files", typ)
	}
	return "", false, nil
}

// builtinType returns the OS:: type a registry maps typ to (or typ itself).
func builtinType(typ string, registry map[string]string) string {
	for i := 0; i < 4; i++ {
		mapped, ok := registry[typ]
		if !ok || mapped == typ {
			break
		}
		typ = mapped
	}
	return typ
}

func templateResources(t map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	rs, _ := t["resources"].(map[string]any)
	for name, d := range rs {
		if m, ok := d.(map[string]any); ok {
			out[name] = m
		}
	}
	return out
}

// resolveParams types the template's parameters from the user's values, the
// environment and defaults; a missing one is a 400 like Heat.
func resolveParams(t map[string]any, user, env map[string]any) (map[string]any, error) {
	decl, _ := t["parameters"].(map[string]any)
	out := map[string]any{}
	for name, d := range decl {
		dm, _ := d.(map[string]any)
		typ, _ := dm["type"].(string)
		v, ok := user[name]
		if !ok {
			v, ok = env[name]
		}
		if !ok {
			v, ok = dm["default"]
		}
		if !ok || v == nil {
			return nil, &heatError{Type: "UserParameterMissing", Msg: fmt.Sprintf("The Parameter (%s) was not provided.", name)}
		}
		cv, err := convertParam(typ, v)
		if err != nil {
			return nil, &heatError{Type: "StackValidationFailed", Msg: fmt.Sprintf("Parameter '%s' is invalid: %v", name, err)}
		}
		out[name] = cv
	}
	return out, nil
}

func convertParam(typ string, v any) (any, error) {
	switch strings.ToLower(typ) {
	case "", "string":
		switch t := v.(type) {
		case string:
			return t, nil
		case map[string]any, []any:
			b, _ := json.Marshal(t)
			return string(b), nil
		default:
			return scalarString(t), nil
		}
	case "number":
		switch t := v.(type) {
		case float64:
			return t, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
			if err != nil {
				return nil, fmt.Errorf("could not convert %q to number", t)
			}
			return f, nil
		}
		return nil, fmt.Errorf("value %v is not a number", v)
	case "json":
		switch t := v.(type) {
		case map[string]any, []any:
			return t, nil
		case string:
			var out any
			if strings.TrimSpace(t) == "" {
				return map[string]any{}, nil
			}
			if err := json.Unmarshal([]byte(t), &out); err != nil {
				return nil, fmt.Errorf("value was not valid JSON: %w", err)
			}
			return out, nil
		}
		return nil, fmt.Errorf("value %v is not JSON", v)
	case "comma_delimited_list":
		switch t := v.(type) {
		case []any:
			out := make([]any, len(t))
			for i, x := range t {
				out[i] = scalarString(x)
			}
			return out, nil
		case string:
			out := []any{}
			if t == "" {
				return out, nil
			}
			for _, p := range strings.Split(t, ",") {
				out = append(out, strings.TrimSpace(p))
			}
			return out, nil
		}
		return nil, fmt.Errorf("value %v is not a list", v)
	case "boolean":
		switch t := v.(type) {
		case bool:
			return t, nil
		case float64:
			return t != 0, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "true", "t", "yes", "y", "on", "1":
				return true, nil
			case "false", "f", "no", "n", "off", "0":
				return false, nil
			}
		}
		return nil, fmt.Errorf("unrecognized bool value %v", v)
	}
	return nil, fmt.Errorf("unknown parameter type %q", typ)
}

// paramString renders a typed parameter the way Heat shows it in GET stack.
func paramString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = scalarString(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		b, _ := json.Marshal(t)
		return string(b)
	default:
		return scalarString(t)
	}
}

func scalarString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

// evaluator evaluates HOT intrinsic functions. resolve and attr are nil in
// static (validation) mode.
type evaluator struct {
	params  map[string]any
	files   map[string]string
	pseudo  map[string]any
	resolve func(name string) (string, error)          // get_resource
	attr    func(name string, path []any) (any, error) // get_attr
	known   map[string]bool                            // resource names, for static checks
}

func (ev *evaluator) eval(v any, depth int) (any, error) {
	if depth > maxEvalDepth {
		return nil, badTemplate("template nesting too deep")
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if fn, ok := hotFunctions[k]; ok {
					return fn(ev, arg, depth+1)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			y, err := ev.eval(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			y, err := ev.eval(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	default:
		return t, nil
	}
}

type hotFunc func(ev *evaluator, arg any, depth int) (any, error)

var hotFunctions map[string]hotFunc

func init() {
	hotFunctions = map[string]hotFunc{
		"get_param":    fnGetParam,
		"get_resource": fnGetResource,
		"get_attr":     fnGetAttr,
		"str_replace":  fnStrReplace,
		"list_join":    fnListJoin,
		"get_file":     fnGetFile,
		"str_split":    fnStrSplit,
		"list_concat":  fnListConcat,
		"map_merge":    fnMapMerge,
	}
}

func fnGetParam(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	var path []any
	switch t := a.(type) {
	case string:
		path = []any{t}
	case []any:
		path = t
	default:
		return nil, badTemplate("Arguments to \"get_param\" must be a string or a list")
	}
	if len(path) == 0 {
		return nil, badTemplate("Function \"get_param\" must have arguments")
	}
	name, ok := path[0].(string)
	if !ok {
		return nil, badTemplate("Parameter name in \"get_param\" must be a string")
	}
	v, ok := ev.pseudo[name]
	if !ok {
		v, ok = ev.params[name]
	}
	if !ok {
		return nil, &heatError{Type: "UserParameterMissing", Msg: fmt.Sprintf("The Parameter (%s) was not provided.", name)}
	}
	return walkPath(v, path[1:])
}

// walkPath indexes into maps by key and lists by index, like get_param and
// get_attr paths; a missing key yields null as in Heat.
func walkPath(v any, path []any) (any, error) {
	for _, p := range path {
		switch t := v.(type) {
		case map[string]any:
			k, ok := p.(string)
			if !ok {
				k = scalarString(p)
			}
			v = t[k]
		case []any:
			var i int
			switch q := p.(type) {
			case float64:
				i = int(q)
			case string:
				n, err := strconv.Atoi(q)
				if err != nil {
					return nil, badTemplate("path component %q is not a list index", q)
				}
				i = n
			default:
				return nil, badTemplate("path component %v is not a list index", p)
			}
			if i < 0 || i >= len(t) {
				return nil, nil
			}
			v = t[i]
		case nil:
			return nil, nil
		default:
			return nil, badTemplate("cannot index %T with %v", v, p)
		}
	}
	return v, nil
}

func fnGetResource(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	name, ok := a.(string)
	if !ok {
		return nil, badTemplate("Argument to \"get_resource\" must be a string")
	}
	if ev.resolve == nil {
		if ev.known != nil && !ev.known[name] {
			return nil, badTemplate("The specified reference %q (in unknown) is incorrect.", name)
		}
		return "", nil
	}
	return ev.resolve(name)
}

func fnGetAttr(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	l, ok := a.([]any)
	if !ok || len(l) < 2 {
		return nil, badTemplate("Arguments to \"get_attr\" must be a list of at least 2 items")
	}
	name, ok := l[0].(string)
	if !ok {
		return nil, badTemplate("Resource name in \"get_attr\" must be a string")
	}
	if ev.attr == nil {
		if ev.known != nil && !ev.known[name] {
			return nil, badTemplate("The specified reference %q (in unknown) is incorrect.", name)
		}
		return "", nil
	}
	return ev.attr(name, l[1:])
}

func fnStrReplace(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	m, ok := a.(map[string]any)
	if !ok {
		return nil, badTemplate("Arguments to \"str_replace\" must be a map")
	}
	tmpl, ok := m["template"].(string)
	if !ok {
		return nil, badTemplate("\"str_replace\" template must be a string")
	}
	ps, ok := m["params"].(map[string]any)
	if !ok {
		return nil, badTemplate("\"str_replace\" params must be a map")
	}
	keys := make([]string, 0, len(ps))
	for k := range ps {
		if k != "" {
			keys = append(keys, k)
		}
	}
	// Longest keys first, as Heat does, so overlapping keys behave.
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, scalarString(ps[k]))
	}
	return strings.NewReplacer(pairs...).Replace(tmpl), nil
}

func fnListJoin(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	l, ok := a.([]any)
	if !ok || len(l) < 1 {
		return nil, badTemplate("Arguments to \"list_join\" must be a list")
	}
	delim, ok := l[0].(string)
	if !ok {
		return nil, badTemplate("\"list_join\" delimiter must be a string")
	}
	var parts []string
	for _, x := range l[1:] {
		xs, ok := x.([]any)
		if !ok {
			if x == nil {
				continue
			}
			return nil, badTemplate("\"list_join\" items to join must be lists")
		}
		for _, y := range xs {
			parts = append(parts, scalarString(y))
		}
	}
	return strings.Join(parts, delim), nil
}

func fnGetFile(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	name, ok := a.(string)
	if !ok {
		return nil, badTemplate("Argument to \"get_file\" must be a string")
	}
	c, ok := ev.files[name]
	if !ok {
		return nil, badTemplate("No content found in the \"files\" section for get_file path: %s", name)
	}
	return c, nil
}

func fnStrSplit(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	l, ok := a.([]any)
	if !ok || len(l) < 2 {
		return nil, badTemplate("Arguments to \"str_split\" must be a list of 2 or 3 items")
	}
	d, ok1 := l[0].(string)
	s, ok2 := l[1].(string)
	if !ok1 || !ok2 || d == "" {
		return nil, badTemplate("\"str_split\" delimiter and string must be strings")
	}
	parts := strings.Split(s, d)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	if len(l) > 2 {
		return walkPath(out, l[2:3])
	}
	return out, nil
}

func fnListConcat(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	l, ok := a.([]any)
	if !ok {
		return nil, badTemplate("Arguments to \"list_concat\" must be a list")
	}
	out := []any{}
	for _, x := range l {
		xs, ok := x.([]any)
		if !ok {
			return nil, badTemplate("\"list_concat\" items must be lists")
		}
		out = append(out, xs...)
	}
	return out, nil
}

func fnMapMerge(ev *evaluator, arg any, depth int) (any, error) {
	a, err := ev.eval(arg, depth)
	if err != nil {
		return nil, err
	}
	l, ok := a.([]any)
	if !ok {
		return nil, badTemplate("Arguments to \"map_merge\" must be a list")
	}
	out := map[string]any{}
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, badTemplate("\"map_merge\" items must be maps")
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// dependencies lists the resources def refers to via get_resource, get_attr
// and depends_on, restricted to names in known.
func dependencies(def map[string]any, known map[string]bool) []string {
	set := map[string]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > maxEvalDepth {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 1 {
				if a, ok := t["get_resource"].(string); ok {
					set[a] = true
				}
				if l, ok := t["get_attr"].([]any); ok && len(l) > 0 {
					if a, ok := l[0].(string); ok {
						set[a] = true
					}
				}
			}
			for _, x := range t {
				walk(x, depth+1)
			}
		case []any:
			for _, x := range t {
				walk(x, depth+1)
			}
		}
	}
	walk(def["properties"], 0)
	walk(def["metadata"], 0)
	switch d := def["depends_on"].(type) {
	case string:
		set[d] = true
	case []any:
		for _, x := range d {
			if s, ok := x.(string); ok {
				set[s] = true
			}
		}
	}
	var out []string
	for n := range set {
		if known[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// topoOrder orders a template's resources so that dependencies come first;
// ties are broken by name for determinism.
func topoOrder(defs map[string]map[string]any) ([]string, map[string][]string, error) {
	known := map[string]bool{}
	for n := range defs {
		known[n] = true
	}
	deps := map[string][]string{}
	indeg := map[string]int{}
	rev := map[string][]string{}
	for n, d := range defs {
		deps[n] = dependencies(d, known)
		for _, x := range deps[n] {
			if x == n {
				return nil, nil, badTemplate("Circular Dependency Found: %s", n)
			}
			rev[x] = append(rev[x], n)
		}
		indeg[n] = len(deps[n])
	}
	var ready []string
	for n := range defs {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	var order []string
	for len(ready) > 0 {
		sort.Strings(ready)
		n := ready[0]
		ready = ready[1:]
		order = append(order, n)
		for _, m := range rev[n] {
			indeg[m]--
			if indeg[m] == 0 {
				ready = append(ready, m)
			}
		}
	}
	if len(order) != len(defs) {
		return nil, nil, badTemplate("Circular Dependency Found")
	}
	return order, deps, nil
}

// validateTemplate checks a template the way Heat does before accepting a
// create or update: structure, references, parameters, nested templates.
func validateTemplate(t map[string]any, files, registry map[string]string, params map[string]any, depth int) error {
	if depth > 8 {
		return badTemplate("Recursion depth exceeds 8.")
	}
	if t == nil {
		return badTemplate("The template is empty.")
	}
	if _, ok := t["heat_template_version"]; !ok {
		if _, ok := t["HeatTemplateFormatVersion"]; !ok {
			return &heatError{Type: "InvalidTemplateVersion", Msg: "The template version is invalid: Template version was not provided"}
		}
	}
	if rs, ok := t["resources"]; ok && rs != nil {
		if _, ok := rs.(map[string]any); !ok {
			return badTemplate("\"resources\" must be a map")
		}
	}
	if ps, ok := t["parameters"]; ok && ps != nil {
		pm, ok := ps.(map[string]any)
		if !ok {
			return badTemplate("\"parameters\" must be a map")
		}
		for n, d := range pm {
			if _, ok := d.(map[string]any); !ok {
				return badTemplate("Parameter %s must be a map", n)
			}
		}
	}
	rawRs, _ := t["resources"].(map[string]any)
	defs := map[string]map[string]any{}
	for n, d := range rawRs {
		dm, ok := d.(map[string]any)
		if !ok {
			return badTemplate("Resource %s must be a map", n)
		}
		if _, ok := dm["type"].(string); !ok {
			return badTemplate("Resource %s is missing \"type\"", n)
		}
		defs[n] = dm
	}
	if _, _, err := topoOrder(defs); err != nil {
		return err
	}
	known := map[string]bool{}
	for n := range defs {
		known[n] = true
	}
	declared := map[string]any{}
	decl, _ := t["parameters"].(map[string]any)
	for n := range decl {
		declared[n] = ""
	}
	for _, p := range pseudoParamNames {
		declared[p] = ""
	}
	for n, d := range defs {
		if err := checkRefs(d["properties"], declared, known, files, 0); err != nil {
			return badTemplate("Resource %s: %v", n, err)
		}
		typ := d["type"].(string)
		content, isTmpl, err := isTemplateType(typ, files, registry)
		if err != nil {
			return err
		}
		if isTmpl {
			nt, err := parseYAMLDoc(content)
			if err != nil {
				return badTemplate("Failed to parse nested template %s: %v", typ, err)
			}
			if err := validateTemplate(nt, files, registry, nil, depth+1); err != nil {
				return err
			}
		}
		if builtinType(typ, registry) == "OS::Heat::AutoScalingGroup" || builtinType(typ, registry) == "OS::Heat::ResourceGroup" {
			if err := validateGroupMember(d, files, registry, depth); err != nil {
				return err
			}
		}
	}
	if outs, ok := t["outputs"].(map[string]any); ok {
		for n, o := range outs {
			om, _ := o.(map[string]any)
			if err := checkRefs(om["value"], declared, known, files, 0); err != nil {
				return badTemplate("Output %s: %v", n, err)
			}
		}
	}
	if params != nil {
		if _, err := resolveParams(t, params, nil); err != nil {
			return err
		}
	}
	return nil
}

func validateGroupMember(d map[string]any, files, registry map[string]string, depth int) error {
	props, _ := d["properties"].(map[string]any)
	mdef, _ := props["resource"].(map[string]any)
	if mdef == nil {
		mdef, _ = props["resource_def"].(map[string]any)
	}
	typ, _ := mdef["type"].(string)
	if typ == "" {
		return nil
	}
	content, isTmpl, err := isTemplateType(typ, files, registry)
	if err != nil || !isTmpl {
		return err
	}
	nt, err := parseYAMLDoc(content)
	if err != nil {
		return badTemplate("Failed to parse nested template %s: %v", typ, err)
	}
	return validateTemplate(nt, files, registry, nil, depth+1)
}

var pseudoParamNames = []string{"OS::stack_name", "OS::stack_id", "OS::project_id"}

// checkRefs statically checks the references of intrinsic functions: the
// values are unknown before the stack runs, the names are not.
func checkRefs(v any, params map[string]any, known map[string]bool, files map[string]string, depth int) error {
	if depth > maxEvalDepth {
		return badTemplate("template nesting too deep")
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				switch k {
				case "get_param":
					name := arg
					if l, ok := arg.([]any); ok {
						if len(l) == 0 {
							return badTemplate("Function \"get_param\" must have arguments")
						}
						name = l[0]
					}
					if s, ok := name.(string); ok {
						if _, ok := params[s]; !ok {
							return &heatError{Type: "UserParameterMissing", Msg: fmt.Sprintf("The Parameter (%s) was not provided.", s)}
						}
					} else if _, isFn := name.(map[string]any); !isFn {
						return badTemplate("Arguments to \"get_param\" must be a string or a list")
					}
				case "get_resource":
					if s, ok := arg.(string); ok && !known[s] {
						return badTemplate("The specified reference %q is incorrect.", s)
					}
				case "get_attr":
					l, ok := arg.([]any)
					if !ok || len(l) < 2 {
						return badTemplate("Arguments to \"get_attr\" must be a list of at least 2 items")
					}
					if s, ok := l[0].(string); ok && !known[s] {
						return badTemplate("The specified resource %q for get_attr is incorrect.", s)
					}
				case "get_file":
					if s, ok := arg.(string); ok {
						if _, ok := files[s]; !ok {
							return badTemplate("No content found in the \"files\" section for get_file path: %s", s)
						}
					}
				}
			}
		}
		for _, x := range t {
			if err := checkRefs(x, params, known, files, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := checkRefs(x, params, known, files, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
