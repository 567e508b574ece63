package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/myco-p2p/myco/node"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitPaused: the daemon stopped during a fetch; it resumes when the
	// daemon starts again.
	exitPaused = 3
)

// command is one `myco NAME ...` subcommand.
type command struct {
	name    string
	args    string // the positional arguments, for usage
	summary string
	// flags adds the command's own flags to fs; it may be nil.
	flags func(fs *flag.FlagSet)
	// nargs is the number of positional arguments: exact when min == max.
	minArgs, maxArgs int
	run              func(e *env, args []string) error
}

// env is what every command gets: where to write, the repo and the
// options common to all commands.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	repo   string // resolved repo path
	json   bool
}

// client returns an API client for the daemon of the env's repo.
func (e *env) client() (*node.Client, error) { return node.NewClient(e.repo) }

// printJSON writes v as indented JSON on stdout.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// usageError is a mistake in how a command was called.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func commands() []*command {
	return append([]*command{
		cmdInit(), cmdDaemon(), cmdID(), cmdPeers(), cmdConnect(), cmdVersion(),
		cmdDHTFindProvs(), cmdDHTPeers(), cmdDHTStat(),
		cmdShare(), cmdCat(), cmdLs(), cmdRm(), cmdCancel(),
		cmdWalletAddress(), cmdWalletBalance(), cmdSend(),
		cmdChainStatus(), cmdChainBlock(), cmdChainWait(),
		cmdMineStart(), cmdMineStop(), cmdMineStatus(),
		cmdPublish(), cmdVerify(), cmdResolve(),
		cmdFetch(), cmdSwarmStats(), cmdSwarmLimits(), cmdStat(),
		// The web dashboard (cmd_webui.go).
		cmdWebUI(),
		cmdCompletion(), cmdConfigShow(), cmdConfigGet(), cmdConfigSet(), cmdConfigEdit(),
		cmdShutdown(), cmdLogLevel(), cmdLogTail(), cmdGC(), cmdStatsBW(),
		cmdServiceInstall(), cmdServiceUninstall(), cmdServiceStart(), cmdServiceStop(), cmdServiceStatus(),
	}, append(carCommands(), // CAR files: cmd_car.go
		channelCommands()...)...) // payment channels: cmd_channel.go
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "myco: %s\n", oneLine(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.Is(err, node.ErrDaemonStopped) {
		return exitPaused
	}
	return exitError
}

// oneLine folds a message onto one line: errors are one line on stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	// Options common to every command may also stand before its name.
	global := flag.NewFlagSet("myco", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	repoFlag := global.String("repo", "", "")
	jsonFlag := global.Bool("json", false, "")
	versionFlag := global.Bool("version", false, "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, cmds)
			return err
		}
		return usageError{fmt.Sprintf("%s (see 'myco help')", flagErrorText(err))}
	}
	rest := global.Args()
	if *versionFlag {
		rest = []string{"version"}
	}
	if len(rest) == 0 {
		printUsage(stderr, cmds)
		return usageError{"no command given (see 'myco help')"}
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		return help(stdout, cmds, rest)
	}
	// Two-word commands: `myco dht findprovs`, `myco wallet balance`.
	if len(rest) > 0 && findCommand(cmds, name+" "+rest[0]) != nil {
		name, rest = name+" "+rest[0], rest[1:]
	}
	cmd := findCommand(cmds, name)
	if cmd == nil {
		if sub := subcommands(cmds, name); sub != "" {
			if len(rest) > 0 && (rest[0] == "--help" || rest[0] == "-help" || rest[0] == "-h") {
				groupUsage(stdout, cmds, name)
				return flag.ErrHelp
			}
			return usageError{fmt.Sprintf("usage: myco %s %s (see 'myco help %s')", name, sub, name)}
		}
		return usageError{fmt.Sprintf("unknown command %q (see 'myco help')", name)}
	}

	fs := flag.NewFlagSet("myco "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	repo := fs.String("repo", *repoFlag, "repo `DIR` (default $MYCO_REPO, else ~/.myco)")
	jsonOut := fs.Bool("json", *jsonFlag, "print JSON for scripts")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	pos, err := parseInterleaved(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, cmd, fs)
			return err
		}
		return usageError{fmt.Sprintf("%s: %s (see 'myco help %s')", cmd.name, flagErrorText(err), cmd.name)}
	}
	if len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs {
		return usageError{fmt.Sprintf("usage: myco %s %s (see 'myco help %s')", cmd.name, cmd.args, cmd.name)}
	}
	repoPath, err := node.ResolveRepoPath(*repo)
	if err != nil {
		return err
	}
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, repo: repoPath, json: *jsonOut}
	return cmd.run(e, pos)
}

