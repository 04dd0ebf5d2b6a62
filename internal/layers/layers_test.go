package layers

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/thmanyah/enricher/"

// testHelpers are the packages that start or fake things for tests (and for
// the demo and bench, which are tools): production code must not import them.
var testHelpers = map[string]bool{
	"internal/testkafka": true, "internal/testredis": true, "internal/testproc": true,
	"internal/dbztest": true, "internal/fixtures": true, "internal/pgtemp": true,
}

// layer ranks a package of the module; an import may only point to a rank
// at or below the importer's.
func layer(pkg string) (rank int, known bool) {
	switch {
	case testHelpers[pkg]:
		return 4, true // with the tools: they may use anything the service has
	case pkg == "registry", pkg == "dlq", strings.HasPrefix(pkg, "internal/"):
		return 0, true // plumbing and adapters
	case pkg == "schemas":
		return 1, true // the output contract
	case pkg == "debezium", pkg == "store":
		return 1, true // input decoding and the view
	case pkg == "cdc", pkg == "enricher", pkg == "httpapi":
		return 2, true // the service core
	case strings.HasPrefix(pkg, "sink/"), pkg == "backfill":
		return 3, true // consumers of the output, and the backfill producer
	case strings.HasPrefix(pkg, "tools/"), strings.HasPrefix(pkg, "deploy"):
		return 4, true // dev and test tools, deployment checks
	case strings.HasPrefix(pkg, "cmd/"):
		return 5, true
	}
	return 0, false
}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func list(t *testing.T, patterns ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportsPointDown(t *testing.T) {
	for _, p := range list(t, "./...") {
		from := strings.TrimPrefix(p.ImportPath, module)
		rf, ok := layer(from)
		if !ok {
			t.Errorf("%s: not in any layer; add it to layer() and to the README's package table", from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := strings.TrimPrefix(imp, module)
			if rt, _ := layer(to); rt > rf {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", from, rf, to, rt)
			}
		}
	}
}

// TestSinksDoNotNeedTheEnricher: a sink reads the output contract (schemas),
// never the processor or the view that produced it.
func TestSinksDoNotNeedTheEnricher(t *testing.T) {
	for _, p := range list(t, "./sink/...") {
		for _, dep := range p.Deps {
			switch strings.TrimPrefix(dep, module) {
			case "enricher", "cdc", "store", "debezium":
				t.Errorf("%s depends on %s", p.ImportPath, dep)
			}
		}
	}
}

// TestOnlyCmdKnowsFlags: packages take a Config and never see a flag.
func TestOnlyCmdKnowsFlags(t *testing.T) {
	for _, p := range list(t, "./...") {
		from := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(from, "cmd/") {
			continue
		}
		for _, imp := range p.Imports {
			switch strings.TrimPrefix(imp, module) {
			case "internal/cli", "github.com/spf13/cobra", "github.com/spf13/pflag":
				if from != "internal/cli" {
					t.Errorf("%s imports %s: only cmd/ knows about flags", from, imp)
				}
			}
		}
	}
}

func TestNoTestHelpersInProduction(t *testing.T) {
	for _, p := range list(t, "./...") {
		from := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(from, "tools/") || strings.HasPrefix(from, "cmd/") || testHelpers[from] {
			continue // the demo and bench run test infrastructure on purpose
		}
		for _, imp := range p.Imports {
			if to := strings.TrimPrefix(imp, module); testHelpers[to] {
				t.Errorf("%s imports the test helper %s", from, to)
			}
		}
	}
}
