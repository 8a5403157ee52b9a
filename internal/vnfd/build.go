package vnfd

import (
	"io/fs"
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// topo is one file's topology_template.
type topo struct {
	f        *src
	tt       *yaml.Node
	inputs   *yaml.Node
	flavour  string     // substitution_mappings.properties.flavour_id
	fidNode  *yaml.Node // its node, for errors
	nodeType string     // substitution_mappings.node_type
	subst    *yaml.Node
	vnf      *pair // the VNF node template, if any
}

// scope reads values of one topology template, resolving {get_input: x}
// to the default of topology input x for the values the parser interprets.
type scope struct {
	p      *parser
	f      *src
	inputs *yaml.Node
}

func (s *scope) v(n *yaml.Node) *yaml.Node {
	n = deref(n)
	for i := 0; i < 8 && n != nil && n.Kind == yaml.MappingNode && len(n.Content) == 2; i++ {
		k := deref(n.Content[0])
		if k == nil || k.Kind != yaml.ScalarNode || k.Value != "get_input" {
			break
		}
		arg := deref(n.Content[1])
		name := ""
		switch {
		case arg == nil:
		case arg.Kind == yaml.ScalarNode:
			name = arg.Value
		case arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 && deref(arg.Content[0]) != nil:
			name = deref(arg.Content[0]).Value
		}
		n = get(get(s.inputs, name), "default")
	}
	return n
}

func (s *scope) str(n *yaml.Node, what string) (string, error) { return s.p.str(s.f, s.v(n), what) }
func (s *scope) count(n *yaml.Node, what string) (int, bool, error) {
	return s.p.count(s.f, s.v(n), what)
}
func (s *scope) boolean(n *yaml.Node, what string) (bool, error) {
	return s.p.boolean(s.f, s.v(n), what)
}
func (s *scope) strList(n *yaml.Node, what string) ([]string, error) {
	return s.p.strList(s.f, s.v(n), what)
}
func (s *scope) size(n *yaml.Node, what string) (string, int64, error) {
	return s.p.size(s.f, s.v(n), what)
}
func (s *scope) mapping(n *yaml.Node, what string) ([]pair, error) {
	return s.p.mapping(s.f, n, what)
}
func (s *scope) rawMap(n *yaml.Node, what string) (map[string]any, error) {
	return s.p.rawMap(s.f, n, what)
}
func (s *scope) err(n *yaml.Node, format string, args ...any) *Error {
	return s.p.errAt(s.f, n, format, args...)
}

// build turns the loaded files into a VNFD.
func (p *parser) build(entry string) (*VNFD, error) {
	ef := p.files[entry]
	v := &VNFD{Entry: entry}
	var err error
	if ef.root != nil {
		es := &scope{p: p, f: ef}
		if v.ToscaDefinitionsVersion, err = es.str(get(ef.root, "tosca_definitions_version"), "tosca_definitions_version"); err != nil {
			return nil, err
		}
		if v.Description, err = es.str(get(ef.root, "description"), "description"); err != nil {
			return nil, err
		}
	}
	for _, f := range p.order {
		v.Files = append(v.Files, f.path)
	}
	if len(p.nodeT) > 0 {
		v.NodeTypes = p.nodeT
	}
	if len(p.polT) > 0 {
		v.PolicyTypes = p.polT
	}
	if len(p.dataT) > 0 {
		v.DataTypes = p.dataT
	}

	var topos []*topo
	for _, f := range p.order {
		t, err := p.scanTopology(f)
		if err != nil {
			return nil, err
		}
		if t != nil {
			topos = append(topos, t)
		}
	}

	// The top-level VNF node: the entry file's, else the first other
	// non-flavour template's.
	var top *topo
	for _, t := range topos {
		if t.flavour == "" && t.vnf != nil && (top == nil || t.f == ef) {
			top = t
		}
	}
	if top != nil {
		if v.VNF, err = p.vnfNode(top, *top.vnf); err != nil {
			return nil, err
		}
	}

	// Deployment flavours, one per flavour file.
	flavourTopo := map[string]*topo{}
	for _, t := range topos {
		if t.flavour == "" {
			continue
		}
		if prev, dup := flavourTopo[t.flavour]; dup {
			return nil, p.errAt(t.f, t.fidNode, "flavour %q is already defined in %s", t.flavour, prev.f.path)
		}
		flavourTopo[t.flavour] = t
	}
	anyVNF := top != nil
	for _, t := range flavourTopo {
		anyVNF = anyVNF || t.vnf != nil
	}
	if !anyVNF {
		line := 0
		if k := getKey(ef.root, "topology_template"); k != nil {
			line = k.Line
		}
		return nil, &Error{File: entry, Line: line, Msg: "no node template of type " + TypeVNF + " (or a type derived from it)"}
	}

	if err := p.info(v, top, flavourTopo); err != nil {
		return nil, err
	}

	v.DeploymentFlavours = map[string]*Flavour{}
	for _, id := range sortedKeys(flavourTopo) {
		fl, err := p.flavour(flavourTopo[id], id, false)
		if err != nil {
			return nil, err
		}
		v.DeploymentFlavours[id] = fl
	}
	if len(flavourTopo) == 0 {
		// No flavour file: the template holding the VNF node is the only
		// flavour, named by the VNF's flavour_id (or "default").
		id := v.Info.FlavourID
		if id == "" {
			id = "default"
		}
		fl, err := p.flavour(top, id, true)
		if err != nil {
			return nil, err
		}
		v.DeploymentFlavours[id] = fl
	}
	for _, fl := range v.DeploymentFlavours {
		v.Info.FlavourIDs = append(v.Info.FlavourIDs, fl.ID)
		if fl.Description == "" {
			for _, n := range []*VNFNode{fl.VNF, v.VNF} {
				if n != nil {
					if d, ok := n.Properties["flavour_description"].(string); ok && fl.Description == "" {
						fl.Description = d
					}
				}
			}
		}
		fl.LcmInputs = p.lcmInputs(fl, v.VNF)
	}
	sort.Strings(v.Info.FlavourIDs)
	return v, nil
}

// scanTopology finds a file's topology template, whether it defines a
// flavour, and its VNF node.
func (p *parser) scanTopology(f *src) (*topo, error) {
	tt := get(f.root, "topology_template")
	if isNull(tt) {
		return nil, nil
	}
	if _, err := p.mapping(f, tt, "topology_template"); err != nil {
		return nil, err
	}
	t := &topo{f: f, tt: tt, inputs: get(tt, "inputs")}
	if _, err := p.mapping(f, t.inputs, "topology_template.inputs"); err != nil {
		return nil, err
	}
	s := &scope{p: p, f: f, inputs: t.inputs}
	if sm := get(tt, "substitution_mappings"); !isNull(sm) {
		if _, err := s.mapping(sm, "substitution_mappings"); err != nil {
			return nil, err
		}
		t.subst = sm
		var err error
		if t.nodeType, err = s.str(get(sm, "node_type"), "substitution_mappings.node_type"); err != nil {
			return nil, err
		}
		props := get(sm, "properties")
		if _, err := s.mapping(props, "substitution_mappings.properties"); err != nil {
			return nil, err
		}
		if fid := get(props, "flavour_id"); fid != nil && t.nodeType != "" {
			id, err := s.str(fid, "substitution_mappings.properties.flavour_id")
			if err != nil {
				return nil, err
			}
			t.flavour, t.fidNode = id, fid
		}
	}
	nodes, err := s.mapping(get(tt, "node_templates"), "node_templates")
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		typ, err := p.nodeType(f, nodes[i])
		if err != nil {
			return nil, err
		}
		if p.nodeBase(typ) != TypeVNF {
			continue
		}
		if t.vnf != nil {
			return nil, p.errAt(f, nodes[i].knode, "node template %s: a second VNF node in one topology template (first: %s)", nodes[i].key, t.vnf.key)
		}
		t.vnf = &nodes[i]
	}
	return t, nil
}

