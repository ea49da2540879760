// Package catalog generates the command and event catalogue from the
// Schedule definition's own registry, so that it cannot drift from the
// code: docs/commands.md for people, the command schemas of
// ingest/openapi.yaml, and docs/asyncapi.json, the topic contract in the
// AsyncAPI convention. cmd/catalog writes them (make catalog); a test
// fails when a file differs from what the code generates.
package catalog

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rewind/rewind/aggregate"
)

// Schema is the part of JSON Schema the catalogue uses. Properties keep
// the Go field order.
type Schema struct {
	Ref                  string   `json:"$ref,omitempty"`
	Type                 string   `json:"type,omitempty"`
	Description          string   `json:"description,omitempty"`
	Format               string   `json:"format,omitempty"`
	Pattern              string   `json:"pattern,omitempty"`
	Enum                 []string `json:"enum,omitempty"`
	Minimum              *int     `json:"minimum,omitempty"`
	Maximum              *int     `json:"maximum,omitempty"`
	MaxLength            *int     `json:"maxLength,omitempty"`
	MaxItems             *int     `json:"maxItems,omitempty"`
	Items                *Schema  `json:"items,omitempty"`
	Properties           Props    `json:"properties,omitempty"`
	Required             []string `json:"required,omitempty"`
	AdditionalProperties *bool    `json:"additionalProperties,omitempty"`
	OneOf                []Schema `json:"oneOf,omitempty"`
	// Personal marks personal data (the struct tag personal:"true"):
	// sealed before it is stored, destroyed on erasure (docs/privacy.md).
	Personal bool `json:"x-personal,omitempty"`
}

// Prop is one property of an object schema.
type Prop struct {
	Name   string
	Schema Schema
}

// Props are an object's properties, in order.
type Props []Prop

// MarshalJSON writes the properties as an object, in order.
func (ps Props) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Name)
		v, err := json.Marshal(p.Schema)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var timeType = reflect.TypeFor[time.Time]()

// SchemaOf is the schema of a data type, from its fields, their json
// names and the catalogue's struct tags (see aggregate.Describe).
// strict sets additionalProperties false: commands are decoded strictly,
// events leniently.
func SchemaOf(t reflect.Type, strict bool) Schema {
	s := Schema{Type: "object", Properties: Props{}}
	if strict {
		s.AdditionalProperties = new(bool)
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs := fieldSchema(f.Type, f.Tag)
		fs.Description = f.Tag.Get("doc")
		fs.Personal = f.Tag.Get(aggregate.PersonalTag) == "true"
		s.Properties = append(s.Properties, Prop{Name: name, Schema: fs})
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
	return s
}

func fieldSchema(t reflect.Type, tag reflect.StructTag) Schema {
	var s Schema
	switch {
	case t == timeType:
		s.Type, s.Format = "string", "date-time"
	case t.Kind() == reflect.String:
		s.Type = "string"
		if tag.Get("format") == "id" {
			s.Pattern = "^" + aggregate.IDPattern + "$"
		}
		if e := tag.Get("enum"); e != "" {
			s.Enum = strings.Split(e, ",")
		}
		s.MaxLength = intTag(tag, "maxLength")
	case t.Kind() == reflect.Bool:
		s.Type = "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s.Type = "integer"
		s.Minimum, s.Maximum = intTag(tag, "min"), intTag(tag, "max")
	case t.Kind() == reflect.Slice:
		item := fieldSchema(t.Elem(), tag)
		item.MaxItems = nil
		s.Type, s.Items, s.MaxItems = "array", &item, intTag(tag, "maxItems")
	case t.Kind() == reflect.Struct:
		return SchemaOf(t, false)
	case t.Kind() == reflect.Pointer:
		return fieldSchema(t.Elem(), tag)
	default:
		s.Type = "object"
	}
	return s
}

func intTag(tag reflect.StructTag, key string) *int {
	v, err := strconv.Atoi(tag.Get(key))
	if err != nil {
		return nil
	}
	return &v
}

// Sealed is the schema of an event's or a state's data: what a topic
// holds. A personal string there is the token it was sealed into, not
// the value sent, so it has no length bound and its own pattern.
func Sealed(s Schema) Schema {
	props := make(Props, len(s.Properties))
	for i, p := range s.Properties {
		if p.Schema.Personal && p.Schema.Type == "string" {
			p.Schema.MaxLength = nil
			p.Schema.Pattern = "^" + sealedPrefix
			p.Schema.Description = strings.TrimPrefix(p.Schema.Description+"; sealed before it is written ([privacy.md](privacy.md))", "; ")
		}
		if len(p.Schema.Properties) > 0 {
			p.Schema = Sealed(p.Schema)
		}
		props[i] = p
	}
	s.Properties = props
	return s
}

// sealedPrefix starts a sealed value (shred's token).
const sealedPrefix = "~pd1:"
