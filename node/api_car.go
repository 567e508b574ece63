package node

import (
	"net/http"
)

// CARContentType is the media type of a CAR file.
const CARContentType = "application/vnd.ipld.car"

// maxCARUpload bounds a CAR sent to /api/v0/import.
const maxCARUpload = 1 << 40

// registerCAR adds the CAR endpoints: GET /api/v0/export?cid=C streams a
// CARv1 (errors after the first byte in the X-Myco-Error trailer, as for
// cat); POST /api/v0/import takes a CAR as the request body.
func (s *APIServer) registerCAR(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v0/export", func(w http.ResponseWriter, r *http.Request) {
		s.stream(w, r, "/api/v0/export", "export", CARContentType, s.node.ExportCAR)
	})
	const importPath = "/api/v0/import"
	mux.HandleFunc("POST "+importPath, func(w http.ResponseWriter, r *http.Request) {
		body := http.MaxBytesReader(w, r.Body, maxCARUpload)
		res, err := s.node.ImportCAR(r.Context(), body)
		if err != nil {
			s.fail(w, importPath, err)
			return
		}
		s.requests.WithLabelValues(importPath, "200").Inc()
		writeJSON(w, http.StatusOK, res)
	})
}
