package service

import "strings"

// WindowsCommandLine is the command line the Windows service manager runs
// for spec, quoted as Windows programs parse it (the rules of
// syscall.EscapeArg, which exists only on Windows): paths with spaces and
// drive letters stay one argument each.
func WindowsCommandLine(spec Spec) string {
	words := append([]string{spec.Exe}, spec.Args()...)
	for i, w := range words {
		words[i] = windowsQuote(w)
	}
	return strings.Join(words, " ")
}

// windowsQuote quotes one argument for CommandLineToArgvW: wrapped in
// double quotes when it has a space, tab or quote (or is empty), with
// quotes escaped and the backslashes before them doubled.
func windowsQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(s[i])
	}
	b.WriteString(strings.Repeat(`\`, slashes)) // before the closing quote
	b.WriteByte('"')
	return b.String()
}
