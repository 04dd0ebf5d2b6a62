package deploy

// The Dockerfile: a pinned, static, non-root multi-stage build of `enricher
// run` with a healthcheck.

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	gomod, err := os.ReadFile(repoPath("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go ([0-9.]+)\s*$`).FindStringSubmatch(string(gomod))
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}
	froms := regexp.MustCompile(`(?mi)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(df, -1)
	stages := map[string]bool{}
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"base images pinned", func(t *testing.T) {
			if len(froms) < 2 {
				t.Fatalf("got %d FROM lines, want a multi-stage build", len(froms))
			}
			for _, m := range froms {
				if !stages[m[1]] {
					checkPinned(t, m[1], false)
				}
				if m[2] != "" {
					stages[m[2]] = true
				}
			}
		}},
		{"builder's Go is go.mod's", func(t *testing.T) {
			for _, m := range froms {
				if name, tag, _ := splitImage(m[1]); name == "golang" {
					if !strings.HasPrefix(tag, goVersion[1]+"-") && tag != goVersion[1] {
						t.Errorf("builder %s; go.mod says go %s: bump one to the other", m[1], goVersion[1])
					}
					return
				}
			}
			t.Error("no golang builder stage")
		}},
		{"static binary", func(t *testing.T) {
			if !strings.Contains(df, "CGO_ENABLED=0") {
				t.Error("the build does not set CGO_ENABLED=0")
			}
		}},
		{"runs as a non-root user", func(t *testing.T) {
			users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
			if len(users) == 0 {
				t.Fatal("no USER: the image would run as root")
			}
			u, _, _ := strings.Cut(users[len(users)-1][1], ":")
			if u == "root" || u == "0" {
				t.Errorf("USER %s", users[len(users)-1][1])
			}
		}},
		{"healthcheck on /healthz", func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^HEALTHCHECK .*(\n.*)*/healthz`).MatchString(df) {
				t.Error("no HEALTHCHECK requesting /healthz")
			}
		}},
		{"runs `enricher run` and exposes 8080", func(t *testing.T) {
			if !strings.Contains(df, `ENTRYPOINT ["enricher"]`) || !strings.Contains(df, `CMD ["run"]`) {
				t.Error(`want ENTRYPOINT ["enricher"] and CMD ["run"]`)
			}
			if !regexp.MustCompile(`(?m)^EXPOSE 8080\b`).MatchString(df) {
				t.Error("no EXPOSE 8080")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}
