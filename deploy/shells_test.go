package deploy

// The bash the deploy scripts are tested under. Linux has bash 5; a Mac's
// /bin/bash is 3.2.57, frozen there since 2007 by its licence, and `make up`
// runs the scripts with whatever `bash` is first on PATH. So every script
// test runs under each shell scriptShells returns: the system bash, and GNU
// bash 3.2 where one can be had (ENRICHER_BASH32, /bin/bash on a Mac, or one
// built earlier into the user's cache directory by ENRICHER_BASH32=build,
// which downloads GNU's release tarball and compiles it: minutes, so never
// done unasked, and never by `make test` on CI).
// TestScriptsBash32Constructs needs no bash 3.2: it rejects, by pattern, the
// constructs of bash 4 and later that 3.2 fails on.

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// GNU's release of the bash macOS ships. The checksum is the one Yocto's
// bash_3.2.57 recipe and independent build scripts pin for this tarball.
var (
	bash32Version = "3.2.57"
	bash32URL     = "https://ftp.gnu.org/gnu/bash/bash-3.2.57.tar.gz"
	bash32SHA256  = "3fa9daf85ebf35068f090ce51283ddeeb3c75eb5bc70b1a4a7cb05868bfe06a4"
)

// testShell is a bash to run the deploy scripts with.
type testShell struct {
	name string // "bash", "bash-3.2"
	path string
}

var bash32Once struct {
	once sync.Once
	path string
	why  string // why there is none
}

// scriptShells returns the system bash and, when one can be had, bash 3.2;
// it skips t without any bash. The first call may build bash 3.2 (minutes);
// later calls, in this process or the next, reuse it.
func scriptShells(t *testing.T) []testShell {
	t.Helper()
	sys, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	shells := []testShell{{"bash", sys}}
	bash32Once.once.Do(func() {
		start := time.Now()
		bash32Once.path, bash32Once.why = findBash32()
		if bash32Once.path != "" {
			t.Logf("bash 3.2: %s (%.0fs to find or build)", bash32Once.path, time.Since(start).Seconds())
		}
	})
	if bash32Once.path == "" {
		t.Logf("scripts not run under bash 3.2: %s", bash32Once.why)
		return shells
	}
	return append(shells, testShell{"bash-3.2", bash32Once.path})
}

// bashMajorMinor asks a bash for its version: "3.2".
func bashMajorMinor(path string) (string, error) {
	out, err := exec.Command(path, "-c", `echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}"`).Output()
	return strings.TrimSpace(string(out)), err
}

// findBash32 returns a bash 3.2, or "" and why there is none.
func findBash32() (path, why string) {
	env := os.Getenv("ENRICHER_BASH32")
	switch env {
	case "off":
		return "", "ENRICHER_BASH32=off"
	case "", "build":
	default:
		v, err := bashMajorMinor(env)
		if err != nil || !strings.HasPrefix(v, "3.") {
			return "", fmt.Sprintf("ENRICHER_BASH32=%s is not a bash 3 (version %q, %v)", env, v, err)
		}
		return env, ""
	}
	if v, err := bashMajorMinor("/bin/bash"); err == nil && strings.HasPrefix(v, "3.") {
		return "/bin/bash", ""
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Sprintf("no cache directory to build it in: %v (or set ENRICHER_BASH32 to a bash 3.2)", err)
	}
	dir := filepath.Join(cache, "thmanyah-enricher", "bash-"+bash32Version)
	bin := filepath.Join(dir, "bash")
	if v, err := bashMajorMinor(bin); err == nil && strings.HasPrefix(v, "3.") {
		return bin, ""
	}
	if env != "build" {
		return "", "none found (ENRICHER_BASH32=build builds GNU bash " + bash32Version + " into " + dir + ", minutes; or set ENRICHER_BASH32 to a bash 3.2)"
	}
	if err := buildBash32(dir); err != nil {
		return "", err.Error() + " (or set ENRICHER_BASH32 to a bash 3.2, or ENRICHER_BASH32=off)"
	}
	return bin, ""
}

