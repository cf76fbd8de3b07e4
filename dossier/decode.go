package dossier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FieldError is one problem with a request, naming the field (dotted, list
// items as name[i]) it was found in. It is, as is, an entry of the API's
// error response: {"errors":[{"field":…,"message":…}]}.
type FieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ErrMalformed is a body that is not JSON of the right shape (the API
// answers 400).
var ErrMalformed = errors.New("malformed JSON")

// DecodeStrict decodes one JSON object into v, refusing unknown fields and
// trailing data. A syntax error wraps ErrMalformed (400); a value of the
// wrong type or an unknown field is a FieldError (422).
func DecodeStrict(body []byte, v any) (*FieldError, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
		}
		return nil, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return nil, fmt.Errorf("%w: want a JSON object", ErrMalformed)
		}
		return &FieldError{Field: te.Field, Message: "must be " + jsonKind(te.Type.Kind().String())}, nil
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: strings.Trim(f, `"`), Message: "unknown field"}, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
}

func jsonKind(k string) string {
	switch k {
	case "int64", "int":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}
