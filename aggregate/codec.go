package aggregate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// DecodeStrict decodes one JSON value from data into v and refuses unknown
// fields, wrong types and trailing data. Empty data decodes as {} so that
// commands without fields need no body. Every error is a [*Rejection] with
// code malformed, unknown_field or invalid_field.
//
// encoding/json matches field names case-insensitively; clients should not
// rely on that.
func DecodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonRejection(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Reject(CodeMalformed, "trailing data after the JSON value")
	}
	return nil
}

// DecodeLenient decodes JSON like [DecodeStrict] but ignores unknown
// fields: for events, which older code must be able to read.
func DecodeLenient(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return jsonRejection(data, err)
	}
	return nil
}

func jsonRejection(data []byte, err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return Reject(CodeInvalidField, "field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return Reject(CodeUnknownField, "unknown field %s", truncate(name))
	}
	if _, ok := errors.AsType[*json.SyntaxError](err); ok || errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return Reject(CodeMalformed, "invalid JSON: %s", strings.TrimPrefix(msg, "json: "))
	}
	// time.Time and other Unmarshalers report their own parse errors,
	// without the field: a time's is found by its value.
	if pe, ok := errors.AsType[*time.ParseError](err); ok {
		field := "(unknown)"
		if path, found := findString(data, pe.Value); found {
			field = path
		}
		return Reject(CodeInvalidField, "field %s: %s is not a time; expected RFC 3339, such as \"2026-03-02T10:00:00Z\" or with an offset, \"2026-03-02T11:00:00+01:00\"",
			field, truncate(strconv.Quote(pe.Value)))
	}
	return Reject(CodeInvalidField, "%s", strings.TrimPrefix(msg, "json: "))
}

// findString returns the dotted path of the first string value equal to
// s in the JSON document data.
func findString(data []byte, s string) (string, bool) {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return "", false
	}
	var walk func(v any, path string) (string, bool)
	walk = func(v any, path string) (string, bool) {
		switch v := v.(type) {
		case string:
			return path, v == s
		case map[string]any:
			for k, e := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if found, ok := walk(e, p); ok {
					return found, true
				}
			}
		case []any:
			for i, e := range v {
				if found, ok := walk(e, fmt.Sprintf("%s[%d]", path, i)); ok {
					return found, true
				}
			}
		}
		return "", false
	}
	return walk(doc, "")
}

// AppendJSONString quotes s as encoding/json does: plain printable ASCII
// (every id and enum) directly, anything else through encoding/json. It
// serves hand-written encoders of hot records, which must match
// encoding/json byte for byte.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
