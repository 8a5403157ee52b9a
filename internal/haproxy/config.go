// Package haproxy edits the server list of an HAProxy backend in a config
// file and reads what a running HAProxy actually serves through its runtime
// API. The VNF manager uses it when it heals a Kubernetes master: every
// surviving master's HAProxy gets its "backend kube-apiservers" server lines
// rewritten (in the file, because runtime-added servers are lost on reload)
// and is then reloaded and verified.
package haproxy

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Server is one "server NAME ADDR ..." line of a backend.
type Server struct {
	Name string
	Addr string // "host:port"; an IPv6 host in brackets
}

// sectionKeywords start a new top-level section. HAProxy recognises them at
// any indentation, so we do too.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true,
	"listen": true, "resolvers": true, "peers": true, "userlist": true,
	"program": true, "cache": true, "mailers": true, "http-errors": true,
	"ring": true, "log-forward": true,
}

// defaultOptions is used for a new server line when the backend has no server
// line to copy options from.
const defaultOptions = "check"

// BackendServers returns the server lines of "backend NAME" in cfg, in file
// order. It fails when the section is missing or defined twice, or when a
// server line has no address.
func BackendServers(cfg []byte, backend string) ([]Server, error) {
	lines := splitLines(cfg)
	start, end, err := findBackend(lines, backend)
	if err != nil {
		return nil, err
	}
	var out []Server
	for i := start + 1; i < end; i++ {
		l := &lines[i]
		if !l.isServer() {
			continue
		}
		if len(l.toks) < 3 {
			return nil, fmt.Errorf("haproxy: backend %q line %d: server line without address", backend, i+1)
		}
		out = append(out, Server{Name: l.toks[1].val, Addr: l.toks[2].val})
	}
	return out, nil
}

// SetBackendServers rewrites the server lines of backend so that they are
// exactly servers, in that order. Every other byte of cfg is kept: comments,
// other sections, the backend's non-server lines and indentation.
//
// An existing line whose server name is still wanted is kept (only its
// address is replaced if it differs), so per-server options survive. A new
// line copies the indentation and options (everything after the address up
// to a comment) of the backend's first server line, or uses "check" when the
// backend has none. Wanted servers take the positions of the old server
// lines in order; extra ones follow the last of them (or the last non-comment
// line of the section), surplus old lines are dropped.
//
// When nothing differs it returns cfg itself and changed=false.
func SetBackendServers(cfg []byte, backend string, servers []Server) (out []byte, changed bool, err error) {
	seen := make(map[string]bool, len(servers))
	for _, s := range servers {
		if err := validServer(s); err != nil {
			return nil, false, err
		}
		if seen[s.Name] {
			return nil, false, fmt.Errorf("haproxy: duplicate server name %q", s.Name)
		}
		seen[s.Name] = true
	}

	lines := splitLines(cfg)
	start, end, err := findBackend(lines, backend)
	if err != nil {
		return nil, false, err
	}

	var slots []int            // indexes of the backend's server lines
	byName := map[string]int{} // first server line of each name
	anchor := start            // where to append when there is no server line
	for i := start + 1; i < end; i++ {
		l := &lines[i]
		if len(l.toks) > 0 {
			anchor = i
		}
		if !l.isServer() {
			continue
		}
		if len(l.toks) < 3 {
			return nil, false, fmt.Errorf("haproxy: backend %q line %d: server line without address", backend, i+1)
		}
		slots = append(slots, i)
		if _, dup := byName[l.toks[1].val]; !dup {
			byName[l.toks[1].val] = i
		}
	}

	eol := defaultEOL(lines)
	indent, options := []byte("    "), []byte(defaultOptions)
	if len(slots) > 0 {
		first := &lines[slots[0]]
		indent = leadingSpace(first.raw)
		options = bytes.Trim(first.raw[first.toks[2].end:first.comment], " \t\r")
	} else {
		for i := start + 1; i < end; i++ {
			if len(lines[i].toks) > 0 {
				indent = leadingSpace(lines[i].raw)
				break
			}
		}
	}

	want := make([]line, len(servers))
	for k, s := range servers {
		if i, ok := byName[s.Name]; ok {
			l := lines[i]
			if a := l.toks[2]; a.val != s.Addr {
				raw := make([]byte, 0, len(l.raw)+len(s.Addr))
				raw = append(raw, l.raw[:a.start]...)
				raw = append(raw, s.Addr...)
				l.raw = append(raw, l.raw[a.end:]...)
			}
			want[k] = l
			continue
		}
		raw := make([]byte, 0, len(indent)+len(s.Name)+len(s.Addr)+len(options)+10)
		raw = append(raw, indent...)
		raw = append(raw, "server "+s.Name+" "+s.Addr...)
		if len(options) > 0 {
			raw = append(append(raw, ' '), options...)
		}
		want[k] = line{raw: raw, eol: eol}
	}

	slotOf := make(map[int]int, len(slots))
	for k, i := range slots {
		slotOf[i] = k
	}
	if len(slots) > 0 {
		anchor = slots[len(slots)-1]
	}
	res := make([]line, 0, len(lines)+len(want))
	for i, l := range lines {
		if k, ok := slotOf[i]; ok {
			if k < len(want) {
				res = append(res, want[k])
			}
		} else {
			res = append(res, l)
		}
		if i == anchor && len(want) > len(slots) {
			res = append(res, want[len(slots):]...)
		}
	}

	out = make([]byte, 0, len(cfg)+64*len(want))
	for i, l := range res {
		out = append(out, l.raw...)
		// A line moved or appended after the unterminated last line needs a
		// terminator, or it would merge with the next one.
		switch last := i == len(res)-1; {
		case len(l.eol) == 0 && !last:
			out = append(out, eol...)
		case string(l.eol) == "\r" && !last:
			out = append(out, "\r\n"...)
		default:
			out = append(out, l.eol...)
		}
	}
	if bytes.Equal(out, cfg) {
		return cfg, false, nil
	}
	return out, true, nil
}

