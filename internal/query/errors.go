package query

import "fmt"

// SyntaxError reports a malformed query parameter. SOL013 maps it to
// 400 Bad Request.
type SyntaxError struct {
	// Param is the query parameter: "filter", "fields", "exclude_fields",
	// "all_fields" or "exclude_default".
	Param string
	// Offset is the byte offset of the problem in the parameter's value, or
	// -1 when the problem has no position (a forbidden combination).
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("invalid %s: %s", e.Param, e.Msg)
	}
	return fmt.Sprintf("invalid %s at byte %d: %s", e.Param, e.Offset, e.Msg)
}

// UnknownAttributeError reports an attribute path that the resource does
// not have. SOL013 maps it to 400 Bad Request.
type UnknownAttributeError struct {
	// Param is the query parameter that named the path.
	Param string
	// Path is the attribute path as written, segments joined by "/".
	Path string
}

func (e *UnknownAttributeError) Error() string {
	return fmt.Sprintf("invalid %s: unknown attribute %q", e.Param, e.Path)
}
