package aggregate

import (
	"reflect"
	"strings"
	"sync"
)

// Personal data is marked where it is declared: a string field of a
// command, event or state type with the struct tag personal:"true" holds
// personal data of the stream's data subject (see Definition.SetSubject),
// in nested structs, pointers and slices too. Adding one is one tag.
//
// The kernel never reads those values: rules do not depend on a name or a
// note. Infrastructure seals them in the events a command records
// (SealPersonal), so events carry only sealed values, and a subject's
// data is destroyed by destroying the subject's keys; the processor keeps
// its states without them (DropPersonal). The catalogue lists every
// personal field.

// PersonalTag is the struct tag that marks a personal field.
const PersonalTag = "personal"

// personalPlan is what SealPersonal needs to know of a type: the fields
// to seal and the ones to look into, by index.
type personalPlan struct {
	seal  []personalField // string fields tagged personal
	inner []int           // struct, pointer or slice fields that hold some
}

type personalField struct {
	index int
	name  string // its JSON name
}

var plans sync.Map // reflect.Type → *personalPlan, nil for a type with none

// planFor returns t's plan, nil when t holds no personal field.
func planFor(t reflect.Type) *personalPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*personalPlan)
	}
	p := buildPlan(t, map[reflect.Type]bool{})
	plans.Store(t, p)
	return p
}

// buildPlan builds t's plan; path holds the types being built, so that a
// type that holds itself ends the recursion.
func buildPlan(t reflect.Type, path map[reflect.Type]bool) *personalPlan {
	if t.Kind() != reflect.Struct || path[t] {
		return nil
	}
	path[t] = true
	defer delete(path, t)
	p := &personalPlan{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Tag.Get(PersonalTag) == "true" && f.Type.Kind() == reflect.String {
			p.seal = append(p.seal, personalField{index: i, name: jsonName(f)})
			continue
		}
		if buildPlan(elem(f.Type), path) != nil {
			p.inner = append(p.inner, i)
		}
	}
	if len(p.seal) == 0 && len(p.inner) == 0 {
		return nil
	}
	return p
}

// elem is the struct type a field holds directly, through a pointer or
// as the elements of a slice or a List.
func elem(t reflect.Type) reflect.Type {
	for {
		switch {
		case t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice:
			t = t.Elem()
		case t.Implements(elemsType):
			t = reflect.Zero(t).Interface().(personalElems).elemType()
		default:
			return t
		}
	}
}

// personalElems is what a List implements so that personal values in its
// elements are found, sealed and dropped as a slice's are: its elements
// are unexported.
type personalElems interface {
	elemType() reflect.Type
	holdsPersonal() bool
	sealElems(seal func(field, value string) string) (any, bool)
}

var elemsType = reflect.TypeFor[personalElems]()

func (l List[T]) elemType() reflect.Type { return reflect.TypeFor[T]() }

func (l List[T]) holdsPersonal() bool {
	for _, x := range l.All() {
		if holdsPersonal(reflect.ValueOf(&x).Elem()) {
			return true
		}
	}
	return false
}

// sealElems returns a list of sealed copies of l's elements, or l itself
// when none holds a personal value.
func (l List[T]) sealElems(seal func(field, value string) string) (any, bool) {
	xs := l.Slice()
	sealed := false
	for i := range xs {
		if sealInner(reflect.ValueOf(&xs[i]).Elem(), seal) {
			sealed = true
		}
	}
	if !sealed {
		return l, false
	}
	return listOwning(xs), true
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return f.Name
	}
	return name
}

// HasPersonal reports whether values of t can hold personal data.
func HasPersonal(t reflect.Type) bool { return planFor(t) != nil }

// PersonalFields lists the JSON paths of t's personal fields, such as
// "visitor.name"; a slice's elements add "[]" ("consultations[].notes").
func PersonalFields(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		p := planFor(t)
		if p == nil {
			return
		}
		for _, f := range p.seal {
			out = append(out, prefix+f.name)
		}
		for _, i := range p.inner {
			f := t.Field(i)
			name := jsonName(f)
			if f.Type.Kind() == reflect.Slice || f.Type.Implements(elemsType) {
				name += "[]"
			}
			walk(elem(f.Type), prefix+name+".")
		}
	}
	walk(t, "")
	return out
}

