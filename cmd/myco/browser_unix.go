//go:build unix && !darwin

package main

import "os/exec"

// openBrowser opens url in the desktop's default browser.
func openBrowser(url string) error { return exec.Command("xdg-open", url).Start() }
