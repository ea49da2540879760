package aggregate

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// commandJSON decodes with encoding/json's (v1) semantics: names match
// case-insensitively, a duplicate name's last value wins, invalid UTF-8
// becomes U+FFFD. Unlike v1 it refuses unknown members, reports errors
// with the JSON pointer of the value at fault, and needs no
// json.Decoder per command: v1's Decoder was 9% of the bytes the
// processor allocated and a third of a command's decode time.
var (
	commandJSON = json.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv1.ReportErrorsWithLegacySemantics(false), json.RejectUnknownMembers(true))
	eventJSON   = json.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv1.ReportErrorsWithLegacySemantics(false))
)

// DecodeStrict decodes one JSON value from data into v and refuses unknown
// fields, wrong types and trailing data. Empty data decodes as {} so that
// commands without fields need no body. Every error is a [*Rejection] with
// code malformed, unknown_field or invalid_field.
//
// Field names match case-insensitively, as encoding/json's do; clients
// should not rely on that.
func DecodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, v, commandJSON); err != nil {
		return jsonRejection(err)
	}
	return nil
}

// DecodeLenient decodes JSON like [DecodeStrict] but ignores unknown
// fields: for events, which older code must be able to read.
func DecodeLenient(data []byte, v any) error {
	if err := json.Unmarshal(data, v, eventJSON); err != nil {
		return jsonRejection(err)
	}
	return nil
}

func jsonRejection(err error) error {
	se, ok := errors.AsType[*json.SemanticError](err)
	if !ok {
		// A syntactic error, or input that ends inside a value.
		msg := strings.TrimPrefix(err.Error(), "jsontext: ")
		return Reject(CodeMalformed, "invalid JSON: %s", msg)
	}
	field := fieldPath(se.JSONPointer)
	switch {
	case errors.Is(err, json.ErrUnknownName):
		return Reject(CodeUnknownField, "unknown field %s", truncate(strconv.Quote(field)))
	case se.Err == nil && se.GoType != nil:
		return Reject(CodeInvalidField, "field %s: expected %s, got JSON %s", field, se.GoType, kindName(se.JSONKind))
	}
	if pe, ok := errors.AsType[*time.ParseError](err); ok {
		return Reject(CodeInvalidField, "field %s: %s is not a time; expected RFC 3339, such as \"2026-03-02T10:00:00Z\" or with an offset, \"2026-03-02T11:00:00+01:00\"",
			field, truncate(strconv.Quote(pe.Value)))
	}
	// An UnmarshalJSON method's own error, such as a list's elements
	// decoded by encoding/json.
	if te, ok := errors.AsType[*jsonv1.UnmarshalTypeError](err); ok {
		return Reject(CodeInvalidField, "field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	}
	if se.Err != nil {
		return Reject(CodeInvalidField, "field %s: %s", field, strings.TrimPrefix(se.Err.Error(), "json: "))
	}
	return Reject(CodeInvalidField, "field %s: %s", field, strings.TrimPrefix(se.Error(), "json: "))
}

// kindName names a JSON kind as encoding/json's errors do.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return k.String()
}

// fieldPath names the value a JSON pointer points at the way the
// rejections always have: slot.start, procedures[0], or (root).
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return truncate(b.String())
}

// AppendJSONString quotes s as encoding/json does: plain printable ASCII
// (every id and enum) directly, anything else through encoding/json. It
// serves hand-written encoders of hot records, which must match
// encoding/json byte for byte.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := stdjson.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
