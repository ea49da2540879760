package aggregate_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/rewind/rewind/aggregate"
)

type contact struct {
	Name  string `json:"name,omitempty" personal:"true"`
	Phone string `json:"phone,omitempty" personal:"true"`
	Kind  string `json:"kind"`
}

type visitRecord struct {
	ID       string                  `json:"id"`
	Contact  *contact                `json:"contact,omitempty"`
	Others   []contact               `json:"others,omitempty"`
	Notes    string                  `json:"notes" personal:"true"`
	Visits   aggregate.List[contact] `json:"visits,omitzero"`
	Count    int                     `json:"count" personal:"true"` // not a string: never sealed
	internal string
}

func TestSealPersonal(t *testing.T) {
	in := visitRecord{ID: "v-1", Contact: &contact{Name: "Kim", Kind: "self"},
		Others: []contact{{Phone: "010"}, {}}, Notes: "notes", Count: 3, internal: "x"}
	var sealed []string
	out, ok := aggregate.SealPersonal(in, func(field, value string) string {
		sealed = append(sealed, field+"="+value)
		return "<" + field + ">"
	})
	got := out.(visitRecord)
	if !ok || !slices.Equal(sealed, []string{"notes=notes", "name=Kim", "phone=010"}) {
		t.Fatalf("sealed %v (%v)", sealed, ok)
	}
	if got.Notes != "<notes>" || got.Contact.Name != "<name>" || got.Contact.Phone != "" || got.Others[0].Phone != "<phone>" ||
		got.ID != "v-1" || got.Contact.Kind != "self" || got.Count != 3 || got.internal != "x" {
		t.Fatalf("sealed value %+v %+v %+v", got, *got.Contact, got.Others)
	}
	// The input, and what it points to, are unchanged: events are values.
	if in.Notes != "notes" || in.Contact.Name != "Kim" || in.Others[0].Phone != "010" {
		t.Fatalf("the input changed: %+v %+v %+v", in, *in.Contact, in.Others)
	}
	if _, ok := aggregate.SealPersonal(contact{Kind: "x"}, func(string, string) string { return "" }); ok {
		t.Fatal("sealed a value with no personal data")
	}
	if _, ok := aggregate.SealPersonal(struct{ A string }{"a"}, nil); ok {
		t.Fatal("sealed a type without personal fields")
	}
	// A value of a personal type that holds no personal string comes
	// back as it is: the processor seals every event it writes.
	var none any = visitRecord{ID: "v-2", Contact: &contact{Kind: "self"}, Count: 3}
	if n := testing.AllocsPerRun(100, func() { _, _ = aggregate.SealPersonal(none, nil) }); n != 0 {
		t.Fatalf("a value with no personal data cost %.0f allocations", n)
	}
	want := []string{"contact.name", "contact.phone", "others[].name", "others[].phone", "notes", "visits[].name", "visits[].phone"}
	if got := aggregate.PersonalFields(reflect.TypeFor[visitRecord]()); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("personal fields %v, want %v", got, want)
	}
}

func TestDropPersonal(t *testing.T) {
	in := visitRecord{ID: "v-1", Contact: &contact{Name: "Kim", Kind: "self"}, Others: []contact{{}, {Phone: "010"}}, Count: 3}
	out, ok := aggregate.DropPersonal(in)
	got := out.(visitRecord)
	if !ok || got.Contact.Name != "" || got.Others[1].Phone != "" || got.ID != "v-1" || got.Contact.Kind != "self" || got.Count != 3 {
		t.Fatalf("dropped %+v %+v %+v (%v)", got, *got.Contact, got.Others, ok)
	}
	if in.Contact.Name != "Kim" || in.Others[1].Phone != "010" {
		t.Fatalf("the input changed: %+v %+v", *in.Contact, in.Others)
	}
	// A List's elements, as a slice's.
	listed := visitRecord{Visits: aggregate.ListOf(contact{Kind: "a"}, contact{Name: "Lee", Kind: "b"})}
	out, ok = aggregate.DropPersonal(listed)
	if v := out.(visitRecord).Visits; !ok || v.Len() != 2 || v.At(1).Name != "" || v.At(1).Kind != "b" || listed.Visits.At(1).Name != "Lee" {
		t.Fatalf("dropped from a list: %+v (%v), the input %+v", v.Slice(), ok, listed.Visits.Slice())
	}
	if !aggregate.HoldsPersonal(in) || !aggregate.HoldsPersonal(listed) || aggregate.HoldsPersonal(out) {
		t.Fatal("HoldsPersonal disagrees with DropPersonal")
	}
	// Nothing personal held: the same value comes back, not a copy.
	none := visitRecord{ID: "v-2", Contact: &contact{Kind: "self"}, Others: []contact{{}}}
	if out, ok := aggregate.DropPersonal(none); ok || out.(visitRecord).Contact != none.Contact {
		t.Fatalf("dropped from a value with no personal data: %v", ok)
	}
}
