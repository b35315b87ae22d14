package config

import (
	"errors"
	"fmt"
)

// FieldError is an error about one option, named in the configuration's
// spelling (reset.build_id, http.webhook.id, signal.input.tenant), so that
// whoever reports it can say where: the loader as a Problem with its line,
// the CLI as the flag that sets it. The packages that validate options
// (batch, triggers, rules) all return it.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a *FieldError about field.
func FieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// SplitErrors turns err into one problem per error joined in it, looking
// through wrappers that only add context the problem's owner already says.
// Each goes to problem with the field its innermost *FieldError names, or
// field when it names none, and the message without the field.
func SplitErrors(err error, field string, problem func(field, message string) Problem) Problems {
	if err == nil {
		return nil
	}
	//nolint:errorlint // a field error at the top names the field of all it holds
	if fieldErr, ok := err.(*FieldError); ok {
		return SplitErrors(fieldErr.Err, fieldErr.Field, problem)
	}
	for wrapped := err; wrapped != nil; wrapped = errors.Unwrap(wrapped) {
		//nolint:errorlint // walks the joined errors themselves, one level at a time
		if joined, ok := wrapped.(interface{ Unwrap() []error }); ok {
			var out Problems
			for _, inner := range joined.Unwrap() {
				out = append(out, SplitErrors(inner, field, problem)...)
			}
			return out
		}
	}
	var fieldErr *FieldError
	if errors.As(err, &fieldErr) {
		return SplitErrors(fieldErr.Err, fieldErr.Field, problem)
	}
	return Problems{problem(field, err.Error())}
}
