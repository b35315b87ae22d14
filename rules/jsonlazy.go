package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// jsonDoc is one decoded JSON text: the text and its tape (jsondecode.go).
type jsonDoc struct {
	text []byte
	tape []jsonNode
	// object is the root when it is an object, as event data mostly is, in
	// the document's own allocation.
	object lazyObject
}

// root is the CEL value of the whole text.
func (doc *jsonDoc) root() ref.Val {
	if doc.tape[0].kind == nodeObject {
		doc.object.doc, doc.object.at = doc, 0
		return &doc.object
	}
	var b members
	b.init(doc, 0, doc.tape[0].next)
	return b.value(0)
}

// objectFields builds the fields of the object at node i. Objects and
// arrays among them are lazy values that build theirs on first use: a rule
// reading data.flags.updated builds three small maps and leaves the rest.
func (doc *jsonDoc) objectFields(i uint32) []field {
	n := &doc.tape[i]
	var b members
	b.init(doc, i+1, n.next)
	fields := make([]field, 0, n.end)
	for at := i + 1; at < n.next; {
		key := b.str(&doc.tape[at])
		at++
		fields = append(fields, field{key: key, val: b.value(at)})
		at = doc.tape[at].next
	}
	return fields
}

// array builds the CEL list of the array at node i.
func (doc *jsonDoc) array(i uint32) celList {
	n := &doc.tape[i]
	var b members
	b.init(doc, i+1, n.next)
	elems := make([]ref.Val, 0, n.end)
	for at := i + 1; at < n.next; at = doc.tape[at].next {
		elems = append(elems, b.value(at))
	}
	return types.NewRefValList(types.DefaultTypeAdapter, elems).(celList)
}

// members builds the CEL values of the nodes from first to next (the
// members of one object or array, or the root) with one allocation for
// all their strings and numbers and one for each kind of lazy value.
type members struct {
	doc     *jsonDoc
	text    strings.Builder
	objects []lazyObject
	arrays  []lazyArray
}

func (b *members) init(doc *jsonDoc, first, next uint32) {
	var textBytes, objects, arrays int
	for at := first; at < next; at = doc.tape[at].next {
		switch n := &doc.tape[at]; n.kind {
		case nodeObject:
			objects++
		case nodeArray:
			arrays++
		case nodeNumber, nodeString, nodeEscapedString:
			textBytes += int(n.end - n.start)
		}
	}
	b.doc = doc
	// Decoding can make an escaped string longer; the builder then grows.
	b.text.Grow(textBytes)
	if objects > 0 {
		b.objects = make([]lazyObject, objects)
	}
	if arrays > 0 {
		b.arrays = make([]lazyArray, arrays)
	}
}

// value is the CEL value of node i.
func (b *members) value(i uint32) ref.Val {
	switch n := &b.doc.tape[i]; n.kind {
	case nodeNull:
		return types.NullValue
	case nodeFalse:
		return types.False
	case nodeTrue:
		return types.True
	case nodeNumber:
		return exactInteger(json.Number(b.str(n)))
	case nodeObject:
		o := &b.objects[0]
		b.objects = b.objects[1:]
		o.doc, o.at = b.doc, i
		return o
	case nodeArray:
		a := &b.arrays[0]
		b.arrays = b.arrays[1:]
		a.doc, a.at = b.doc, i
		return a
	default:
		return types.String(b.str(n))
	}
}

// str is the text of a number or a string node, decoded.
func (b *members) str(n *jsonNode) string {
	start := b.text.Len()
	if n.kind == nodeEscapedString {
		unquote(&b.text, b.doc.text[n.start:n.end])
	} else {
		b.text.Write(b.doc.text[n.start:n.end])
	}
	// The builder never changes bytes it holds, so a string of them stays
	// as it is whatever is written after.
	return b.text.String()[start:]
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

// lazyObject is a JSON object whose CEL map is built on first use, in
// place. It is safe for concurrent use: while one caller builds the map,
// another builds its own equal one.
type lazyObject struct {
	doc   *jsonDoc
	at    uint32
	state atomic.Uint32
	built fieldMap
}

// The states of a lazyObject.
const (
	objectNotBuilt uint32 = iota
	objectBuilding
	objectBuilt
)

var (
	_ celMap = (*lazyObject)(nil)
	_ celMap = (*fieldMap)(nil)
)

func (o *lazyObject) m() *fieldMap {
	if o.state.Load() == objectBuilt {
		return &o.built
	}
	fields := o.doc.objectFields(o.at)
	if !o.state.CompareAndSwap(objectNotBuilt, objectBuilding) {
		return newFieldMap(fields)
	}
	o.built.init(fields)
	o.state.Store(objectBuilt)
	return &o.built
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