func (p *parser) nodeType(f *src, pr pair) (string, error) {
	what := "node template " + pr.key
	if _, err := p.mapping(f, pr.val, what); err != nil {
		return "", err
	}
	typ, err := p.str(f, get(pr.val, "type"), what+".type")
	if err != nil {
		return "", err
	}
	if typ == "" {
		return "", p.errAt(f, pr.knode, "%s: missing type", what)
	}
	return typ, nil
}

// info fills v.Info from the VNF nodes and the VNF node type's defaults.
func (p *parser) info(v *VNFD, top *topo, flavours map[string]*topo) error {
	var sources []*topo
	if top != nil {
		sources = append(sources, top)
		v.Info.NodeType, _ = p.nodeType(top.f, *top.vnf)
	}
	for _, id := range sortedKeys(flavours) {
		t := flavours[id]
		if t.vnf != nil {
			sources = append(sources, t)
			if v.Info.NodeType == "" {
				v.Info.NodeType, _ = p.nodeType(t.f, *t.vnf)
			}
		}
	}
	if v.Info.NodeType == "" {
		for _, id := range sortedKeys(flavours) {
			if v.Info.NodeType == "" {
				v.Info.NodeType = flavours[id].nodeType
			}
		}
	}
	chain := typeChain(p.nodeT, v.Info.NodeType)

	lookup := func(prop string) (*scope, *yaml.Node, any) {
		for _, t := range sources {
			s := &scope{p: p, f: t.f, inputs: t.inputs}
			if n := s.v(get(get(t.vnf.val, "properties"), prop)); !isNull(n) {
				return s, n, nil
			}
		}
		for _, ty := range chain {
			if d := ty.Properties[prop]; d != nil && d.Default != nil {
				return nil, nil, d.Default
			}
		}
		return nil, nil, nil
	}
	strProp := func(prop string, dst *string) error {
		s, n, def := lookup(prop)
		if n != nil {
			var err error
			*dst, err = s.str(n, "VNF property "+prop)
			return err
		}
		*dst = scalarString(def)
		return nil
	}
	for _, pd := range []struct {
		prop string
		dst  *string
	}{
		{"descriptor_id", &v.Info.DescriptorID},
		{"descriptor_version", &v.Info.DescriptorVersion},
		{"provider", &v.Info.Provider},
		{"product_name", &v.Info.ProductName},
		{"software_version", &v.Info.SoftwareVersion},
		{"product_info_name", &v.Info.ProductInfoName},
		{"product_info_description", &v.Info.ProductInfoDescription},
		{"flavour_id", &v.Info.FlavourID},
	} {
		if err := strProp(pd.prop, pd.dst); err != nil {
			return err
		}
	}
	s, n, def := lookup("vnfm_info")
	if n != nil {
		var err error
		if v.Info.VnfmInfo, err = s.strList(n, "VNF property vnfm_info"); err != nil {
			return err
		}
	} else if l, ok := def.([]any); ok {
		for _, e := range l {
			if str := scalarString(e); str != "" {
				v.Info.VnfmInfo = append(v.Info.VnfmInfo, str)
			}
		}
	}
	return nil
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case interface{ String() string }:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	}
	return ""
}

