//go:build !windows

package chunker

import "os"

// syncDir makes the entries of directory dir (new files, a rename)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
