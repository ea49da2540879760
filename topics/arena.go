package topics

// arena packs the small byte values of one record (its key, header
// values, a result's JSON) into one allocation: building a record used to
// cost a dozen, and they were a sixth of the processor's garbage. Each
// value is capped at its length, so an append to one cannot overwrite the
// next; if the arena grows, the values taken before keep the old array,
// which stays valid.
type arena []byte

func newArena(size int) arena { return make(arena, 0, size) }

// add appends s and returns it as its own slice.
func (a *arena) add(s string) []byte {
	start := len(*a)
	*a = append(*a, s...)
	return (*a)[start:len(*a):len(*a)]
}

// addWith appends what f appends and returns it as its own slice.
func (a *arena) addWith(f func([]byte) []byte) []byte {
	start := len(*a)
	*a = f(*a)
	return (*a)[start:len(*a):len(*a)]
}

// Header values that never change are shared by every record: franz-go
// only reads them.
var (
	specVersionValue = []byte(SpecVersion)
	jsonValue        = []byte(ContentTypeJSON)
	sourceValue      = []byte(ResultSource) // events and results alike
	resultTypeValues = map[string][]byte{}
)

func init() {
	for status, typ := range resultTypes {
		resultTypeValues[status] = []byte(typ)
	}
}
