package focus

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Header is the column names of a source with lookups that ignore case
// and punctuation, so "lineItem/UnblendedCost", "line_item_unblended_cost"
// and "LineItemUnblendedCost" are the same column.
type Header struct {
	// Names are the column names as the source spells them (a leading
	// byte-order mark, surrounding spaces and quotes removed).
	Names []string
	canon map[string]int
}

// NewHeader builds a Header from the column names of a source.
func NewHeader(names []string) *Header {
	h := &Header{Names: make([]string, len(names)), canon: make(map[string]int, len(names))}
	for i, n := range names {
		if i == 0 {
			n = strings.TrimPrefix(n, "\ufeff")
		}
		n = strings.Trim(strings.TrimSpace(n), `"`)
		h.Names[i] = n
		c := Canon(n)
		if _, dup := h.canon[c]; !dup && c != "" {
			h.canon[c] = i
		}
	}
	return h
}

// Canon returns the canonical form of a column name: its letters and
// digits, lower case.
func Canon(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Index returns the position of the first of names the header has, or -1.
func (h *Header) Index(names ...string) int {
	for _, n := range names {
		if i, ok := h.canon[Canon(n)]; ok {
			return i
		}
	}
	return -1
}

// Has reports whether the header has every one of names.
func (h *Header) Has(names ...string) bool {
	for _, n := range names {
		if _, ok := h.canon[Canon(n)]; !ok {
			return false
		}
	}
	return true
}

// Count returns how many of names the header has; detectors use it to
// score how well a header fits a format.
func (h *Header) Count(names ...string) int {
	n := 0
	for _, name := range names {
		if _, ok := h.canon[Canon(name)]; ok {
			n++
		}
	}
	return n
}

// Column is one column found by prefix: its position and the rest of its
// name after the prefix (a tag key, for tag columns).
type Column struct {
	Index int
	Key   string
}

// WithPrefix returns the columns whose name starts with one of prefixes,
// compared without regard to case, in header order. Key is the rest of
// the name as the source spells it.
func (h *Header) WithPrefix(prefixes ...string) []Column {
	var out []Column
	for i, n := range h.Names {
		for _, p := range prefixes {
			if len(n) > len(p) && strings.EqualFold(n[:len(p)], p) {
				out = append(out, Column{Index: i, Key: n[len(p):]})
				break
			}
		}
	}
	return out
}