// flavour builds a deployment flavour from a topology template. implicit
// is set for a VNFD without flavour files, whose VNF node is the top one.
func (p *parser) flavour(t *topo, id string, implicit bool) (*Flavour, error) {
	s := &scope{p: p, f: t.f, inputs: t.inputs}
	fl := &Flavour{ID: id, File: t.f.path, NodeType: t.nodeType}
	var err error
	if fl.TopologyInputs, err = s.rawMap(t.inputs, "topology_template.inputs"); err != nil {
		return nil, err
	}
	if err := p.substRequirements(s, t, fl); err != nil {
		return nil, err
	}
	nodes, err := s.mapping(get(t.tt, "node_templates"), "node_templates")
	if err != nil {
		return nil, err
	}
	tp := &fl.Topology
	for _, pr := range nodes {
		typ, err := p.nodeType(t.f, pr)
		if err != nil {
			return nil, err
		}
		switch p.nodeBase(typ) {
		case TypeVNF:
			if !implicit {
				if fl.VNF, err = p.vnfNode(t, pr); err != nil {
					return nil, err
				}
			}
		case TypeVduCompute:
			d, err := p.vdu(s, pr, typ)
			if err != nil {
				return nil, err
			}
			setNode(&tp.VDUs, pr.key, d)
		case TypeVirtualBlockStorage:
			st, err := p.storage(s, pr, typ)
			if err != nil {
				return nil, err
			}
			setNode(&tp.Storages, pr.key, st)
		case TypeVduCp:
			cp, err := p.cp(s, pr, typ)
			if err != nil {
				return nil, err
			}
			setNode(&tp.Cps, pr.key, cp)
		case TypeVnfVirtualLink:
			vl, err := p.virtualLink(s, pr, typ)
			if err != nil {
				return nil, err
			}
			setNode(&tp.VirtualLinks, pr.key, vl)
		default:
			n, err := p.otherNode(s, pr, typ)
			if err != nil {
				return nil, err
			}
			setNode(&tp.Others, pr.key, n)
		}
	}
	if err := p.policies(s, t, fl); err != nil {
		return nil, err
	}
	return fl, nil
}

