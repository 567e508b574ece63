package chunker

import (
	"bufio"
	"io"
)

// ioBufSize is the buffer for sequential file I/O: large enough that a
// 1 MiB leaf is one system call, small enough to keep memory flat.
const ioBufSize = 1 << 20

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, ioBufSize) }
