package osemu

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvaluator(t *testing.T) {
	t.Parallel()
	ev := &evaluator{
		params: map[string]any{
			"nfv":  map[string]any{"VDU": map[string]any{"VDU1": map[string]any{"flavor": "m1.tiny", "list": []any{"a", "b"}}}},
			"name": "x",
		},
		files:  map[string]string{"f.sh": "echo"},
		pseudo: map[string]any{"OS::stack_name": "st"},
		resolve: func(n string) (string, error) {
			return "id-" + n, nil
		},
		attr: func(n string, path []any) (any, error) {
			return map[string]any{"res": n, "path": path}, nil
		},
	}
	cases := []struct {
		in   string
		want any
	}{
		{`{"get_param": ["nfv", "VDU", "VDU1", "flavor"]}`, "m1.tiny"},
		{`{"get_param": ["nfv", "VDU", "VDU1", "list", 1]}`, "b"},
		{`{"get_param": ["nfv", "VDU", "nope", "flavor"]}`, nil},
		{`{"get_param": "OS::stack_name"}`, "st"},
		{`{"get_resource": "r"}`, "id-r"},
		{`{"str_replace": {"template": "a-$x-$xy", "params": {"$x": 1, "$xy": {"get_param": "name"}}}}`, "a-1-x"},
		{`{"list_join": [",", ["a", 1], {"get_param": ["nfv", "VDU", "VDU1", "list"]}]}`, "a,1,a,b"},
		{`{"get_file": "f.sh"}`, "echo"},
		{`{"str_split": [",", "a,b,c", 2]}`, "c"},
		{`{"list_concat": [["a"], ["b"]]}`, []any{"a", "b"}},
		{`{"map_merge": [{"a": 1}, {"b": 2}]}`, map[string]any{"a": 1.0, "b": 2.0}},
		{`{"get_attr": ["srv", "first_address"]}`, map[string]any{"res": "srv", "path": []any{"first_address"}}},
		{`{"a": {"get_param": "name"}, "b": [{"get_resource": "q"}]}`, map[string]any{"a": "x", "b": []any{"id-q"}}},
	}
	for _, c := range cases {
		var in any
		require.NoError(t, json.Unmarshal([]byte(c.in), &in))
		got, err := ev.eval(in, 0)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
	bad := []string{
		`{"get_param": "missing"}`,
		`{"get_param": []}`,
		`{"get_param": 3}`,
		`{"get_resource": ["x"]}`,
		`{"get_attr": ["only"]}`,
		`{"str_replace": {"template": 1, "params": {}}}`,
		`{"str_replace": "x"}`,
		`{"list_join": [1, ["a"]]}`,
		`{"list_join": [",", "notalist"]}`,
		`{"get_file": "nope"}`,
		`{"get_param": ["nfv", "VDU", "VDU1", "list", "x"]}`,
	}
	for _, b := range bad {
		var in any
		require.NoError(t, json.Unmarshal([]byte(b), &in))
		_, err := ev.eval(in, 0)
		require.Error(t, err, b)
	}
}

func TestParams(t *testing.T) {
	t.Parallel()
	tmpl, err := parseYAMLDoc(`
heat_template_version: 2013-05-23
parameters:
  s: {type: string}
  n: {type: number, default: 3}
  j: {type: json}
  l: {type: comma_delimited_list, default: "a, b"}
  b: {type: boolean, default: "yes"}
`)
	require.NoError(t, err)
	got, err := resolveParams(tmpl, map[string]any{"s": 5.0, "j": `{"a":1}`}, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"s": "5", "n": 3.0, "j": map[string]any{"a": 1.0}, "l": []any{"a", "b"}, "b": true}, got)
	_, err = resolveParams(tmpl, map[string]any{"j": "{}"}, nil)
	require.ErrorContains(t, err, "The Parameter (s) was not provided.")
	_, err = resolveParams(tmpl, map[string]any{"s": "x", "j": "{"}, nil)
	require.Error(t, err)
	_, err = resolveParams(tmpl, map[string]any{"s": "x", "j": "{}", "n": "many"}, nil)
	require.Error(t, err)
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"no version":     "resources: {}",
		"cycle":          "heat_template_version: 2013-05-23\nresources:\n  a: {type: X::Y, depends_on: b}\n  b: {type: X::Y, depends_on: a}\n",
		"bad ref":        "heat_template_version: 2013-05-23\nresources:\n  a: {type: X::Y, properties: {p: {get_resource: nope}}}\n",
		"bad attr":       "heat_template_version: 2013-05-23\nresources:\n  a: {type: X::Y, properties: {p: {get_attr: [nope, x]}}}\n",
		"undeclared":     "heat_template_version: 2013-05-23\nresources:\n  a: {type: X::Y, properties: {p: {get_param: nope}}}\n",
		"missing file":   "heat_template_version: 2013-05-23\nresources:\n  a: {type: nested.yaml}\n",
		"no type":        "heat_template_version: 2013-05-23\nresources:\n  a: {properties: {}}\n",
		"resources list": "heat_template_version: 2013-05-23\nresources: [a]\n",
	}
	for name, src := range bad {
		tmpl, err := parseYAMLDoc(src)
		if err == nil {
			err = validateTemplate(tmpl, nil, nil, nil, 0)
		}
		require.Error(t, err, name)
		var he *heatError
		require.ErrorAs(t, err, &he, name)
	}
	// A self-including nested template is cut off, not recursed forever.
	self := "heat_template_version: 2013-05-23\nresources:\n  a: {type: self.yaml}\n"
	tmpl, err := parseYAMLDoc(self)
	require.NoError(t, err)
	require.Error(t, validateTemplate(tmpl, map[string]string{"self.yaml": self}, nil, nil, 0))
}

// FuzzTemplate feeds arbitrary documents through parsing, validation,
// parameter resolution and evaluation: errors are fine, panics are not.
func FuzzTemplate(f *testing.F) {
	f.Add("heat_template_version: 2013-05-23\nresources:\n  a: {type: OS::Nova::Server, properties: {flavor: {get_param: [nfv, a, 0]}}}\n", `{"nfv": {"a": [1]}}`)
	f.Add("heat_template_version: 2013-05-23\nparameters: {p: {type: json}}\noutputs: {o: {value: {str_replace: {template: x, params: {x: {get_param: p}}}}}}\n", `{"p": "[1"}`)
	f.Add("{get_attr: [a]}", `{}`)
	f.Add("a: &a [*a]", `null`)
	f.Fuzz(func(t *testing.T, src, params string) {
		tmpl, err := parseYAMLDoc(src)
		if err != nil || tmpl == nil {
			return
		}
		var p map[string]any
		_ = json.Unmarshal([]byte(params), &p)
		_ = validateTemplate(tmpl, map[string]string{"x.yaml": src}, nil, nil, 0)
		resolved, _ := resolveParams(tmpl, p, nil)
		ev := &evaluator{params: resolved, files: map[string]string{}, pseudo: map[string]any{},
			resolve: func(string) (string, error) { return "id", nil },
			attr:    func(string, []any) (any, error) { return nil, nil }}
		_, _ = ev.eval(map[string]any(tmpl), 0)
		_, _, _ = topoOrder(templateResources(tmpl))
	})
}
