// Package jsondiff lists the leaves that differ between two JSON
// documents, as JSON Pointers: the timeline's "what this event changed"
// and the replay preview's "what the candidate would change".
package jsondiff

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Change is one leaf that differs, as a JSON Pointer (RFC 6901) into the
// document, with its value before and after (null when absent).
type Change struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Diff lists the leaves that differ between two JSON documents. Objects
// are compared key by key and arrays index by index (the index stays in
// the path: /photos/3/count), so appending a procedure shows as the new
// element's path, not as a rewrite of the list. An empty before is an
// empty document.
func Diff(before, after json.RawMessage) ([]Change, error) {
	var a, b any
	if len(before) > 0 {
		if err := json.Unmarshal(before, &a); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(after, &b); err != nil {
		return nil, err
	}
	out := []Change{}
	diffValue("", a, b, &out)
	return out, nil
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func diffValue(path string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := slices.Sorted(maps.Keys(av))
			for k := range bv {
				if _, ok := av[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range slices.Compact(keys) {
				diffValue(path+"/"+pointerEscaper.Replace(k), av[k], bv[k], out)
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			for i := range max(len(av), len(bv)) {
				var x, y any
				if i < len(av) {
					x = av[i]
				}
				if i < len(bv) {
					y = bv[i]
				}
				diffValue(path+"/"+strconv.Itoa(i), x, y, out)
			}
			return
		}
	}
	if a == nil {
		// A new object or list: its leaves, one by one, so every change
		// has a scalar before and after.
		switch bv := b.(type) {
		case map[string]any:
			diffValue(path, map[string]any{}, bv, out)
			return
		case []any:
			diffValue(path, []any{}, bv, out)
			return
		}
	}
	if b == nil {
		switch av := a.(type) {
		case map[string]any:
			diffValue(path, av, map[string]any{}, out)
			return
		case []any:
			diffValue(path, av, []any{}, out)
			return
		}
	}
	if !equalScalar(a, b) {
		*out = append(*out, Change{Path: path, Before: a, After: b})
	}
}

// equalScalar compares decoded JSON leaves (nil, bool, float64, string);
// anything else (a type change between object and list) is unequal.
func equalScalar(a, b any) bool {
	switch a.(type) {
	case nil, bool, float64, string:
		return a == b
	}
	return false
}
