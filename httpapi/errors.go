package httpapi

import (
	"congthu/dossier"
	"encoding/json"
	"net/http"
)

// fieldError is one entry of an error response; the model's validation
// problems are answered as they are.
type fieldError = dossier.FieldError

// errorBody is every error response: {"errors":[{"field":…,"message":…}]}.
type errorBody struct {
	Errors []fieldError `json:"errors"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error"}]}`)
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

func writeErrors(w http.ResponseWriter, code int, errs ...fieldError) {
	if len(errs) == 0 {
		errs = []fieldError{{Message: http.StatusText(code)}}
	}
	writeJSON(w, code, errorBody{Errors: errs})
}
