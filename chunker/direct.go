package chunker

import "unsafe"

// Direct I/O. A fetch writes each leaf once and does not read it back
// soon, so where the system allows it the destination is also opened with
// O_DIRECT and aligned leaves are written through it, around the page
// cache: the cache is not filled with a download of gigabytes (evicting
// what the user was working with), and there are no dirty pages for the
// kernel to write back in a burst when Finish syncs. On virtual machines
// that hand free memory back to the host, such as the one the benchmarks
// ran on, filling the cache is also where the time went: each fresh page
// is faulted in from the host, and a 512 MiB download spent 1.5 s of CPU
// in the kernel doing so, against 0.2 s for direct writes.
//
// A leaf goes through the direct descriptor when its buffer, offset and
// length are multiples of DirectAlign (whole leaves of the default 1 MiB
// chunker, in a buffer from AlignedBuffer); anything else, and any direct
// write the file system refuses, goes through the ordinary descriptor.
// Both write the same file, and the kernel keeps them coherent.

// DirectAlign is the alignment direct writes need: the largest logical
// block size in common use.
const DirectAlign = 4096

// AlignedBuffer returns a zeroed buffer of n bytes that starts at a
// multiple of DirectAlign, so that a leaf received into it can be written
// with direct I/O.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+DirectAlign-1)
	k := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % DirectAlign); r != 0 {
		k = DirectAlign - r
	}
	return b[k : k+n : k+n]
}

// directOK reports whether data can be written at off through a direct
// descriptor.
func directOK(data []byte, off int64) bool {
	return len(data) > 0 && len(data)%DirectAlign == 0 && off%DirectAlign == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(data)))%DirectAlign == 0
}

// writeLeafAt writes data at off in file fi of the fetch: directly when it
// can (see above), else through the page cache with writeback started at
// once.
func (f *Fetch) writeLeafAt(fi int, data []byte, off int64) error {
	if h := f.s.hooks.writeLeaf; h != nil {
		if err := h(f.files[fi].Name(), off); err != nil {
			return err
		}
	}
	if d := f.direct[fi]; d != nil && directOK(data, off) {
		if _, err := d.WriteAt(data, off); err == nil {
			return nil
		}
		// Refused (EINVAL on some file systems) or failed part way:
		// the ordinary write below rewrites the whole leaf, and reports
		// a real I/O error.
	}
	fh := f.files[fi]
	if _, err := fh.WriteAt(data, off); err != nil {
		return err
	}
	startWriteback(fh, off, len(data))
	return nil
}
