package archtest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/cloudtrim/cloudtrim"

// forbidden lists import path prefixes the domain and the cores must
// never reach, directly or through another package.
var forbidden = []string{
	"net/http",
	"github.com/aws/",
	"cloud.google.com/",
	"google.golang.org/api",
	"google.golang.org/grpc",
	"github.com/Azure/",
	"github.com/GoogleCloudPlatform/functions-framework-go",
	"github.com/cloudevents/",
	"gocloud.dev",
	"github.com/parquet-go/",
	module + "/shared/lake",
	module + "/shared/cloud/",
	module + "/shared/runtime/",
	module + "/shared/pricing",
}

// cores are the packages that hold the product's logic.
var cores = []string{
	"shared/domain",
	"shared/collect",
	"shared/optimize",
	"shared/optimize/placement",
	"shared/approve",
	"shared/actuate",
	"shared/report",
	"shared/queue",
}

type pkg struct {
	ImportPath string
	Deps       []string
	Standard   bool
}

func TestCoresDependOnNoCloudSDKOrRuntime(t *testing.T) {
	for _, c := range cores {
		t.Run(c, func(t *testing.T) {
			p := goList(t, "./"+c)
			for _, dep := range p.Deps {
				for _, f := range forbidden {
					if dep == f || strings.HasPrefix(dep, f) || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
						t.Errorf("%s depends on %s; the cores must not reach %s", c, dep, f)
					}
				}
			}
		})
	}
}

// TestDependencyListingSeesAdapters proves the check above can fail: the
// pipeline, an adapter, does reach the lake's storage library.
func TestDependencyListingSeesAdapters(t *testing.T) {
	p := goList(t, "./shared/pipeline")
	for _, dep := range p.Deps {
		if strings.HasPrefix(dep, "gocloud.dev/blob") {
			return
		}
	}
	t.Fatalf("shared/pipeline deps do not include gocloud.dev/blob; the dependency listing is broken: %v", p.Deps)
}

// TestDomainUsesStandardLibraryOnly: the domain depends on the standard
// library and on the holiday calendars of its schedules, which depend on
// the standard library only.
func TestDomainUsesStandardLibraryOnly(t *testing.T) {
	const holiday = "github.com/cloudtrim/cloudtrim/shared/holiday"
	for _, pkg := range []string{"./shared/domain", "./shared/holiday"} {
		p := goList(t, pkg)
		for _, dep := range p.Deps {
			if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && !(pkg == "./shared/domain" && dep == holiday) {
				t.Errorf("%s depends on %s; it must use the standard library only", pkg, dep)
			}
		}
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	root := repoRoot(t)
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d package directories under %s; the walk is broken", len(dirs), root)
	}
	for dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("parse %s: %v", dir, err)
			continue
		}
		for name, p := range pkgs {
			documented := false
			for _, f := range p.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
			if !documented {
				rel, _ := filepath.Rel(root, dir)
				t.Errorf("package %s in %s has no package doc comment", name, rel)
			}
		}
	}
}

func goList(t *testing.T, pattern string) pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", pattern)
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var p pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var q pkg
		if err := dec.Decode(&q); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		p = q
	}
	if p.ImportPath == "" {
		t.Fatalf("go list %s returned no package", pattern)
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}
