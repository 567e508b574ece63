package node

import (
	"net/http"
)

// CARContentType is the media type of a CAR file.
const CARContentType = "application/vnd.ipld.car"

// maxCARUpload bounds a CAR sent to /api/v0/import.
const maxCARUpload = 1 << 40

// exportCAR answers GET /api/v0/export?cid=C with a CARv1 stream (errors
// after the first byte in the X-Myco-Error trailer, as for cat).
func (s *APIServer) exportCAR(w http.ResponseWriter, r *http.Request) {
	s.stream(w, r, "/api/v0/export", "export", CARContentType, s.node.ExportCAR)
}

// importCAR answers POST /api/v0/import, whose request body is a CAR.
func (s *APIServer) importCAR(w http.ResponseWriter, r *http.Request) {
	const path = "/api/v0/import"
	body := http.MaxBytesReader(w, r.Body, maxCARUpload)
	res, err := s.node.ImportCAR(r.Context(), body)
	if err != nil {
		s.fail(w, path, err)
		return
	}
	s.requests.WithLabelValues(path, "200").Inc()
	writeJSON(w, http.StatusOK, res)
}