func setNode[V any](m *map[string]*V, k string, v *V) {
	if *m == nil {
		*m = map[string]*V{}
	}
	(*m)[k] = v
}

func (p *parser) substRequirements(s *scope, t *topo, fl *Flavour) error {
	reqs := get(t.subst, "requirements")
	if isNull(reqs) || reqs.Kind != yaml.MappingNode {
		return nil // TOSCA 1.3 list forms and others stay unread
	}
	pairs, err := s.mapping(reqs, "substitution_mappings.requirements")
	if err != nil {
		return err
	}
	for _, pr := range pairs {
		if pr.val.Kind != yaml.SequenceNode {
			continue
		}
		l, err := s.strList(pr.val, "substitution_mappings.requirements."+pr.key)
		if err != nil {
			return err
		}
		if fl.SubstitutionRequirements == nil {
			fl.SubstitutionRequirements = map[string][]string{}
		}
		if l == nil {
			l = []string{}
		}
		fl.SubstitutionRequirements[pr.key] = l
	}
	return nil
}

// --- node templates ---

func (p *parser) vnfNode(t *topo, pr pair) (*VNFNode, error) {
	s := &scope{p: p, f: t.f, inputs: t.inputs}
	what := "node template " + pr.key
	typ, err := p.nodeType(t.f, pr)
	if err != nil {
		return nil, err
	}
	n := &VNFNode{Name: pr.key, Type: typ, File: t.f.path, Line: pr.knode.Line}
	if n.Properties, err = s.rawMap(get(pr.val, "properties"), what+".properties"); err != nil {
		return nil, err
	}
	if n.Artifacts, err = p.artifacts(s, get(pr.val, "artifacts"), what+".artifacts"); err != nil {
		return nil, err
	}
	if n.Requirements, err = p.requirements(s, get(pr.val, "requirements"), what+".requirements"); err != nil {
		return nil, err
	}
	itfs, err := s.mapping(get(pr.val, "interfaces"), what+".interfaces")
	if err != nil {
		return nil, err
	}
	for _, ip := range itfs {
		itf, err := p.iface(s, ip.val, what+".interfaces."+ip.key)
		if err != nil {
			return nil, err
		}
		if n.Interfaces == nil {
			n.Interfaces = map[string]*Interface{}
		}
		n.Interfaces[ip.key] = itf
	}
	return n, nil
}

func (p *parser) iface(s *scope, n *yaml.Node, what string) (*Interface, error) {
	pairs, err := s.mapping(n, what)
	if err != nil {
		return nil, err
	}
	itf := &Interface{}
	addOp := func(pr pair) error {
		op, err := p.operation(s, pr.val, what+"."+pr.key)
		if err != nil {
			return err
		}
		if itf.Operations == nil {
			itf.Operations = map[string]*Operation{}
		}
		itf.Operations[pr.key] = op
		return nil
	}
	for _, pr := range pairs {
		switch pr.key {
		case "type":
			if itf.Type, err = s.str(pr.val, what+".type"); err != nil {
				return nil, err
			}
		case "inputs":
			if itf.Inputs, err = s.rawMap(pr.val, what+".inputs"); err != nil {
				return nil, err
			}
		case "description", "notifications":
		case "operations": // TOSCA 1.3
			ops, err := s.mapping(pr.val, what+".operations")
			if err != nil {
				return nil, err
			}
			for _, op := range ops {
				if err := addOp(op); err != nil {
					return nil, err
				}
			}
		default:
			if err := addOp(pr); err != nil {
				return nil, err
			}
		}
	}
	return itf, nil
}

