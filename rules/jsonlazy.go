package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync/atomic"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// jsonDoc is one decoded JSON text: the text and its tape (jsondecode.go).
type jsonDoc struct {
	text []byte
	tape []jsonNode
}

// value is the CEL value of node i. An object or an array is a lazy value
// that builds its CEL map or list on first use; a rule reading
// data.flags.updated builds three small maps and leaves the rest untouched.
func (doc *jsonDoc) value(i uint32) ref.Val {
	n := &doc.tape[i]
	switch n.kind {
	case nodeNull:
		return types.NullValue
	case nodeFalse:
		return types.False
	case nodeTrue:
		return types.True
	case nodeNumber:
		return exactInteger(json.Number(doc.text[n.start:n.end]))
	case nodeObject:
		return &lazyObject{doc: doc, at: i}
	case nodeArray:
		return &lazyArray{doc: doc, at: i}
	}
	return types.String(doc.str(n))
}

func (doc *jsonDoc) str(n *jsonNode) string {
	if n.kind == nodeEscapedString {
		return unquote(doc.text[n.start:n.end])
	}
	return string(doc.text[n.start:n.end])
}

// object builds the CEL map of the object at node i.
func (doc *jsonDoc) object(i uint32) *fieldMap {
	n := &doc.tape[i]
	fields := make([]field, 0, n.end)
	for at := i + 1; at < n.next; {
		key := doc.str(&doc.tape[at])
		at++
		fields = append(fields, field{key: key, val: doc.value(at)})
		at = doc.tape[at].next
	}
	return newFieldMap(fields)
}

// array builds the CEL list of the array at node i.
func (doc *jsonDoc) array(i uint32) celList {
	n := &doc.tape[i]
	elems := make([]ref.Val, 0, n.end)
	for at := i + 1; at < n.next; at = doc.tape[at].next {
		elems = append(elems, doc.value(at))
	}
	return types.NewRefValList(types.DefaultTypeAdapter, elems).(celList)
}

// celMap is what cel-go's own maps offer and its interpreter looks for: a
// lazy object offers all of it, so that it behaves as the map it stands
// for.
type celMap interface {
	traits.Mapper
	traits.Foldable
	traits.Zeroer
	types.AggregateSizeVisitor
	fmt.Stringer
	FindStringKey(string) (any, bool)
	FindInt64Key(int64) (any, bool)
}

// celList is celMap's counterpart for lists.
type celList interface {
	traits.Lister
	traits.Foldable
	traits.Zeroer
	types.AggregateSizeVisitor
	fmt.Stringer
	GetInt64Index(int64) (any, bool)
}

// lazyObject is a JSON object whose CEL map is built on first use. It is
// safe for concurrent use: two callers may build equal maps, one is kept.
type lazyObject struct {
	doc   *jsonDoc
	at    uint32
	built atomic.Pointer[fieldMap]
}

var (
	_ celMap = (*lazyObject)(nil)
	_ celMap = (*fieldMap)(nil)
)

func (o *lazyObject) m() *fieldMap {
	if m := o.built.Load(); m != nil {
		return m
	}
	o.built.CompareAndSwap(nil, o.doc.object(o.at))
	return o.built.Load()
}

func (o *lazyObject) ConvertToNative(t reflect.Type) (any, error) { return o.m().ConvertToNative(t) }
func (o *lazyObject) ConvertToType(t ref.Type) ref.Val            { return o.m().ConvertToType(t) }
func (o *lazyObject) Equal(other ref.Val) ref.Val                 { return o.m().Equal(other) }
func (o *lazyObject) Type() ref.Type                              { return types.MapType }
func (o *lazyObject) Value() any                                  { return o.m().Value() }
func (o *lazyObject) Contains(key ref.Val) ref.Val                { return o.m().Contains(key) }
func (o *lazyObject) Get(key ref.Val) ref.Val                     { return o.m().Get(key) }
func (o *lazyObject) Iterator() traits.Iterator                   { return o.m().Iterator() }
func (o *lazyObject) Size() ref.Val                               { return o.m().Size() }
func (o *lazyObject) Find(key ref.Val) (ref.Val, bool)            { return o.m().Find(key) }
func (o *lazyObject) Fold(f traits.Folder)                        { o.m().Fold(f) }
func (o *lazyObject) IsZeroValue() bool                           { return o.doc.tape[o.at].end == 0 }
func (o *lazyObject) String() string                              { return o.m().String() }
func (o *lazyObject) FindStringKey(key string) (any, bool)        { return o.m().FindStringKey(key) }
func (o *lazyObject) FindInt64Key(key int64) (any, bool)          { return o.m().FindInt64Key(key) }

func (o *lazyObject) AggregateSize(sizer types.AggregateSizer) uint32 {
	return o.m().AggregateSize(sizer)
}

// lazyArray is a JSON array whose CEL list is built on first use.
type lazyArray struct {
	doc   *jsonDoc
	at    uint32
	built atomic.Pointer[builtList]
}

type builtList struct{ celList }

var _ celList = (*lazyArray)(nil)

func (a *lazyArray) l() celList {
	if b := a.built.Load(); b != nil {
		return b.celList
	}
	a.built.CompareAndSwap(nil, &builtList{a.doc.array(a.at)})
	return a.built.Load().celList
}

func (a *lazyArray) ConvertToNative(t reflect.Type) (any, error) { return a.l().ConvertToNative(t) }
func (a *lazyArray) ConvertToType(t ref.Type) ref.Val            { return a.l().ConvertToType(t) }
func (a *lazyArray) Equal(other ref.Val) ref.Val                 { return a.l().Equal(other) }
func (a *lazyArray) Type() ref.Type                              { return types.ListType }
func (a *lazyArray) Value() any                                  { return a.l().Value() }
func (a *lazyArray) Add(other ref.Val) ref.Val                   { return a.l().Add(other) }
func (a *lazyArray) Contains(elem ref.Val) ref.Val               { return a.l().Contains(elem) }
func (a *lazyArray) Get(index ref.Val) ref.Val                   { return a.l().Get(index) }
func (a *lazyArray) Iterator() traits.Iterator                   { return a.l().Iterator() }
func (a *lazyArray) Size() ref.Val                               { return types.Int(a.doc.tape[a.at].end) }
func (a *lazyArray) Fold(f traits.Folder)                        { a.l().Fold(f) }
func (a *lazyArray) IsZeroValue() bool                           { return a.doc.tape[a.at].end == 0 }
func (a *lazyArray) String() string                              { return a.l().String() }
func (a *lazyArray) GetInt64Index(index int64) (any, bool)       { return a.l().GetInt64Index(index) }

func (a *lazyArray) AggregateSize(sizer types.AggregateSizer) uint32 {
	return a.l().AggregateSize(sizer)
}
