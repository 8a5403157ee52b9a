package vnfd

import (
	"errors"
	"io/fs"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// etsiTypesPrefix names the ETSI SOL001 type definition files. The parser
// knows their types natively, so imports of such files are never read and
// may be absent from the package.
const etsiTypesPrefix = "etsi_nfv_sol001_"

// parser holds the state of one Parse call.
type parser struct {
	ctx
	fsys  fs.FS
	files map[string]*src // loaded files by package path
	order []*src          // imports before importers
	stack []string        // files being loaded (cycle detection)
	nodeT map[string]*Type
	polT  map[string]*Type
	dataT map[string]*Type
}

// Parse reads the VNFD whose entry definitions file is entry (a slash path
// such as "Definitions/vnfd_top.yaml") in fsys, the read-only view of a VNF
// package, following its imports.
//
// Imports (a string, or a mapping with "file") are resolved relative to the
// importing file and must stay inside fsys: an absolute path, a URL, a
// "repository" import or a path leaving the package root is an error, as is
// an import of a file the package lacks unless its base name starts with
// "etsi_nfv_sol001_" (those ETSI type files are known natively and never
// read). Import cycles are errors; a file imported twice is read once.
//
// Every error is an *Error naming the file and line at fault.
func Parse(fsys fs.FS, entry string) (*VNFD, error) {
	entry = strings.TrimPrefix(entry, "./")
	if !fs.ValidPath(entry) || entry == "." {
		return nil, &Error{File: entry, Msg: "entry definitions must be a relative path inside the package"}
	}
	p := &parser{
		fsys:  fsys,
		files: map[string]*src{},
		nodeT: map[string]*Type{},
		polT:  map[string]*Type{},
		dataT: map[string]*Type{},
	}
	if err := p.load(entry, nil, nil); err != nil {
		return nil, err
	}
	if err := p.checkTypeCycles(); err != nil {
		return nil, err
	}
	return p.build(entry)
}

// load reads one file and, first, the files it imports. from/at locate the
// import that named it (nil for the entry file).
func (p *parser) load(name string, from *src, at *yaml.Node) error {
	if _, done := p.files[name]; done {
		return nil
	}
	for i, s := range p.stack {
		if s == name {
			chain := append(append([]string(nil), p.stack[i:]...), name)
			return p.errAt(from, at, "import cycle: %s", strings.Join(chain, " -> "))
		}
	}
	if len(p.files) >= maxFiles {
		return p.errAt(from, at, "too many imported files (more than %d)", maxFiles)
	}
	data, err := fs.ReadFile(p.fsys, name)
	if err != nil {
		if from == nil {
			if errors.Is(err, fs.ErrNotExist) {
				return &Error{File: name, Msg: "entry definitions file not found in the package"}
			}
			return &Error{File: name, Msg: "cannot read: " + err.Error()}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return p.errAt(from, at, "import %q: file not found in the package", name)
		}
		return p.errAt(from, at, "import %q: cannot read: %v", name, err)
	}
	root, err := decodeFile(name, data)
	if err != nil {
		return err
	}
	f := &src{path: name, root: root}

	p.stack = append(p.stack, name)
	imps, err := p.imports(f)
	if err != nil {
		return err
	}
	for _, imp := range imps {
		if err := p.load(imp.path, f, imp.node); err != nil {
			return err
		}
	}
	p.stack = p.stack[:len(p.stack)-1]

	p.files[name] = f
	p.order = append(p.order, f)
	return p.collectTypes(f)
}

type importRef struct {
	path string
	node *yaml.Node
}

// imports resolves a file's imports to package paths, skipping ETSI type
// files.
func (p *parser) imports(f *src) ([]importRef, error) {
	n := get(f.root, "imports")
	if isNull(n) {
		return nil, nil
	}
	var items []*yaml.Node
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
	case yaml.MappingNode: // TOSCA 1.0 style: imports: {name: file, ...}
		for i := 1; i < len(n.Content); i += 2 {
			items = append(items, n.Content[i])
		}
	default:
		return nil, p.errAt(f, n, "imports: expected a list")
	}
	var out []importRef
	for _, it := range items {
		it = deref(it)
		var file string
		var at = it
		switch {
		case it == nil:
			continue
		case it.Kind == yaml.ScalarNode:
			file = it.Value
		case it.Kind == yaml.MappingNode:
			if r := get(it, "repository"); r != nil && !isNull(r) {
				return nil, p.errAt(f, r, "import from repository %q: imports must stay inside the package", r.Value)
			}
			fn := get(it, "file")
			if fn == nil {
				// TOSCA 1.0 short form: - some_name: file.yaml
				pairs, err := p.mapping(f, it, "imports")
				if err != nil {
					return nil, err
				}
				if len(pairs) == 1 && pairs[0].val.Kind == yaml.ScalarNode {
					fn = pairs[0].val
				} else if len(pairs) == 1 {
					fn = get(pairs[0].val, "file")
				}
			}
			if fn == nil || fn.Kind != yaml.ScalarNode {
				return nil, p.errAt(f, it, "import: expected a file name")
			}
			file, at = fn.Value, fn
		default:
			return nil, p.errAt(f, it, "import: expected a file name, got %s", kindName(it))
		}
		if file == "" {
			return nil, p.errAt(f, at, "import: empty file name")
		}
		target, err := p.resolveImport(f, at, file)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(path.Base(target), etsiTypesPrefix) {
			continue // known natively; present or not
		}
		out = append(out, importRef{path: target, node: at})
	}
	return out, nil
}