func (p *parser) operation(s *scope, n *yaml.Node, what string) (*Operation, error) {
	op := &Operation{}
	if isNull(n) {
		return op, nil
	}
	if n.Kind == yaml.ScalarNode {
		op.Implementation = n.Value
		return op, nil
	}
	if n.Kind == yaml.SequenceNode {
		// Tacker writes "instantiate: []" for an operation the VNFM
		// performs itself, with no implementation.
		return op, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, s.err(n, "%s: expected an implementation name or a mapping, got %s", what, kindName(n))
	}
	if _, err := s.mapping(n, what); err != nil {
		return nil, err
	}
	var err error
	impl := get(n, "implementation")
	switch {
	case isNull(impl):
	case impl.Kind == yaml.ScalarNode:
		op.Implementation = impl.Value
	case impl.Kind == yaml.MappingNode:
		if op.Implementation, err = s.str(get(impl, "primary"), what+".implementation.primary"); err != nil {
			return nil, err
		}
		if op.Dependencies, err = s.strList(get(impl, "dependencies"), what+".implementation.dependencies"); err != nil {
			return nil, err
		}
	default:
		return nil, s.err(impl, "%s.implementation: expected an artifact name, got %s", what, kindName(impl))
	}
	if op.Description, err = s.str(get(n, "description"), what+".description"); err != nil {
		return nil, err
	}
	if op.Inputs, err = s.rawMap(get(n, "inputs"), what+".inputs"); err != nil {
		return nil, err
	}
	return op, nil
}

func (p *parser) artifacts(s *scope, n *yaml.Node, what string) (map[string]*Artifact, error) {
	pairs, err := s.mapping(n, what)
	if err != nil || len(pairs) == 0 {
		return nil, err
	}
	out := make(map[string]*Artifact, len(pairs))
	for _, pr := range pairs {
		a := &Artifact{Name: pr.key}
		w := what + "." + pr.key
		switch {
		case isNull(pr.val):
		case pr.val.Kind == yaml.ScalarNode:
			a.File = pr.val.Value
		case pr.val.Kind == yaml.MappingNode:
			fields, err := s.mapping(pr.val, w)
			if err != nil {
				return nil, err
			}
			for _, fp := range fields {
				var err error
				switch fp.key {
				case "type":
					a.Type, err = s.str(fp.val, w+".type")
				case "file":
					a.File, err = s.str(fp.val, w+".file")
				case "description":
					a.Description, err = s.str(fp.val, w+".description")
				case "deploy_path":
					a.DeployPath, err = s.str(fp.val, w+".deploy_path")
				default:
					var v any
					if v, err = p.raw(s.f, fp.val); err == nil {
						if a.Extra == nil {
							a.Extra = map[string]any{}
						}
						a.Extra[fp.key] = v
					}
				}
				if err != nil {
					return nil, err
				}
			}
		default:
			return nil, s.err(pr.val, "%s: expected a file name or a mapping, got %s", w, kindName(pr.val))
		}
		a.Path = p.artifactPath(s.f, a.File)
		out[pr.key] = a
	}
	return out, nil
}

// artifactPath resolves an artifact file to a package path: relative to
// the defining file's directory if that file exists, else relative to the
// package root if that exists, else (neither exists) relative to the file's
// directory for "../" paths and to the root otherwise. "" for URLs and paths
// leaving the package.
func (p *parser) artifactPath(f *src, file string) string {
	if file == "" || strings.Contains(file, "://") {
		return ""
	}
	rel, relOK := packagePath(path.Dir(f.path), file)
	root, rootOK := packagePath(".", file)
	if relOK && p.exists(rel) {
		return rel
	}
	if rootOK && p.exists(root) {
		return root
	}
	if relOK && strings.HasPrefix(file, "../") {
		return rel
	}
	if rootOK {
		return root
	}
	return ""
}

func (p *parser) exists(name string) bool {
	st, err := fs.Stat(p.fsys, name)
	return err == nil && !st.IsDir()
}