// validServer keeps names and addresses to what needs no quoting, so a
// written line reads back as the same Server.
func validServer(s Server) error {
	if s.Name == "" {
		return fmt.Errorf("haproxy: empty server name")
	}
	for _, c := range []byte(s.Name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("haproxy: server name %q: invalid character %q", s.Name, c)
		}
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("haproxy: server %s address: %w", s.Name, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("haproxy: server %s address %q: invalid port", s.Name, s.Addr)
	}
	if host == "" {
		return fmt.Errorf("haproxy: server %s address %q: empty host", s.Name, s.Addr)
	}
	if s.Addr[0] == '[' {
		// Brackets only make sense around IPv6, which needs them so HAProxy
		// can tell the port from the address.
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return fmt.Errorf("haproxy: server %s address %q: brackets around a non-IPv6 host", s.Name, s.Addr)
		}
		return nil
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	for _, c := range []byte(host) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("haproxy: server %s address %q: invalid host", s.Name, s.Addr)
		}
	}
	return nil
}

// findBackend returns the header line index of "backend NAME" and the index
// of the line that starts the next section (or len(lines)).
func findBackend(lines []line, backend string) (start, end int, err error) {
	start = -1
	for i := range lines {
		t := lines[i].toks
		if len(t) < 2 || t[0].val != "backend" || t[1].val != backend {
			continue
		}
		if start >= 0 {
			// HAProxy refuses duplicate proxy names; editing one copy would
			// hide that.
			return 0, 0, fmt.Errorf("haproxy: backend %q defined twice (lines %d and %d)", backend, start+1, i+1)
		}
		start = i
	}
	if start < 0 {
		return 0, 0, fmt.Errorf("haproxy: backend %q not found", backend)
	}
	for end = start + 1; end < len(lines); end++ {
		if t := lines[end].toks; len(t) > 0 && sectionKeywords[t[0].val] {
			break
		}
	}
	return start, end, nil
}

type line struct {
	raw     []byte // without terminator
	eol     []byte // "\n", "\r\n", or for an unterminated last line "" (or "\r")
	toks    []token
	comment int // offset in raw where a comment starts, else len(raw)
}

func (l *line) isServer() bool { return len(l.toks) > 0 && l.toks[0].val == "server" }

type token struct {
	val        string // unquoted, unescaped
	start, end int    // raw bytes in the line
}

func splitLines(cfg []byte) []line {
	var lines []line
	for len(cfg) > 0 {
		var l line
		if i := bytes.IndexByte(cfg, '\n'); i >= 0 {
			l.raw, l.eol, cfg = cfg[:i], cfg[i:i+1], cfg[i+1:]
			if n := len(l.raw); n > 0 && l.raw[n-1] == '\r' {
				l.raw, l.eol = l.raw[:n-1], []byte("\r\n")
			}
		} else {
			l.raw, cfg = cfg, nil
			// A file cut after the CR of a CRLF: keep the CR as the
			// start of a terminator, so a line after it completes it.
			if n := len(l.raw); n > 0 && l.raw[n-1] == '\r' {
				l.raw, l.eol = l.raw[:n-1], []byte("\r")
			}
		}
		l.toks, l.comment = tokenize(l.raw)
		lines = append(lines, l)
	}
	return lines
}

// tokenize splits a line the way HAProxy does: words separated by blanks,
// single and double quotes group, backslash escapes (not inside single
// quotes), and an unquoted '#' anywhere starts a comment.
func tokenize(raw []byte) (toks []token, comment int) {
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }
	i := 0
	for i < len(raw) {
		if isBlank(raw[i]) {
			i++
			continue
		}
		if raw[i] == '#' {
			return toks, i
		}
		start := i
		var val []byte
		var quote byte
	word:
		for i < len(raw) {
			c := raw[i]
			switch {
			case quote == 0 && isBlank(c):
				break word
			case quote == 0 && c == '#':
				toks = append(toks, token{string(val), start, i})
				return toks, i
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			case c == '\\' && quote != '\'' && i+1 < len(raw):
				i++
				val = append(val, raw[i])
			default:
				val = append(val, c)
			}
			i++
		}
		toks = append(toks, token{string(val), start, i})
	}
	return toks, len(raw)
}

func leadingSpace(raw []byte) []byte {
	n := 0
	for n < len(raw) && (raw[n] == ' ' || raw[n] == '\t') {
		n++
	}
	return raw[:n:n]
}

// defaultEOL follows the file's own line terminator so a CRLF file stays
// CRLF.
func defaultEOL(lines []line) []byte {
	for _, l := range lines {
		switch string(l.eol) {
		case "":
		case "\r":
			return []byte("\r\n")
		default:
			return l.eol
		}
	}
	return []byte("\n")
}
