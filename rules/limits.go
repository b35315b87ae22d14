package rules

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
)

// maxStringBytes bounds every string a rule builds or renders. The cost
// limit charges a call only after it returns, and a few calls can build a
// string far larger than their inputs: replace() multiplies sizes, and a
// list made by map() can repeat one large string many times by reference,
// which join(), format() and rendering then copy out. These are checked
// before the work is done.
const maxStringBytes = 1 << 20

// scalarBytes is an upper bound for the text of any scalar: a double in
// 'f' notation has at most 309 integer digits plus sign and fraction.
const scalarBytes = 330

// sizeGuards estimates, before the call, how large each guarded string
// function's result may be.
var sizeGuards = map[string]func(args []ref.Val) int{
	"replace": replaceSize,
	"join":    joinSize,
	"format":  formatSize,
}

// guardedStrings re-declares the guarded functions of ext.Strings() with the
// library's own implementations behind a size check.
func guardedStrings() ([]cel.EnvOption, error) {
	base, err := cel.NewEnv(ext.Strings())
	if err != nil {
		return nil, err
	}
	opts := []cel.EnvOption{ext.Strings()}
	for name, size := range sizeGuards {
		decl := base.Functions()[name]
		impls, err := decl.Bindings()
		if err != nil {
			return nil, fmt.Errorf("bindings of %s: %w", name, err)
		}
		byID := make(map[string]*functions.Overload, len(impls))
		for _, impl := range impls {
			byID[impl.Operator] = impl
		}
		var overloads []cel.FunctionOpt
		for _, overload := range decl.OverloadDecls() {
			binding := guardedBinding(name, byID[overload.ID()], size, len(overload.ArgTypes()))
			if overload.IsMemberFunction() {
				overloads = append(overloads, cel.MemberOverload(overload.ID(), overload.ArgTypes(), overload.ResultType(), binding))
			} else {
				overloads = append(overloads, cel.Overload(overload.ID(), overload.ArgTypes(), overload.ResultType(), binding))
			}
		}
		opts = append(opts, cel.Function(name, overloads...))
	}
	return opts, nil
}

// guardedBinding wraps impl with a size check, keeping its arity so the
// interpreter dispatches to it as it did to the original.
func guardedBinding(name string, impl *functions.Overload, size func([]ref.Val) int, arity int) cel.OverloadOpt {
	call := func(args ...ref.Val) ref.Val {
		if n := size(args); n > maxStringBytes {
			return types.NewErr("%s would build a string of about %d bytes, over the limit of %d", name, n, maxStringBytes)
		}
		switch {
		case len(args) == 1 && impl.Unary != nil:
			return impl.Unary(args[0])
		case len(args) == 2 && impl.Binary != nil:
			return impl.Binary(args[0], args[1])
		}
		return impl.Function(args...)
	}
	switch arity {
	case 1:
		return cel.UnaryBinding(func(arg ref.Val) ref.Val { return call(arg) })
	case 2:
		return cel.BinaryBinding(func(lhs, rhs ref.Val) ref.Val { return call(lhs, rhs) })
	}
	return cel.FunctionBinding(call)
}

// replaceSize computes the exact result length of str.replace(old, new[, n]).
func replaceSize(args []ref.Val) int {
	str, _ := args[0].(types.String)
	old, _ := args[1].(types.String)
	repl, _ := args[2].(types.String)
	count := strings.Count(string(str), string(old))
	if len(args) == 4 {
		if n, ok := args[3].(types.Int); ok && n >= 0 && int(n) < count {
			count = int(n)
		}
	}
	return len(str) + count*(len(repl)-len(old))
}

func joinSize(args []ref.Val) int {
	total := estimateSize(args[0], maxStringBytes)
	if len(args) == 2 {
		sep, _ := args[1].(types.String)
		if list, ok := args[0].(traits.Lister); ok {
			count, _ := list.Size().(types.Int)
			total += int(count) * len(sep)
		}
	}
	return total
}

func formatSize(args []ref.Val) int {
	format, _ := args[0].(types.String)
	return len(format) + estimateSize(args[1], maxStringBytes)
}

// estimateSize returns an upper bound of the bytes v takes as text (quoted,
// escaped or JSON-encoded), stopping once it passes limit so that a list
// repeating one value a million times is not walked to the end.
func estimateSize(v ref.Val, limit int) int {
	switch val := v.(type) {
	case types.String:
		// Escaping can grow a string by a small factor (JSON writes < as
		// \u003c); that bounded growth is accepted, only repetition is not.
		return len(val) + 2
	case types.Bytes:
		return len(val) + 2
	case traits.Mapper:
		return estimateMap(val, limit)
	case traits.Lister:
		return estimateList(val, limit)
	}
	return scalarBytes
}

func estimateList(list traits.Lister, limit int) int {
	size, _ := list.Size().(types.Int)
	total := 2
	for i := types.Int(0); i < size && total <= limit; i++ {
		total += estimateSize(list.Get(i), limit-total) + 2
	}
	return total
}

func estimateMap(m traits.Mapper, limit int) int {
	total := 2
	for it := m.Iterator(); it.HasNext() == types.True && total <= limit; {
		key := it.Next()
		total += estimateSize(key, limit-total) + estimateSize(m.Get(key), limit-total) + 4
	}
	return total
}

// checkRenderSize refuses to render a value whose text could pass the limit.
func checkRenderSize(v ref.Val) error {
	if n := estimateSize(v, maxStringBytes); n > maxStringBytes {
		return fmt.Errorf("value would render to about %d bytes, over the limit of %d", n, maxStringBytes)
	}
	return nil
}