// buildBash32 downloads and checks GNU's tarball, builds bash in a
// temporary directory, and installs the binary as dir/bash.
func buildBash32(dir string) error {
	var missing []string
	cc := "cc"
	if _, err := exec.LookPath(cc); err != nil {
		if _, err := exec.LookPath("gcc"); err != nil {
			missing = append(missing, "gcc")
		}
		cc = "gcc"
	}
	if _, err := exec.LookPath("make"); err != nil {
		missing = append(missing, "make")
	}
	// The tarball's y.tab.c is older than the patched parse.y it ships with
	// and does not compile: the parser must be regenerated.
	if _, err := exec.LookPath("bison"); err != nil {
		if _, err := exec.LookPath("yacc"); err != nil {
			missing = append(missing, "bison")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("building bash %s needs %s (apt-get install %s)", bash32Version, strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	// Built in a temporary directory: the cache gets the binary or nothing.
	work, err := os.MkdirTemp("", "enricher-bash32-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	if err := fetchBash32Source(work); err != nil {
		return err
	}
	src := filepath.Join(work, "src")
	for _, f := range []string{"y.tab.c", "y.tab.h"} {
		if err := os.Remove(filepath.Join(src, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	// gnu89 and the -Wno- flags: 2009 C that gcc 14 would reject (implicit
	// declarations, int conversions). Readline, history and programmable
	// completion are for interactive shells; scripts do not use them.
	env := append(os.Environ(), "CC="+cc,
		"CFLAGS=-O1 -std=gnu89 -fcommon -Wno-implicit-function-declaration -Wno-implicit-int -Wno-int-conversion -Wno-incompatible-pointer-types")
	steps := [][]string{
		{"./configure", "--without-bash-malloc", "--disable-nls", "--disable-readline", "--disable-history", "--disable-progcomp"},
		{"make", fmt.Sprintf("-j%d", runtime.NumCPU())},
		{"make"}, // its Makefiles are not all parallel-safe: finish serially
	}
	for _, argv := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = src, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil && argv[0] == "./configure" {
			return fmt.Errorf("bash %s: configure: %v\n%s", bash32Version, err, lastLines(out, 20))
		}
		if err != nil && len(argv) == 1 {
			return fmt.Errorf("bash %s: make: %v\n%s", bash32Version, err, lastLines(out, 20))
		}
	}
	if v, err := bashMajorMinor(filepath.Join(src, "bash")); err != nil || !strings.HasPrefix(v, "3.2") {
		return fmt.Errorf("the bash built from %s says version %q (%v)", bash32URL, v, err)
	}
	return installFile(filepath.Join(src, "bash"), filepath.Join(dir, "bash"))
}

// installFile copies src to dst through a temporary file in dst's
// directory and a rename: a concurrent test process sees no binary or the
// whole binary, never half of one.
func installFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".bash-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// fetchBash32Source downloads bash32URL, checks bash32SHA256 and unpacks
// it into work/src (the tarball's top directory stripped, times kept so
// that make does not try to regenerate configure).
func fetchBash32Source(work string) error {
	// Short connect and header limits: where the network is filtered, the
	// test should learn so in seconds, not at the whole-download limit.
	client := &http.Client{
		Timeout: 3 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
		},
	}
	resp, err := client.Get(bash32URL)
	if err != nil {
		return fmt.Errorf("cannot download %s: %v", bash32URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cannot download %s: %s", bash32URL, resp.Status)
	}
	tarball := filepath.Join(work, "bash.tar.gz")
	f, err := os.Create(tarball)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %v", bash32URL, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != bash32SHA256 {
		return fmt.Errorf("%s: sha256 %s, want %s: not the release, not built", bash32URL, got, bash32SHA256)
	}
	return untarStrip(tarball, filepath.Join(work, "src"))
}

// untarStrip unpacks a .tar.gz into dest without its first path element.
func untarStrip(tarball, dest string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	type stamp struct {
		path string
		time time.Time
	}
	var dirs []stamp
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		_, rel, ok := strings.Cut(filepath.ToSlash(filepath.Clean(hdr.Name)), "/")
		if !ok || rel == "" {
			continue
		}
		if strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: entry %q leaves the directory", tarball, hdr.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, stamp{target, hdr.ModTime})
			continue
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
			continue
		case tar.TypeReg:
		default:
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o755|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := os.Chtimes(target, hdr.ModTime, hdr.ModTime); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		_ = os.Chtimes(d.path, d.time, d.time)
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// deployScripts returns deploy/scripts/*.sh, relative to the repository.
func deployScripts(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(repoPath("deploy/scripts/*.sh"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no deploy/scripts/*.sh (%v)", err)
	}
	return paths
}

// --- tests ------------------------------------------------------------------

// bash4Constructs are what bash 3.2 rejects or reads differently, each
// with the bash that brought it.
var bash4Constructs = []struct {
	name string
	re   *regexp.Regexp
}{
	{"mapfile/readarray (bash 4.0)", regexp.MustCompile(`(^|[^\w-])(mapfile|readarray)\b`)},
	{"associative array (bash 4.0)", regexp.MustCompile(`\b(declare|local|typeset)\s+-[a-zA-Z]*A`)},
	{"nameref (bash 4.3)", regexp.MustCompile(`\b(declare|local|typeset)\s+-[a-zA-Z]*n`)},
	{"declare -g (bash 4.2)", regexp.MustCompile(`\b(declare|typeset)\s+-[a-zA-Z]*g`)},
	{"case modification ${x,,} ${x^^} (bash 4.0)", regexp.MustCompile(`\$\{#?[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(\^|,)`)},
	{"transformation ${x@Q} (bash 4.4)", regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?@[QEPAaKkUuL]\}`)},
	{"negative array subscript ${a[-1]} (bash 4.3)", regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\[-[0-9]`)},
	{"|& (bash 4.0)", regexp.MustCompile(`\|&`)},
	{"&>> (bash 4.0)", regexp.MustCompile(`&>>`)},
	{"coproc (bash 4.0)", regexp.MustCompile(`(^|[;&|\s])coproc\b`)},
	{"globstar (bash 4.0)", regexp.MustCompile(`\bshopt\b.*\bglobstar\b`)},
	{"case fall-through ;& ;;& (bash 4.0)", regexp.MustCompile(`;;&|(^|[^;&>]);&(\s|$)`)},
	{"[[ -v name ]] (bash 4.2)", regexp.MustCompile(`(\[\[|\btest|\[)\s+-v\s`)},
	{"wait -n (bash 4.3)", regexp.MustCompile(`\bwait\s+-n\b`)},
	{"printf %(...)T (bash 4.2)", regexp.MustCompile(`%\([^)]*\)T`)},
	{"$EPOCHSECONDS/$EPOCHREALTIME/$BASHPID (bash 4-5)", regexp.MustCompile(`\$\{?(EPOCHSECONDS|EPOCHREALTIME|BASHPID)\b`)},
}

// bash4Findings returns "line N: construct" for each use in a script.
// Whole-line comments are skipped: they may name what they avoid.
func bash4Findings(script string) []string {
	var found []string
	sc := bufio.NewScanner(strings.NewReader(script))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, c := range bash4Constructs {
			if c.re.MatchString(line) {
				found = append(found, fmt.Sprintf("line %d: %s: %s", n, c.name, strings.TrimSpace(line)))
			}
		}
	}
	return found
}

// TestBash4Findings checks the patterns themselves: each catches its
// construct and passes what bash 3.2 has.
func TestBash4Findings(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		bad  bool
	}{
		{"mapfile", `mapfile -t ids < <(docker ps -q)`, true},
		{"readarray", `readarray -t lines <file`, true},
		{"declare -A", `declare -A seen`, true},
		{"local -A", `  local -A seen=()`, true},
		{"declare -gA", `declare -gA seen`, true},
		{"local -n", `local -n ref=$1`, true},
		{"lower case", `echo "${name,,}"`, true},
		{"upper case first", `echo "${name^}"`, true},
		{"upper case of an element", `echo "${a[1]^^}"`, true},
		{"quote transformation of an array", `printf '%s\n' "${cmd[@]@Q}"`, true},
		{"quote transformation of a name", `echo "${x@Q}"`, true},
		{"negative subscript", `last=${a[-1]}`, true},
		{"pipe both streams", `make |& tee log`, true},
		{"append both streams", `cmd &>>log`, true},
		{"coproc", `coproc worker { cat; }`, true},
		{"globstar", `shopt -s globstar nullglob`, true},
		{"fall-through", `  a) echo a ;&`, true},
		{"test fall-through", `  a) echo a ;;&`, true},
		{"-v", `if [[ -v CONNECT_URL ]]; then`, true},
		{"wait -n", `wait -n`, true},
		{"printf time", `printf '%(%F)T\n' -1`, true},
		{"EPOCHSECONDS", `start=$EPOCHSECONDS`, true},
		{"ok: last argument", `echo "${@: -1}"`, false},
		{"ok: length", `echo "${#ids[@]}"`, false},
		{"ok: default", `echo "${COMPOSE:-docker compose}"`, false},
		{"ok: substitution with a comma", `echo "${x/a,b/c}"`, false},
		{"ok: empty array guard", `for x in ${a[@]+"${a[@]}"}; do :; done`, false},
		{"ok: read -a", `read -r -a compose <<<"$COMPOSE"`, false},
		{"ok: &>", `docker info &>/dev/null`, false},
		{"ok: 2>&1 then ;;", `  x) cmd 2>&1 ;;`, false},
		{"ok: process substitution", `while read -r l; do :; done < <(ls)`, false},
		{"ok: a comment", `# mapfile is bash 4`, false},
		{"ok: a word containing mapfile", `echo no-mapfile-here`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := bash4Findings(tc.line)
			if (len(got) > 0) != tc.bad {
				t.Errorf("%q: got findings %q, want bad=%v", tc.line, got, tc.bad)
			}
		})
	}
}

// TestScriptsBash32Constructs greps every deploy/scripts/*.sh for what
// bash 3.2 lacks. It runs everywhere; the script tests run the scripts
// under a real bash 3.2 where there is one.
func TestScriptsBash32Constructs(t *testing.T) {
	for _, p := range deployScripts(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range bash4Findings(string(b)) {
				t.Errorf("%s: bash 3.2 (macOS's /bin/bash) lacks it", f)
			}
			if !strings.HasPrefix(string(b), "#!/usr/bin/env bash\n") {
				t.Error("first line is not #!/usr/bin/env bash")
			}
			if !regexp.MustCompile(`(?m)^set -euo pipefail$`).Match(b) {
				t.Error("no `set -euo pipefail`")
			}
		})
	}
}

// TestScriptsParse runs `bash -n` on every deploy/scripts/*.sh under each
// shell: bash 3.2's parser rejects some things bash 5 takes, such as a case
// pattern's ')' inside $(...).
func TestScriptsParse(t *testing.T) {
	scripts := deployScripts(t)
	for _, sh := range scriptShells(t) {
		for _, p := range scripts {
			t.Run(sh.name+"/"+filepath.Base(p), func(t *testing.T) {
				if out, err := exec.Command(sh.path, "-n", p).CombinedOutput(); err != nil {
					t.Errorf("%s -n: %v\n%s", sh.name, err, out)
				}
			})
		}
	}
}