// requirements reads a requirements list ([{name: node}, {name: {node: x,
// ...}}]); a mapping is accepted too.
func (p *parser) requirements(s *scope, n *yaml.Node, what string) ([]Requirement, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	var entries []pair
	switch n.Kind {
	case yaml.SequenceNode:
		for _, it := range n.Content {
			pairs, err := s.mapping(it, what)
			if err != nil {
				return nil, err
			}
			entries = append(entries, pairs...)
		}
	case yaml.MappingNode:
		pairs, err := s.mapping(n, what)
		if err != nil {
			return nil, err
		}
		entries = pairs
	default:
		return nil, s.err(n, "%s: expected a list, got %s", what, kindName(n))
	}
	var out []Requirement
	for _, pr := range entries {
		r := Requirement{Name: pr.key}
		switch {
		case isNull(pr.val):
		case pr.val.Kind == yaml.ScalarNode:
			r.Node = pr.val.Value
		case pr.val.Kind == yaml.MappingNode:
			var err error
			if r.Node, err = s.str(get(pr.val, "node"), what+"."+pr.key+".node"); err != nil {
				return nil, err
			}
			if r.Raw, err = p.raw(s.f, pr.val); err != nil {
				return nil, err
			}
		default:
			return nil, s.err(pr.val, "%s.%s: expected a node name or a mapping, got %s", what, pr.key, kindName(pr.val))
		}
		out = append(out, r)
	}
	return out, nil
}

func reqTargets(reqs []Requirement, name string) []string {
	var out []string
	for _, r := range reqs {
		if r.Name == name && r.Node != "" {
			out = append(out, r.Node)
		}
	}
	return out
}

func (p *parser) vdu(s *scope, pr pair, typ string) (*VDU, error) {
	what := "node template " + pr.key
	d := &VDU{Name: pr.key, Type: typ, Line: pr.knode.Line}
	props := get(pr.val, "properties")
	var err error
	if d.Properties, err = s.rawMap(props, what+".properties"); err != nil {
		return nil, err
	}
	if d.VduName, err = s.str(get(props, "name"), what+".properties.name"); err != nil {
		return nil, err
	}
	if d.Description, err = s.str(get(props, "description"), what+".properties.description"); err != nil {
		return nil, err
	}
	prof := s.v(get(props, "vdu_profile"))
	if _, err := s.mapping(prof, what+".properties.vdu_profile"); err != nil {
		return nil, err
	}
	if d.Profile.Min, _, err = s.count(get(prof, "min_number_of_instances"), what+".vdu_profile.min_number_of_instances"); err != nil {
		return nil, err
	}
	if d.Profile.Max, _, err = s.count(get(prof, "max_number_of_instances"), what+".vdu_profile.max_number_of_instances"); err != nil {
		return nil, err
	}
	if d.Profile.Max < d.Profile.Min {
		return nil, s.err(prof, "%s.vdu_profile: max_number_of_instances %d is below min_number_of_instances %d", what, d.Profile.Max, d.Profile.Min)
	}
	if d.SwImage, err = p.swImage(s, get(props, "sw_image_data"), what+".properties.sw_image_data"); err != nil {
		return nil, err
	}
	caps := get(pr.val, "capabilities")
	if d.Capabilities, err = s.rawMap(caps, what+".capabilities"); err != nil {
		return nil, err
	}
	if vc := get(get(caps, "virtual_compute"), "properties"); !isNull(vc) {
		if d.VirtualCompute, err = p.virtualCompute(s, vc, what+".capabilities.virtual_compute.properties"); err != nil {
			return nil, err
		}
	}
	if d.Requirements, err = p.requirements(s, get(pr.val, "requirements"), what+".requirements"); err != nil {
		return nil, err
	}
	d.VirtualStorages = reqTargets(d.Requirements, "virtual_storage")
	if d.Artifacts, err = p.artifacts(s, get(pr.val, "artifacts"), what+".artifacts"); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) swImage(s *scope, n *yaml.Node, what string) (*SwImageData, error) {
	n = s.v(n)
	if isNull(n) {
		return nil, nil
	}
	if _, err := s.mapping(n, what); err != nil {
		return nil, err
	}
	sw := &SwImageData{}
	var err error
	for _, sd := range []struct {
		key string
		dst *string
	}{
		{"name", &sw.Name}, {"version", &sw.Version}, {"provider", &sw.Provider},
		{"container_format", &sw.ContainerFormat}, {"disk_format", &sw.DiskFormat},
		{"operating_system", &sw.OperatingSystem},
	} {
		if *sd.dst, err = s.str(get(n, sd.key), what+"."+sd.key); err != nil {
			return nil, err
		}
	}
	for _, sd := range []struct {
		key   string
		text  *string
		bytes *int64
	}{
		{"min_disk", &sw.MinDisk, &sw.MinDiskBytes},
		{"min_ram", &sw.MinRAM, &sw.MinRAMBytes},
		{"size", &sw.Size, &sw.SizeBytes},
	} {
		if *sd.text, *sd.bytes, err = s.size(get(n, sd.key), what+"."+sd.key); err != nil {
			return nil, err
		}
	}
	if sw.SupportedVirtualisationEnvironments, err = s.strList(get(n, "supported_virtualisation_environments"), what+".supported_virtualisation_environments"); err != nil {
		return nil, err
	}
	cs := s.v(get(n, "checksum"))
	switch {
	case isNull(cs):
	case cs.Kind == yaml.ScalarNode: // SOL001 v2.5.1: a plain string
		sw.Checksum.Hash = cs.Value
	default:
		if _, err := s.mapping(cs, what+".checksum"); err != nil {
			return nil, err
		}
		if sw.Checksum.Algorithm, err = s.str(get(cs, "algorithm"), what+".checksum.algorithm"); err != nil {
			return nil, err
		}
		if sw.Checksum.Hash, err = s.str(get(cs, "hash"), what+".checksum.hash"); err != nil {
			return nil, err
		}
	}
	return sw, nil
}

