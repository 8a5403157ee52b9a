package vnfd

import (
	"sort"

	yaml "go.yaml.in/yaml/v3"
)

// policies reads topology_template.policies (a list of single-entry
// mappings, or a mapping) into fl.Policies and the understood parts into
// fl.Scaling and fl.Topology.
func (p *parser) policies(s *scope, t *topo, fl *Flavour) error {
	n := get(t.tt, "policies")
	var entries []pair
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		for _, it := range n.Content {
			pairs, err := s.mapping(it, "policies")
			if err != nil {
				return err
			}
			entries = append(entries, pairs...)
		}
	case n.Kind == yaml.MappingNode:
		pairs, err := s.mapping(n, "policies")
		if err != nil {
			return err
		}
		entries = pairs
	default:
		return s.err(n, "policies: expected a list, got %s", kindName(n))
	}

	sc := &fl.Scaling
	type deltaRef struct {
		aspect string
		node   *yaml.Node
		policy string
	}
	var deltaRefs []deltaRef
	aspectDeltas := map[string]map[string]map[string]int{} // aspect -> delta -> vdu -> n

	for _, pr := range entries {
		what := "policy " + pr.key
		if _, err := s.mapping(pr.val, what); err != nil {
			return err
		}
		typ, err := s.str(get(pr.val, "type"), what+".type")
		if err != nil {
			return err
		}
		if typ == "" {
			return s.err(pr.knode, "%s: missing type", what)
		}
		pol := &Policy{Name: pr.key, Type: typ, BaseType: p.policyBase(typ), Line: pr.knode.Line}
		if pol.Targets, err = s.strList(get(pr.val, "targets"), what+".targets"); err != nil {
			return err
		}
		props := get(pr.val, "properties")
		if pol.Properties, err = s.rawMap(props, what+".properties"); err != nil {
			return err
		}
		fl.Policies = append(fl.Policies, pol)

		switch pol.BaseType {
		case PolicyScalingAspects:
			aspects, err := s.mapping(s.v(get(props, "aspects")), what+".properties.aspects")
			if err != nil {
				return err
			}
			for _, ap := range aspects {
				w := what + ".aspects." + ap.key
				if _, err := s.mapping(ap.val, w); err != nil {
					return err
				}
				if _, dup := sc.Aspects[ap.key]; dup {
					return s.err(ap.knode, "%s: aspect %q is defined twice", w, ap.key)
				}
				a := &Aspect{ID: ap.key}
				if a.Name, err = s.str(get(ap.val, "name"), w+".name"); err != nil {
					return err
				}
				if a.Description, err = s.str(get(ap.val, "description"), w+".description"); err != nil {
					return err
				}
				if a.MaxScaleLevel, _, err = s.count(get(ap.val, "max_scale_level"), w+".max_scale_level"); err != nil {
					return err
				}
				if a.StepDeltas, err = s.strList(get(ap.val, "step_deltas"), w+".step_deltas"); err != nil {
					return err
				}
				setNode(&sc.Aspects, ap.key, a)
			}

		case PolicyVduScalingAspectDeltas:
			an := get(props, "aspect")
			aspect, err := s.str(an, what+".properties.aspect")
			if err != nil {
				return err
			}
			if aspect == "" {
				return s.err(pr.knode, "%s: properties.aspect is missing", what)
			}
			deltaRefs = append(deltaRefs, deltaRef{aspect, an, pr.key})
			deltas, err := s.mapping(s.v(get(props, "deltas")), what+".properties.deltas")
			if err != nil {
				return err
			}
			for _, dp := range deltas {
				w := what + ".deltas." + dp.key
				if _, err := s.mapping(dp.val, w); err != nil {
					return err
				}
				num, _, err := s.count(get(dp.val, "number_of_instances"), w+".number_of_instances")
				if err != nil {
					return err
				}
				if aspectDeltas[aspect] == nil {
					aspectDeltas[aspect] = map[string]map[string]int{}
				}
				if aspectDeltas[aspect][dp.key] == nil {
					aspectDeltas[aspect][dp.key] = map[string]int{}
				}
				for _, vdu := range pol.Targets {
					aspectDeltas[aspect][dp.key][vdu] = num
				}
			}

		case PolicyInstantiationLevels:
			levels, err := s.mapping(s.v(get(props, "levels")), what+".properties.levels")
			if err != nil {
				return err
			}
			for _, lp := range levels {
				w := what + ".levels." + lp.key
				if _, err := s.mapping(lp.val, w); err != nil {
					return err
				}
				lvl := &InstantiationLevel{ID: lp.key}
				if lvl.Description, err = s.str(get(lp.val, "description"), w+".description"); err != nil {
					return err
				}
				infos, err := s.mapping(s.v(get(lp.val, "scale_info")), w+".scale_info")
				if err != nil {
					return err
				}
				for _, ip := range infos {
					if _, err := s.mapping(ip.val, w+".scale_info."+ip.key); err != nil {
						return err
					}
					sl, _, err := s.count(get(ip.val, "scale_level"), w+".scale_info."+ip.key+".scale_level")
					if err != nil {
						return err
					}
					if lvl.ScaleInfo == nil {
						lvl.ScaleInfo = map[string]int{}
					}
					lvl.ScaleInfo[ip.key] = sl
				}
				setNode(&sc.Levels, lp.key, lvl)
			}
			dl, err := s.str(get(props, "default_level"), what+".properties.default_level")
			if err != nil {
				return err
			}
			if dl != "" {
				sc.DefaultLevel = dl
			}

		case PolicyVduInstantiationLevels:
			levels, err := s.mapping(s.v(get(props, "levels")), what+".properties.levels")
			if err != nil {
				return err
			}
			for _, lp := range levels {
				w := what + ".levels." + lp.key
				if _, err := s.mapping(lp.val, w); err != nil {
					return err
				}
				num, _, err := s.count(get(lp.val, "number_of_instances"), w+".number_of_instances")
				if err != nil {
					return err
				}
				for _, vdu := range pol.Targets {
					if sc.VduLevels == nil {
						sc.VduLevels = map[string]map[string]int{}
					}
					if sc.VduLevels[vdu] == nil {
						sc.VduLevels[vdu] = map[string]int{}
					}
					sc.VduLevels[vdu][lp.key] = num
				}
			}

		case PolicyVduInitialDelta:
			id := s.v(get(props, "initial_delta"))
			if _, err := s.mapping(id, what+".properties.initial_delta"); err != nil {
				return err
			}
			num, ok, err := s.count(get(id, "number_of_instances"), what+".initial_delta.number_of_instances")
			if err != nil {
				return err
			}
			if ok {
				for _, vdu := range pol.Targets {
					if sc.InitialDeltas == nil {
						sc.InitialDeltas = map[string]int{}
					}
					sc.InitialDeltas[vdu] = num
				}
			}

		case PolicyAffinityRule, PolicyAntiAffinityRule:
			r := &AffinityRule{Name: pr.key, Type: typ, Affinity: pol.BaseType == PolicyAffinityRule, Targets: pol.Targets}
			if r.Scope, err = s.str(get(props, "scope"), what+".properties.scope"); err != nil {
				return err
			}
			fl.Topology.AffinityRules = append(fl.Topology.AffinityRules, r)

		case PolicySecurityGroupRule:
			r := &SecurityGroupRule{Name: pr.key, Targets: pol.Targets,
				Direction: "ingress", EtherType: "ipv4", Protocol: "tcp", PortRangeMin: 0, PortRangeMax: 65535}
			for _, sd := range []struct {
				key string
				dst *string
			}{{"description", &r.Description}, {"direction", &r.Direction}, {"ether_type", &r.EtherType}, {"protocol", &r.Protocol}} {
				v, err := s.str(get(props, sd.key), what+".properties."+sd.key)
				if err != nil {
					return err
				}
				if v != "" {
					*sd.dst = v
				}
			}
			for _, sd := range []struct {
				key string
				dst *int
			}{{"port_range_min", &r.PortRangeMin}, {"port_range_max", &r.PortRangeMax}} {
				v, ok, err := s.count(get(props, sd.key), what+".properties."+sd.key)
				if err != nil {
					return err
				}
				if ok {
					*sd.dst = v
				}
			}
			fl.Topology.SecurityGroupRules = append(fl.Topology.SecurityGroupRules, r)
		}
	}

	// Attach the VDU deltas to their aspects; a delta for an aspect that no
	// ScalingAspects policy defines is an error.
	for _, ref := range deltaRefs {
		if _, ok := sc.Aspects[ref.aspect]; !ok {
			return s.err(ref.node, "policy %s: aspect %q is not defined by a %s policy", ref.policy, ref.aspect, PolicyScalingAspects)
		}
	}
	for aspect, deltas := range aspectDeltas {
		a := sc.Aspects[aspect]
		for id, byVdu := range deltas {
			if len(byVdu) == 0 {
				continue
			}
			if a.Deltas == nil {
				a.Deltas = map[string]map[string]int{}
			}
			a.Deltas[id] = byVdu
		}
	}
	return nil
}

