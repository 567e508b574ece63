package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpForEveryCommand asks for help on every command and group both
// ways (`help CMD` and `CMD --help`): each answers on stdout, exits 0, and
// writes its flags with two dashes.
func TestHelpForEveryCommand(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "none")
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z]`)
	groups := map[string]bool{}
	for _, c := range commands() {
		if g, _, ok := strings.Cut(c.name, " "); ok {
			groups[g] = true
		}
		words := strings.Fields(c.name)
		for _, args := range [][]string{append([]string{"help"}, words...), append(words, "--help")} {
			r := myco(t, repo, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "usage: myco "+c.name) || !strings.Contains(r.stdout, c.summary) {
				t.Errorf("myco %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "  --repo DIR") {
				t.Errorf("myco %s does not show --repo: %q", strings.Join(args, " "), r.stdout)
			}
			if singleDash.MatchString(r.stdout) {
				t.Errorf("myco %s shows a flag with one dash: %q", strings.Join(args, " "), r.stdout)
			}
		}
	}
	for g := range groups {
		for _, args := range [][]string{{"help", g}, {g, "--help"}} {
			r := myco(t, repo, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "usage: myco "+g+" SUBCOMMAND") {
				t.Errorf("myco %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
		}
	}
	r := myco(t, repo, "help", "frobnicate")
	if r.code != 2 {
		t.Errorf("help of an unknown command: exit %d", r.code)
	}
	assertOneLine(t, r.stderr, `unknown command "frobnicate"`)
}

func TestVersionFlag(t *testing.T) {
	repo := initRepo(t)
	flagOut, cmdOut := myco(t, repo, "--version"), myco(t, repo, "version")
	if flagOut.code != 0 || flagOut.stdout != cmdOut.stdout || !strings.HasPrefix(flagOut.stdout, "myco ") {
		t.Errorf("--version: exit %d, %q; version says %q", flagOut.code, flagOut.stdout, cmdOut.stdout)
	}
}

func TestCompletionScripts(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "none")
	bash := myco(t, repo, "completion", "bash")
	if bash.code != 0 {
		t.Fatalf("completion bash: %s", bash.stderr)
	}
	script := filepath.Join(t.TempDir(), "myco.bash")
	writeFile(t, script, bash.stdout)
	// Each case: the words typed, and what completion must offer.
	for _, c := range []struct {
		words string
		want  []string
	}{
		{"myco dh", []string{"dht"}},
		{"myco con", []string{"config", "connect"}},
		{"myco dht f", []string{"findprovs"}},
		{"myco --repo /tmp/x share some/path --ch", []string{"--chunk-size"}},
		{"myco dht stat --", []string{"--json", "--repo"}},
		{"myco help wal", []string{"wallet"}},
	} {
		prog := "source " + script + "; COMP_WORDS=(" + c.words + "); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _myco; echo \"${COMPREPLY[*]}\""
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != strings.Join(c.want, " ") {
			t.Errorf("completing %q offers %q; want %q", c.words, got, strings.Join(c.want, " "))
		}
	}

	zsh := myco(t, repo, "completion", "zsh")
	if zsh.code != 0 || !strings.Contains(zsh.stdout, "bashcompinit") || !strings.Contains(zsh.stdout, "complete -o default -F _myco myco") {
		t.Errorf("completion zsh: exit %d, %q", zsh.code, zsh.stdout)
	}
	fish := myco(t, repo, "completion", "fish")
	for _, c := range commands() {
		first, sub, _ := strings.Cut(c.name, " ")
		if !strings.Contains(fish.stdout, "-a "+first+" ") || (sub != "" && !strings.Contains(fish.stdout, "-a "+sub+" ")) {
			t.Errorf("completion fish lacks %q", c.name)
		}
	}
	r := myco(t, repo, "completion", "tcsh")
	if r.code != 2 {
		t.Errorf("completion tcsh: exit %d", r.code)
	}
	assertOneLine(t, r.stderr, "want bash, zsh or fish")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEDocumentsEveryCommand: each command has a row in the README's
// command table.
func TestREADMEDocumentsEveryCommand(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if strings.Contains(readme, "../") {
		t.Error("the README points outside the repository")
	}
	for _, c := range commands() {
		first, sub, two := strings.Cut(c.name, " ")
		documented := strings.Contains(readme, "`myco "+c.name)
		if two && !documented {
			// Grouped rows: `myco config show` / `config get KEY`, or
			// `myco service install\|uninstall...`.
			documented = strings.Contains(readme, "`"+first+" "+sub) || strings.Contains(readme, "\\|"+sub) ||
				strings.Contains(readme, "`myco "+first+" "+sub+"\\|")
		}
		if !documented {
			t.Errorf("README does not document `myco %s`", c.name)
		}
	}
}

func TestFlagErrorsWriteTwoDashes(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "none")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"id", "--frob"}, "id: flag provided but not defined: --frob (see 'myco help id')"},
		{[]string{"--frob", "id"}, "flag provided but not defined: --frob"},
		{[]string{"share", "x", "--chunk-size", "big"}, `invalid value "big" for flag --chunk-size`},
		{[]string{"daemon", "--api"}, "flag needs an argument: --api"},
	} {
		r := myco(t, repo, c.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d", c.args, r.code)
		}
		assertOneLine(t, r.stderr, c.want)
	}
}
