// Package query implements the query conventions of ETSI GS NFV-SOL 013
// v2.6.1 that list resources (GET on a container) use:
//
//   - attribute-based filtering (clause 5.2): ParseFilter, Filter;
//   - attribute selectors (clause 5.3): ParseSelector, Selector;
//   - the attribute names a resource has, to reject unknown ones with 400
//     Bad Request: Attrs, AttrsOf.
//
// Everything works on decoded JSON documents as encoding/json builds them
// (map[string]any, []any, string, float64 or json.Number, bool, nil), so a
// handler filters and trims exactly what it would serve.
package query
