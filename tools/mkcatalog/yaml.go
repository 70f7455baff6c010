package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ynode is a node of a YAML document: a scalar (value) or a mapping
// (children). Sequence items are kept as children named "[0]", "[1]" ...
type ynode struct {
	value    string
	line     int
	children map[string]*ynode
}

// child returns the node at the path of keys below n, or nil.
func (n *ynode) child(path ...string) *ynode {
	for _, k := range path {
		if n == nil {
			return nil
		}
		n = n.children[k]
	}
	return n
}

// parseYAML reads the block-style subset of YAML that pricing.yml is
// written in: mappings nested by indentation with spaces, plain or
// quoted scalars, "- item" sequences, empty flow collections ({} and [])
// and literal or folded block scalars (skipped). Anything else is an error naming the line, so that
// a change of format is noticed rather than misread.
func parseYAML(name string, r io.Reader) (*ynode, error) {
	type level struct {
		indent int
		node   *ynode
	}
	root := &ynode{children: map[string]*ynode{}}
	stack := []level{{-1, root}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	block := -1 // indentation of the key of a block scalar being skipped
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \r")
		content := strings.TrimLeft(line, " ")
		indent := len(line) - len(content)
		if block >= 0 {
			if content == "" || indent > block {
				continue
			}
			block = -1
		}
		if content == "" || strings.HasPrefix(content, "#") || (indent == 0 && content == "---") {
			continue
		}
		if strings.HasPrefix(content, "\t") {
			return nil, fmt.Errorf("%s:%d: tab in indentation", name, n)
		}
		for len(stack) > 1 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		parent := stack[len(stack)-1].node
		if parent.children == nil {
			return nil, fmt.Errorf("%s:%d: nested under a scalar", name, n)
		}
		if item, ok := strings.CutPrefix(content, "- "); ok {
			v, err := scalar(item)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			k := "[" + strconv.Itoa(len(parent.children)) + "]"
			parent.children[k] = &ynode{value: v, line: n}
			continue
		}
		key, rest, ok := strings.Cut(content, ":")
		if !ok || key == "" || (rest != "" && rest[0] != ' ') {
			return nil, fmt.Errorf("%s:%d: want key: value", name, n)
		}
		if _, dup := parent.children[key]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate key %q", name, n, key)
		}
		rest = strings.TrimSpace(rest)
		node := &ynode{line: n}
		parent.children[key] = node
		stack = append(stack, level{indent, node}) // a scalar's children are an error
		switch {
		case rest == "":
			node.children = map[string]*ynode{}
		case rest[0] == '|' || rest[0] == '>':
			block = indent
		case rest == "{}" || rest == "[]":
			node.children = map[string]*ynode{}
		default:
			v, err := scalar(rest)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, n, err)
			}
			node.value = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return root, nil
}

func scalar(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, `"`):
		return strconv.Unquote(s)
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("unterminated quoted scalar %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.ContainsAny(s[:1], "[{&*!"):
		return "", fmt.Errorf("unsupported YAML value %q", s)
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s, nil
}