// lcmInputs collects the additional parameters of a flavour's Vnflcm
// interface: definitions from the VNF node type chain (base types first, so
// derived types override), then values assigned in the top-level and the
// flavour's VNF node templates.
func (p *parser) lcmInputs(fl *Flavour, top *VNFNode) []Input {
	typeName := fl.NodeType
	if fl.VNF != nil {
		typeName = fl.VNF.Type
	} else if typeName == "" && top != nil {
		typeName = top.Type
	}
	acc := map[[2]string]*Input{}
	in := func(op, name string) *Input {
		k := [2]string{op, name}
		if acc[k] == nil {
			acc[k] = &Input{Operation: op, Name: name}
		}
		return acc[k]
	}
	define := func(op string, defs any) {
		m, _ := defs.(map[string]any)
		for name, d := range m {
			dm, isDef := d.(map[string]any)
			if isDef {
				_, isDef = dm["type"].(string)
			}
			i := in(op, name)
			if !isDef {
				i.Value = d
				continue
			}
			pd := propertyDef(dm)
			i.Type, i.Description = pd.Type, pd.Description
			if pd.Required != nil {
				i.Required = pd.Required
			}
			if pd.Default != nil {
				i.Default = pd.Default
			}
		}
	}
	chain := typeChain(p.nodeT, typeName)
	for k := len(chain) - 1; k >= 0; k-- {
		itfs, _ := chain[k].Definition["interfaces"].(map[string]any)
		lcm, _ := itfs[LcmInterface].(map[string]any)
		for key, val := range lcm {
			switch key {
			case "inputs":
				define("", val)
			case "type", "description", "notifications", "derived_from":
			case "operations":
				ops, _ := val.(map[string]any)
				for op, body := range ops {
					if bm, ok := body.(map[string]any); ok {
						define(op, bm["inputs"])
					}
				}
			default:
				if bm, ok := val.(map[string]any); ok {
					define(key, bm["inputs"])
				}
			}
		}
	}
	for _, n := range []*VNFNode{top, fl.VNF} {
		if n == nil || n.Interfaces[LcmInterface] == nil {
			continue
		}
		itf := n.Interfaces[LcmInterface]
		for name, v := range itf.Inputs {
			in("", name).Value = v
		}
		for op, o := range itf.Operations {
			for name, v := range o.Inputs {
				in(op, name).Value = v
			}
		}
	}
	out := make([]Input, 0, len(acc))
	for _, i := range acc {
		i.Fields = p.dataTypeFields(i.Type)
		out = append(out, *i)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Operation != out[b].Operation {
			return out[a].Operation < out[b].Operation
		}
		return out[a].Name < out[b].Name
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// dataTypeFields returns copies of the property definitions of a package
// data type and its ancestors (nil if name is not a package data type).
func (p *parser) dataTypeFields(name string) map[string]*PropertyDef {
	chain := typeChain(p.dataT, name)
	var out map[string]*PropertyDef
	for k := len(chain) - 1; k >= 0; k-- {
		for pn, pd := range chain[k].Properties {
			if out == nil {
				out = map[string]*PropertyDef{}
			}
			c := *pd
			out[pn] = &c
		}
	}
	return out
}