// flagDash matches a flag as the flag package names it in its errors,
// with one dash.
var flagDash = regexp.MustCompile(`(^|[\s:])-([A-Za-z][A-Za-z0-9-]*)`)

// flagErrorText is a flag package error with flags written as users type
// them: "flag provided but not defined: --frob".
func flagErrorText(err error) string {
	return flagDash.ReplaceAllString(err.Error(), "$1--$2")
}

// parseInterleaved parses flags that may stand before, between or after
// the positional arguments (`myco share PATH --chunk-size 262144`), as
// kubo and bitcoin-cli users expect. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// subcommands lists the second words of the two-word commands that start
// with name, as "a|b|c", or "" when there are none.
func subcommands(cmds []*command, name string) string {
	var subs []string
	for _, c := range cmds {
		if rest, ok := strings.CutPrefix(c.name, name+" "); ok {
			subs = append(subs, rest)
		}
	}
	return strings.Join(subs, "|")
}

func findCommand(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printUsage(w io.Writer, cmds []*command) {
	fmt.Fprintln(w, "myco: share and fetch files peer to peer, with a ledger of its own")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: myco [--repo DIR] [--json] COMMAND [ARGS]")
	fmt.Fprintln(w, "       myco --version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "'myco help COMMAND' or 'myco COMMAND --help' describes one command.")
}

func help(w io.Writer, cmds []*command, args []string) error {
	if len(args) == 0 {
		printUsage(w, cmds)
		return nil
	}
	name := strings.Join(args, " ")
	cmd := findCommand(cmds, name)
	if cmd == nil {
		if subcommands(cmds, name) != "" {
			groupUsage(w, cmds, name)
			return nil
		}
		return usageError{fmt.Sprintf("unknown command %q (see 'myco help')", name)}
	}
	commandUsage(w, cmd, commandFlags(cmd))
	return nil
}

// commandFlags is every flag cmd takes, for help and completion.
func commandFlags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet("myco "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("repo", "", "repo `DIR` (default $MYCO_REPO, else ~/.myco)")
	fs.Bool("json", false, "print JSON for scripts")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	return fs
}

func commandUsage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: myco %s", cmd.name)
	if cmd.args != "" {
		fmt.Fprintf(w, " %s", cmd.args)
	}
	fmt.Fprintf(w, " [options]\n\n%s\n\noptions:\n", cmd.summary)
	printFlags(w, fs)
}

// printFlags lists a command's flags as users type them, with two dashes
// (the flag package prints one), sorted by name.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + strings.ToUpper(kind)
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// groupUsage lists the commands of a group (`myco help dht`).
func groupUsage(w io.Writer, cmds []*command, group string) {
	fmt.Fprintf(w, "usage: myco %s SUBCOMMAND [ARGS]\n\nsubcommands:\n", group)
	for _, c := range cmds {
		if sub, ok := strings.CutPrefix(c.name, group+" "); ok {
			fmt.Fprintf(w, "  %-10s %s\n", sub, c.summary)
		}
	}
	fmt.Fprintf(w, "\n'myco help %s SUBCOMMAND' describes one.\n", group)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// show asks the daemon through call and prints the answer: as JSON with
// --json, else through human.
func show[T any](e *env, call func(*node.Client) (T, error), human func(T)) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	v, err := call(c)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(v)
	}
	human(v)
	return nil
}
