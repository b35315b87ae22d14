package rules

import (
	"reflect"
	"sync/atomic"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// fieldMap is an immutable CEL map with string keys: an event's attributes
// or a JSON object. A lookup, what every rule does, scans a short slice (or
// an index, for a large map) rather than hashing into a Go map built for
// each event. Iteration, equality and conversions, which rules seldom ask
// for, go to cel-go's own map of the same members, built on first use, so
// that they behave exactly as they did when that map was the only one.
type fieldMap struct {
	fields []field
	// index finds the fields of a map of more than indexAbove of them.
	index  map[string]int
	native atomic.Pointer[nativeMap]
}

type field struct {
	key string
	val ref.Val
}

// indexAbove is the number of fields up to which a linear scan is faster
// than a Go map.
const indexAbove = 16

// nativeMap is the part of cel-go's own maps that fieldMap hands on.
type nativeMap struct {
	traits.Mapper
	traits.Foldable
	types.AggregateSizeVisitor
	stringer interface{ String() string }
}

// newFieldMap takes fields whose keys may repeat: the last value of a key
// wins, as in encoding/json. It keeps and changes the slice.
func newFieldMap(fields []field) *fieldMap {
	m := &fieldMap{}
	m.init(fields)
	return m
}

// init is newFieldMap for a fieldMap held inside another value.
func (m *fieldMap) init(fields []field) {
	unique := fields[:0]
	if len(fields) > indexAbove {
		m.index = make(map[string]int, len(fields))
	}
	for _, f := range fields {
		if i := m.find(unique, f.key); i >= 0 {
			unique[i].val = f.val
			continue
		}
		if m.index != nil {
			m.index[f.key] = len(unique)
		}
		unique = append(unique, f)
	}
	m.fields = unique
}

// find returns the index of key in fields, or -1.
func (m *fieldMap) find(fields []field, key string) int {
	if m.index != nil {
		if i, ok := m.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range fields {
		if fields[i].key == key {
			return i
		}
	}
	return -1
}

func (m *fieldMap) lookup(key string) (ref.Val, bool) {
	if i := m.find(m.fields, key); i >= 0 {
		return m.fields[i].val, true
	}
	return nil, false
}

// Find implements traits.Mapper: as in cel-go's maps with string keys, a
// key of another type is never found.
func (m *fieldMap) Find(key ref.Val) (ref.Val, bool) {
	name, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return m.lookup(string(name))
}

// FindStringKey is the interpreter's way to a field without converting the
// name to a CEL value.
func (m *fieldMap) FindStringKey(key string) (any, bool) { return m.lookup(key) }

// FindInt64Key is the interpreter's way to m[1]: never found here.
func (m *fieldMap) FindInt64Key(int64) (any, bool) { return nil, false }

func (m *fieldMap) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

func (m *fieldMap) Get(key ref.Val) ref.Val {
	if v, found := m.Find(key); found {
		return v
	}
	return types.ValOrErr(nil, "no such key: %v", key)
}

func (m *fieldMap) Size() ref.Val     { return types.Int(len(m.fields)) }
func (m *fieldMap) IsZeroValue() bool { return len(m.fields) == 0 }
func (m *fieldMap) Type() ref.Type    { return types.MapType }

func (m *fieldMap) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, typeVal)
}

func (m *fieldMap) ConvertToNative(t reflect.Type) (any, error) {
	return m.nativeMap().ConvertToNative(t)
}
func (m *fieldMap) Equal(other ref.Val) ref.Val { return m.nativeMap().Equal(other) }
func (m *fieldMap) Value() any                  { return m.nativeMap().Value() }
func (m *fieldMap) Iterator() traits.Iterator   { return m.nativeMap().Iterator() }
func (m *fieldMap) Fold(f traits.Folder)        { m.nativeMap().Fold(f) }
func (m *fieldMap) String() string              { return m.nativeMap().stringer.String() }

func (m *fieldMap) AggregateSize(sizer types.AggregateSizer) uint32 {
	return m.nativeMap().AggregateSize(sizer)
}

// nativeMap builds cel-go's map of the same fields once. It is safe for
// concurrent use: two callers may build equal maps, one is kept.
func (m *fieldMap) nativeMap() *nativeMap {
	if n := m.native.Load(); n != nil {
		return n
	}
	members := make(map[string]ref.Val, len(m.fields))
	for _, f := range m.fields {
		members[f.key] = f.val
	}
	built := types.NewMap(types.DefaultTypeAdapter, members)
	n := &nativeMap{Mapper: built}
	// cel-go's maps implement all of these; the test of fieldMap checks it.
	n.Foldable, _ = built.(traits.Foldable)
	n.AggregateSizeVisitor, _ = built.(types.AggregateSizeVisitor)
	n.stringer, _ = built.(interface{ String() string })
	m.native.CompareAndSwap(nil, n)
	return m.native.Load()
}
