package car

import (
	"fmt"

	"github.com/ipfs/go-cid"
)

// maxCBORDepth bounds nesting in a header: roots are two levels deep.
const maxCBORDepth = 16

// cborTagCID is the DAG-CBOR tag of a CID link.
const cborTagCID = 42

// cborLink is a decoded tag-42 item.
type cborLink struct{ c cid.Cid }

// decodeHeader decodes a CAR header: a DAG-CBOR map with "version" (an
// unsigned integer) and, unless this is the CARv2 pragma, "roots" (an
// array of CIDs). Other keys are ignored.
func decodeHeader(b []byte) ([]cid.Cid, uint64, error) {
	d := &cborDecoder{b: b}
	v, err := d.item(0)
	if err != nil {
		return nil, 0, err
	}
	if len(d.b) != 0 {
		return nil, 0, fmt.Errorf("%w: %d bytes after the header", ErrMalformed, len(d.b))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, 0, fmt.Errorf("%w: header is not a map", ErrMalformed)
	}
	version, ok := m["version"].(uint64)
	if !ok {
		return nil, 0, fmt.Errorf("%w: header has no version", ErrMalformed)
	}
	rv, has := m["roots"]
	if !has {
		return nil, version, nil
	}
	arr, ok := rv.([]any)
	if !ok {
		return nil, 0, fmt.Errorf("%w: roots is not an array", ErrMalformed)
	}
	if len(arr) > maxRoots {
		return nil, 0, fmt.Errorf("%w: %d roots (at most %d)", ErrMalformed, len(arr), maxRoots)
	}
	roots := make([]cid.Cid, 0, len(arr))
	for _, r := range arr {
		l, ok := r.(cborLink)
		if !ok {
			return nil, 0, fmt.Errorf("%w: a root is not a CID", ErrMalformed)
		}
		roots = append(roots, l.c)
	}
	if len(roots) == 0 && version == 1 {
		return nil, 0, fmt.Errorf("%w: no roots", ErrMalformed)
	}
	return roots, version, nil
}

type cborDecoder struct{ b []byte }

// head reads an item head: major type and argument. Indefinite lengths
// are refused (DAG-CBOR forbids them).
func (d *cborDecoder) head() (byte, uint64, error) {
	if len(d.b) == 0 {
		return 0, 0, fmt.Errorf("%w: header ends inside an item", ErrMalformed)
	}
	ib := d.b[0]
	d.b = d.b[1:]
	major, info := ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, 0, fmt.Errorf("%w: CBOR additional info %d", ErrMalformed, info)
	}
	if len(d.b) < n {
		return 0, 0, fmt.Errorf("%w: header ends inside an item", ErrMalformed)
	}
	var v uint64
	for _, c := range d.b[:n] {
		v = v<<8 | uint64(c)
	}
	d.b = d.b[n:]
	return major, v, nil
}

// item decodes one CBOR item into uint64, int64 (negative), []byte,
// string, []any, map[string]any, cborLink, or nil (simple values and
// floats, which a header has no use for).
func (d *cborDecoder) item(depth int) (any, error) {
	if depth > maxCBORDepth {
		return nil, fmt.Errorf("%w: header nested too deep", ErrMalformed)
	}
	major, v, err := d.head()
	if err != nil {
		return nil, err
	}
	switch major {
	case 0:
		return v, nil
	case 1:
		return -1 - int64(v&(1<<63-1)), nil
	case 2, 3:
		if v > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: string longer than the header", ErrMalformed)
		}
		s := d.b[:v]
		d.b = d.b[v:]
		if major == 3 {
			return string(s), nil
		}
		return s, nil
	case 4:
		if v > uint64(len(d.b)) { // every item takes at least a byte
			return nil, fmt.Errorf("%w: array longer than the header", ErrMalformed)
		}
		arr := make([]any, 0, v)
		for range v {
			x, err := d.item(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, x)
		}
		return arr, nil
	case 5:
		if v > uint64(len(d.b))/2 {
			return nil, fmt.Errorf("%w: map longer than the header", ErrMalformed)
		}
		m := make(map[string]any, v)
		for range v {
			k, err := d.item(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%w: map key is not a string", ErrMalformed)
			}
			if _, dup := m[ks]; dup {
				return nil, fmt.Errorf("%w: map key %q twice", ErrMalformed, ks)
			}
			x, err := d.item(depth + 1)
			if err != nil {
				return nil, err
			}
			m[ks] = x
		}
		return m, nil
	case 6:
		x, err := d.item(depth + 1)
		if err != nil {
			return nil, err
		}
		if v != cborTagCID {
			return x, nil
		}
		b, ok := x.([]byte)
		if !ok || len(b) < 2 || b[0] != 0 {
			return nil, fmt.Errorf("%w: tag 42 is not a CID", ErrMalformed)
		}
		c, err := cid.Cast(b[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: root CID: %v", ErrMalformed, err)
		}
		return cborLink{c}, nil
	}
	// Major type 7: false, true, null, undefined, floats (argument
	// already consumed by head).
	return nil, nil
}
