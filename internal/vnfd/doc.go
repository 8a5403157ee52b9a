// Package vnfd parses ETSI GS NFV-SOL 001 VNF descriptors (TOSCA YAML) as
// found in SOL004 VNF packages, the way OpenStack Tacker lays them out, and
// answers the questions the lifecycle workflows ask of them.
//
// Parse reads the entry definitions file of a package (fs.FS view of the
// CSAR), follows its imports inside the package and returns a VNFD:
//
//   - Info: the VNF node's descriptor_id, provider, product_name, ... taken
//     from the top-level VNF node (a node template whose type is
//     tosca.nodes.nfv.VNF or derives from it through node_types), falling
//     back to the flavour files' VNF nodes and the VNF type's defaults.
//   - Deployment flavours: every file whose topology_template has
//     substitution_mappings with node_type and properties.flavour_id defines
//     one flavour, with its VDUs (Vdu.Compute), virtual block storages, VDU
//     CPs, internal virtual links, scaling aspects, instantiation levels,
//     affinity and security group rules, and its VNF node with the Vnflcm
//     interface and the artifacts implementing it. A VNFD with no flavour
//     file has one flavour: the template holding the VNF node.
//
// The ETSI types (tosca.nodes.nfv.*, tosca.policies.nfv.*) are known
// natively; package types derived from them are recognised by walking
// derived_from. Node templates, policies and properties the parser does not
// understand are kept as raw values, never rejected. Values of the wrong
// shape for what it does understand (a count that is not an integer, a size
// without a valid unit, ...) are errors, as *Error with file and line.
//
// The VNFD is plain data: json.Marshal it to store it and FromJSON to load
// it back; the reloaded value is equal (reflect.DeepEqual) to the parsed one.
package vnfd