func (p *parser) resolveImport(f *src, at *yaml.Node, file string) (string, error) {
	switch {
	case strings.Contains(file, "://") || strings.HasPrefix(file, "//"):
		return "", p.errAt(f, at, "import %q: URLs are not allowed, imports must stay inside the package", file)
	case strings.HasPrefix(file, "/") || strings.HasPrefix(file, `\`) || (len(file) > 1 && file[1] == ':'):
		return "", p.errAt(f, at, "import %q: absolute paths are not allowed, imports must stay inside the package", file)
	case strings.ContainsRune(file, '\\') || strings.ContainsRune(file, 0):
		return "", p.errAt(f, at, "import %q: invalid path", file)
	}
	target, ok := packagePath(path.Dir(f.path), file)
	if !ok {
		return "", p.errAt(f, at, "import %q: path leaves the package", file)
	}
	return target, nil
}

// packagePath joins a relative file name to dir and reports whether the
// result stays inside the package root.
func packagePath(dir, file string) (string, bool) {
	if file == "" || strings.HasPrefix(file, "/") || strings.Contains(file, "://") {
		return "", false
	}
	j := path.Join(dir, file)
	if j == ".." || strings.HasPrefix(j, "../") || !fs.ValidPath(j) || j == "." {
		return "", false
	}
	return j, true
}

// collectTypes records the node, policy and data types of a file. The
// first definition of a name wins.
func (p *parser) collectTypes(f *src) error {
	for _, sec := range []struct {
		key string
		dst map[string]*Type
	}{{"node_types", p.nodeT}, {"policy_types", p.polT}, {"data_types", p.dataT}} {
		pairs, err := p.mapping(f, get(f.root, sec.key), sec.key)
		if err != nil {
			return err
		}
		for _, pr := range pairs {
			if _, dup := sec.dst[pr.key]; dup {
				continue
			}
			t, err := p.parseType(f, pr, sec.key)
			if err != nil {
				return err
			}
			sec.dst[pr.key] = t
		}
	}
	return nil
}

func (p *parser) parseType(f *src, pr pair, section string) (*Type, error) {
	what := section + "." + pr.key
	if _, err := p.mapping(f, pr.val, what); err != nil {
		return nil, err
	}
	t := &Type{Name: pr.key, File: f.path, Line: pr.knode.Line}
	var err error
	if t.DerivedFrom, err = p.str(f, get(pr.val, "derived_from"), what+".derived_from"); err != nil {
		return nil, err
	}
	if t.Description, err = p.str(f, get(pr.val, "description"), what+".description"); err != nil {
		return nil, err
	}
	if t.Properties, err = p.propertyDefs(f, get(pr.val, "properties"), what+".properties"); err != nil {
		return nil, err
	}
	if t.Definition, err = p.rawMap(f, pr.val, what); err != nil {
		return nil, err
	}
	return t, nil
}

// propertyDefs reads a map of property definitions.
func (p *parser) propertyDefs(f *src, n *yaml.Node, what string) (map[string]*PropertyDef, error) {
	pairs, err := p.mapping(f, n, what)
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]*PropertyDef, len(pairs))
	for _, pr := range pairs {
		v, err := p.raw(f, pr.val)
		if err != nil {
			return nil, err
		}
		out[pr.key] = propertyDef(v)
	}
	return out, nil
}

// propertyDef reads a property definition from its raw form.
func propertyDef(v any) *PropertyDef {
	m, _ := v.(map[string]any)
	d := &PropertyDef{}
	if m == nil {
		return d
	}
	d.Type, _ = m["type"].(string)
	d.Description, _ = m["description"].(string)
	if r, ok := m["required"].(bool); ok {
		d.Required = &r
	}
	d.Default = m["default"]
	d.EntrySchema = m["entry_schema"]
	d.Constraints = m["constraints"]
	return d
}

// checkTypeCycles rejects derived_from cycles among the package's types.
func (p *parser) checkTypeCycles() error {
	for _, types := range []map[string]*Type{p.nodeT, p.polT, p.dataT} {
		for _, name := range sortedKeys(types) {
			seen := map[string]bool{}
			for cur := name; cur != ""; {
				if seen[cur] {
					t := types[name]
					return &Error{File: t.File, Line: t.Line, Msg: "type " + name + ": derived_from cycle through " + cur}
				}
				seen[cur] = true
				t := types[cur]
				if t == nil {
					break
				}
				cur = t.DerivedFrom
			}
		}
	}
	return nil
}

// baseOf walks derived_from from name until it reaches one of known;
// returns "" when the chain ends elsewhere.
func baseOf(types map[string]*Type, known map[string]bool, name string) string {
	for i := 0; name != "" && i <= len(types); i++ {
		if known[name] {
			return name
		}
		t := types[name]
		if t == nil {
			return ""
		}
		name = t.DerivedFrom
	}
	return ""
}

var knownNodeTypes = map[string]bool{
	TypeVNF: true, TypeVduCompute: true, TypeVirtualBlockStorage: true,
	TypeVduCp: true, TypeVnfVirtualLink: true,
}

var knownPolicyTypes = map[string]bool{
	PolicyScalingAspects: true, PolicyVduScalingAspectDeltas: true,
	PolicyInstantiationLevels: true, PolicyVduInstantiationLevels: true,
	PolicyVduInitialDelta: true, PolicyAffinityRule: true,
	PolicyAntiAffinityRule: true, PolicySecurityGroupRule: true,
}

func (p *parser) nodeBase(t string) string   { return baseOf(p.nodeT, knownNodeTypes, t) }
func (p *parser) policyBase(t string) string { return baseOf(p.polT, knownPolicyTypes, t) }

// typeChain returns the package types from name up its derived_from chain
// (most derived first).
func typeChain(types map[string]*Type, name string) []*Type {
	var out []*Type
	for i := 0; name != "" && i <= len(types); i++ {
		t := types[name]
		if t == nil {
			break
		}
		out = append(out, t)
		name = t.DerivedFrom
	}
	return out
}