func (p *parser) virtualCompute(s *scope, n *yaml.Node, what string) (*VirtualCompute, error) {
	if _, err := s.mapping(n, what); err != nil {
		return nil, err
	}
	vc := &VirtualCompute{}
	var err error
	mem := s.v(get(n, "virtual_memory"))
	if _, err := s.mapping(mem, what+".virtual_memory"); err != nil {
		return nil, err
	}
	if vc.VirtualMemSize, vc.VirtualMemSizeBytes, err = s.size(get(mem, "virtual_mem_size"), what+".virtual_memory.virtual_mem_size"); err != nil {
		return nil, err
	}
	cpu := s.v(get(n, "virtual_cpu"))
	if _, err := s.mapping(cpu, what+".virtual_cpu"); err != nil {
		return nil, err
	}
	if vc.NumVirtualCPU, _, err = s.count(get(cpu, "num_virtual_cpu"), what+".virtual_cpu.num_virtual_cpu"); err != nil {
		return nil, err
	}
	if vc.CPUArchitecture, err = s.str(get(cpu, "cpu_architecture"), what+".virtual_cpu.cpu_architecture"); err != nil {
		return nil, err
	}
	ls := s.v(get(n, "virtual_local_storage"))
	var items []*yaml.Node
	switch {
	case isNull(ls):
	case ls.Kind == yaml.SequenceNode:
		items = ls.Content
	case ls.Kind == yaml.MappingNode:
		items = []*yaml.Node{ls}
	default:
		return nil, s.err(ls, "%s.virtual_local_storage: expected a list, got %s", what, kindName(ls))
	}
	for _, it := range items {
		if _, err := s.mapping(it, what+".virtual_local_storage"); err != nil {
			return nil, err
		}
		var l LocalStorage
		if l.SizeOfStorage, l.SizeOfStorageBytes, err = s.size(get(it, "size_of_storage"), what+".virtual_local_storage.size_of_storage"); err != nil {
			return nil, err
		}
		vc.LocalStorage = append(vc.LocalStorage, l)
	}
	rac := s.v(get(n, "requested_additional_capabilities"))
	if rac != nil && rac.Kind == yaml.MappingNode {
		pairs, err := s.mapping(rac, what+".requested_additional_capabilities")
		if err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for _, pr := range pairs {
			for _, holder := range []*yaml.Node{pr.val, get(pr.val, "properties")} {
				if nm := get(holder, "requested_additional_capability_name"); nm != nil && nm.Kind == yaml.ScalarNode && nm.Value != "" {
					set[nm.Value] = true
				}
			}
		}
		if len(set) > 0 {
			vc.AdditionalCapabilities = sortedKeys(set)
		}
	}
	return vc, nil
}

