package vnfd

import "fmt"

// Error is returned by Parse for every problem found in a VNF package's
// descriptor: unreadable or malformed YAML, imports that leave the package,
// import cycles, and values of the wrong shape for properties the parser
// understands. File is the package path of the file at fault ("" when no
// single file is), Line its 1-based line (0 when unknown).
type Error struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"msg"`
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return "vnfd: " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}
