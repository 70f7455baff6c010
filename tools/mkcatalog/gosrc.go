package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
)

// goFile is a parsed Go source file of the data set. The files are
// generated Go literals (price maps, SDK structs); they are read with
// go/parser, never compiled.
type goFile struct {
	path string
	fset *token.FileSet
	file *ast.File
}

func parseGo(path string) (*goFile, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &goFile{path: path, fset: fset, file: f}, nil
}

func (g *goFile) errorf(n ast.Node, format string, args ...any) error {
	return fmt.Errorf("%s: %s", g.fset.Position(n.Pos()), fmt.Sprintf(format, args...))
}

// priceEntry is one "sku": price pair of a price map, with the price as
// written in the source.
type priceEntry struct {
	sku, price string
}

// stringNumberPairs reads a map literal whose keys are string literals
// and whose values are number literals.
func (g *goFile) stringNumberPairs(lit *ast.CompositeLit) ([]priceEntry, error) {
	out := make([]priceEntry, 0, len(lit.Elts))
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			return nil, g.errorf(e, "want key: value in a price map")
		}
		k, ok := stringLit(kv.Key)
		if !ok {
			return nil, g.errorf(kv.Key, "want a string key in a price map")
		}
		v, ok := kv.Value.(*ast.BasicLit)
		if !ok || (v.Kind != token.FLOAT && v.Kind != token.INT) {
			return nil, g.errorf(kv.Value, "want a number for %q in a price map", k)
		}
		out = append(out, priceEntry{sku: k, price: v.Value})
	}
	return out, nil
}

// stringLit returns the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// unwrap strips what the generated SDK literals put around a value: the
// address operator and one-argument helpers such as aws.Int32(2),
// aws.Bool(true) and lo.ToPtr("x").
func unwrap(e ast.Expr) ast.Expr {
	for {
		switch x := e.(type) {
		case *ast.UnaryExpr:
			if x.Op != token.AND {
				return e
			}
			e = x.X
		case *ast.CallExpr:
			if len(x.Args) != 1 {
				return e
			}
			e = x.Args[0]
		case *ast.ParenExpr:
			e = x.X
		default:
			return e
		}
	}
}

// fields returns the keyed fields of a struct literal by name, or nil
// when e is not a struct literal with keyed fields.
func fields(e ast.Expr) map[string]ast.Expr {
	lit, ok := unwrap(e).(*ast.CompositeLit)
	if !ok {
		return nil
	}
	m := make(map[string]ast.Expr, len(lit.Elts))
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil
		}
		id, ok := kv.Key.(*ast.Ident)
		if !ok {
			return nil
		}
		m[id.Name] = kv.Value
	}
	return m
}

// elements returns the elements of a slice literal (or nil).
func elements(e ast.Expr) []ast.Expr {
	if e == nil {
		return nil
	}
	lit, ok := unwrap(e).(*ast.CompositeLit)
	if !ok {
		return nil
	}
	return lit.Elts
}

// intValue reads a (possibly wrapped) integer literal.
func intValue(e ast.Expr) (int64, bool) {
	if e == nil {
		return 0, false
	}
	b, ok := unwrap(e).(*ast.BasicLit)
	if !ok || b.Kind != token.INT {
		return 0, false
	}
	n, err := strconv.ParseInt(b.Value, 0, 64)
	return n, err == nil
}

// boolValue reads a (possibly wrapped) true or false.
func boolValue(e ast.Expr) (value, ok bool) {
	if e == nil {
		return false, false
	}
	id, isIdent := unwrap(e).(*ast.Ident)
	if !isIdent || (id.Name != "true" && id.Name != "false") {
		return false, false
	}
	return id.Name == "true", true
}

// stringValue reads a (possibly wrapped) string literal.
func stringValue(e ast.Expr) (string, bool) {
	if e == nil {
		return "", false
	}
	return stringLit(unwrap(e))
}