// SealPersonal returns a copy of v with every non-empty personal string
// replaced by seal(its JSON name, its value), and whether it replaced
// any. v itself is not changed, nor anything it points to. A value with
// no personal string is returned as it is, without a copy: most events of
// a type that may carry personal data carry none.
func SealPersonal(v any, seal func(field, value string) string) (any, bool) {
	if !HoldsPersonal(v) {
		return v, false
	}
	t := reflect.TypeOf(v)
	out := reflect.New(t).Elem()
	out.Set(reflect.ValueOf(v))
	sealed := sealValue(out, seal)
	return out.Interface(), sealed
}

// DropPersonal returns v without its personal values: a copy with every
// personal string emptied, and whether there was any. It reads v first,
// so a value with none costs no copy. The processor keeps states this
// way: its rules never read a personal value, so it keeps none.
func DropPersonal(v any) (any, bool) {
	return SealPersonal(v, func(string, string) string { return "" })
}

// HoldsPersonal reports whether v has a non-empty personal string: a
// cheap test, without a copy, before folding what DropPersonal would
// have to undo.
func HoldsPersonal(v any) bool {
	t := reflect.TypeOf(v)
	return t != nil && planFor(t) != nil && holdsPersonal(reflect.ValueOf(v))
}

// holdsPersonal reports whether v has a non-empty personal string.
func holdsPersonal(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return !v.IsNil() && holdsPersonal(v.Elem())
	case reflect.Slice:
		for i := range v.Len() {
			if holdsPersonal(v.Index(i)) {
				return true
			}
		}
		return false
	case reflect.Struct:
		if v.Type().Implements(elemsType) {
			return v.Interface().(personalElems).holdsPersonal()
		}
	default:
		return false
	}
	p := planFor(v.Type())
	if p == nil {
		return false
	}
	for _, f := range p.seal {
		if v.Field(f.index).Len() > 0 {
			return true
		}
	}
	for _, i := range p.inner {
		if holdsPersonal(v.Field(i)) {
			return true
		}
	}
	return false
}

// sealValue seals the personal fields of the settable struct v, copying
// what it points to before changing it.
func sealValue(v reflect.Value, seal func(field, value string) string) bool {
	p := planFor(v.Type())
	if p == nil {
		return false
	}
	sealed := false
	for _, f := range p.seal {
		if s := v.Field(f.index); s.Len() > 0 {
			s.SetString(seal(f.name, s.String()))
			sealed = true
		}
	}
	for _, i := range p.inner {
		if sealInner(v.Field(i), seal) {
			sealed = true
		}
	}
	return sealed
}

func sealInner(v reflect.Value, seal func(field, value string) string) bool {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type().Implements(elemsType) {
			out, sealed := v.Interface().(personalElems).sealElems(seal)
			if sealed {
				v.Set(reflect.ValueOf(out))
			}
			return sealed
		}
		return sealValue(v, seal)
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		v.Set(c)
		return sealInner(c.Elem(), seal)
	case reflect.Slice:
		if v.Len() == 0 {
			return false
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		sealed := false
		for i := range c.Len() {
			if sealInner(c.Index(i), seal) {
				sealed = true
			}
		}
		return sealed
	}
	return false
}

// SetSubject names whose personal data a command on a stream carries:
// subject returns the data subject's id (a visitor's, say) from the
// stream's state and the command, "" when there is none. Infrastructure
// keeps a subject's keys by it, and erases by it. It must be pure.
func (d *Definition[S]) SetSubject(subject func(s S, c Command) string) { d.subject = subject }

// Subject is the data subject of command c on state s, "" without one or
// when the definition sets none.
func (d *Definition[S]) Subject(s S, c Command) string {
	if d.subject == nil {
		return ""
	}
	return d.subject(s, c)
}

// Personal reports whether the command type name can carry personal data.
func (d *Definition[S]) Personal(name string) bool {
	c, ok := d.commands[name]
	return ok && HasPersonal(c.typ)
}
