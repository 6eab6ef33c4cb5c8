package importrules

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxCmdFuncLines is the longest a function of cmd/pier may be, from its
// signature to its closing brace: cmd/ is wiring, and wiring that grows
// past a screen hides a decision that belongs in a package of its own.
// (make lint also holds each function's cyclomatic complexity to 20 with
// gocyclo.)
const maxCmdFuncLines = 80

// TestCmdWiringIsThin fails for every function of cmd/pier, tests aside,
// longer than maxCmdFuncLines lines.
func TestCmdWiringIsThin(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("../../cmd/pier")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range tooLong(fset, f, maxCmdFuncLines) {
			t.Errorf("cmd/pier/%s: %s is %d lines, more than %d: move its decisions into the packages that own them", name, fn.name, fn.lines, maxCmdFuncLines)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no Go files found in cmd/pier")
	}
}

type funcLen struct {
	name  string
	lines int
}

// tooLong returns the functions and methods of f with a body longer than
// max lines, counting from the func keyword to the closing brace.
func tooLong(fset *token.FileSet, f *ast.File, max int) []funcLen {
	var out []funcLen
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		n := fset.Position(fd.End()).Line - fset.Position(fd.Type.Func).Line + 1
		if n <= max {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = "(" + recvType(fd.Recv.List[0].Type) + ")." + name
		}
		out = append(out, funcLen{name, n})
	}
	return out
}

// recvType spells a receiver type as written ("*T", "T", "T[K]").
func recvType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return "*" + recvType(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return recvType(e.X) + "[" + recvType(e.Index) + "]"
	case *ast.IndexListExpr:
		args := make([]string, len(e.Indices))
		for i, a := range e.Indices {
			args[i] = recvType(a)
		}
		return recvType(e.X) + "[" + strings.Join(args, ", ") + "]"
	}
	return "?"
}

func TestTooLong(t *testing.T) {
	t.Parallel()
	body := func(n int) string { return strings.Repeat("\t_ = 0\n", n) }
	src := "package p\n\n" +
		"func short() {\n" + body(78) + "}\n\n" + // 80 lines: allowed
		"func long() {\n" + body(79) + "}\n\n" + // 81 lines
		"type T[K any] struct{}\n\n" +
		"func (*T[K]) method() {\n" + body(100) + "}\n\n" +
		"func decl()\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := tooLong(fset, f, 80)
	want := []funcLen{{"long", 81}, {"(*T[K]).method", 102}}
	if len(got) != len(want) {
		t.Fatalf("tooLong = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tooLong[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
