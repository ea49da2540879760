package jsondiff_test

import (
	"reflect"
	"testing"

	"github.com/rewind/rewind/internal/jsondiff"
)

func TestDiff(t *testing.T) {
	before := `{"status":"checked_in","photos":[{"kind":"before","count":3},{"kind":"after","count":4}],"a/b":1,"gone":true}`
	after := `{"status":"checked_in","photos":[{"kind":"before","count":30},{"kind":"after","count":4},{"kind":"after","count":1}],"a/b":2}`
	got, err := jsondiff.Diff([]byte(before), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	want := []jsondiff.Change{
		{Path: "/a~1b", Before: 1.0, After: 2.0},
		{Path: "/gone", Before: true, After: nil},
		{Path: "/photos/0/count", Before: 3.0, After: 30.0},
		{Path: "/photos/2/count", Before: nil, After: 1.0},
		{Path: "/photos/2/kind", Before: nil, After: "after"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got, _ := jsondiff.Diff([]byte(after), []byte(after)); len(got) != 0 {
		t.Fatalf("equal documents: %+v", got)
	}
	if _, err := jsondiff.Diff(nil, []byte(`{`)); err == nil {
		t.Fatal("malformed JSON: no error")
	}
}