func (p *parser) storage(s *scope, pr pair, typ string) (*Storage, error) {
	what := "node template " + pr.key
	st := &Storage{Name: pr.key, Type: typ, Line: pr.knode.Line}
	props := get(pr.val, "properties")
	var err error
	if st.Properties, err = s.rawMap(props, what+".properties"); err != nil {
		return nil, err
	}
	bsd := s.v(get(props, "virtual_block_storage_data"))
	if _, err := s.mapping(bsd, what+".properties.virtual_block_storage_data"); err != nil {
		return nil, err
	}
	if st.SizeOfStorage, st.SizeOfStorageBytes, err = s.size(get(bsd, "size_of_storage"), what+".virtual_block_storage_data.size_of_storage"); err != nil {
		return nil, err
	}
	if st.RdmaEnabled, err = s.boolean(get(bsd, "rdma_enabled"), what+".virtual_block_storage_data.rdma_enabled"); err != nil {
		return nil, err
	}
	if st.SwImage, err = p.swImage(s, get(props, "sw_image_data"), what+".properties.sw_image_data"); err != nil {
		return nil, err
	}
	if st.Artifacts, err = p.artifacts(s, get(pr.val, "artifacts"), what+".artifacts"); err != nil {
		return nil, err
	}
	return st, nil
}

func (p *parser) cp(s *scope, pr pair, typ string) (*Cp, error) {
	what := "node template " + pr.key
	cp := &Cp{Name: pr.key, Type: typ, Line: pr.knode.Line}
	props := get(pr.val, "properties")
	var err error
	if cp.Properties, err = s.rawMap(props, what+".properties"); err != nil {
		return nil, err
	}
	if cp.LayerProtocols, err = s.strList(get(props, "layer_protocols"), what+".properties.layer_protocols"); err != nil {
		return nil, err
	}
	order, ok, err := s.count(get(props, "order"), what+".properties.order")
	if err != nil {
		return nil, err
	}
	if ok {
		cp.Order = &order
	}
	if cp.Requirements, err = p.requirements(s, get(pr.val, "requirements"), what+".requirements"); err != nil {
		return nil, err
	}
	if b := reqTargets(cp.Requirements, "virtual_binding"); len(b) > 0 {
		cp.VirtualBinding = b[0]
	}
	if l := reqTargets(cp.Requirements, "virtual_link"); len(l) > 0 {
		cp.VirtualLink = l[0]
	}
	return cp, nil
}

func (p *parser) virtualLink(s *scope, pr pair, typ string) (*VirtualLink, error) {
	what := "node template " + pr.key
	vl := &VirtualLink{Name: pr.key, Type: typ, Line: pr.knode.Line}
	props := get(pr.val, "properties")
	var err error
	if vl.Properties, err = s.rawMap(props, what+".properties"); err != nil {
		return nil, err
	}
	if vl.Description, err = s.str(get(props, "description"), what+".properties.description"); err != nil {
		return nil, err
	}
	ct := s.v(get(props, "connectivity_type"))
	if _, err := s.mapping(ct, what+".properties.connectivity_type"); err != nil {
		return nil, err
	}
	if vl.LayerProtocols, err = s.strList(get(ct, "layer_protocols"), what+".properties.connectivity_type.layer_protocols"); err != nil {
		return nil, err
	}
	return vl, nil
}

func (p *parser) otherNode(s *scope, pr pair, typ string) (*Node, error) {
	what := "node template " + pr.key
	n := &Node{Name: pr.key, Type: typ, Line: pr.knode.Line}
	var err error
	if n.Properties, err = s.rawMap(get(pr.val, "properties"), what+".properties"); err != nil {
		return nil, err
	}
	if n.Capabilities, err = s.rawMap(get(pr.val, "capabilities"), what+".capabilities"); err != nil {
		return nil, err
	}
	if n.Interfaces, err = s.rawMap(get(pr.val, "interfaces"), what+".interfaces"); err != nil {
		return nil, err
	}
	if n.Requirements, err = p.requirements(s, get(pr.val, "requirements"), what+".requirements"); err != nil {
		return nil, err
	}
	if n.Artifacts, err = p.artifacts(s, get(pr.val, "artifacts"), what+".artifacts"); err != nil {
		return nil, err
	}
	return n, nil
}
