package framework

import (
	"errors"
	"fmt"
	"strings"
)

// Code is the outcome a Status reports.
type Code int

// Codes, as in Kubernetes' scheduling framework.
const (
	// Success: the plugin is satisfied. A nil *Status means Success.
	Success Code = iota
	// Error: the plugin failed (a bug, a broken guest, an unreachable
	// dependency). The pod's cycle is aborted and the pod retried after
	// a back-off.
	Error
	// Unschedulable: the node cannot take the pod now, but preemption or
	// a cluster change might make it.
	Unschedulable
	// UnschedulableAndUnresolvable: the node cannot take the pod and
	// preempting pods on it would not help (a label, a taint, a name).
	UnschedulableAndUnresolvable
	// Wait: only from Permit; the pod waits for an Allow or a Reject.
	Wait
	// Skip: from PreFilter, PreScore or Bind, the plugin has nothing to do
	// for this pod at the matching Filter or Score point (or leaves
	// binding to the next binder).
	Skip
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait", "Skip"}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Status is a plugin's verdict: a code and the reasons behind it. A nil
// *Status is Success. Statuses are immutable; plugins may return the same
// one for many nodes.
type Status struct {
	code    Code
	reasons []string
	err     error
}

// NewStatus returns a status with code and reasons. Each reason is one
// short phrase in the Kubernetes style ("Insufficient cpu", "node(s) had
// untolerated taint {key: value}"); the diagnosis of an unschedulable pod
// counts nodes per reason.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps err in an Error status; nil gives nil.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code is the status' code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// Reasons are the status' reasons; the slice must not be modified.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// IsSuccess is true for nil and Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip is true for Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// IsRejected is true for Unschedulable and UnschedulableAndUnresolvable.
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Err is the wrapped error of an Error status, or an error made of the
// message of any other unsuccessful one; nil for success.
func (s *Status) Err() error {
	switch {
	case s.IsSuccess():
		return nil
	case s.err != nil:
		return s.err
	default:
		return errors.New(s.Message())
	}
}

func (s *Status) String() string {
	if s == nil {
		return "Success"
	}
	if len(s.reasons) == 0 {
		return s.code.String()
	}
	return s.code.String() + ": " + s.Message()
}

// PluginError is how every plugin failure reaches the scheduler: the
// plugin, the extension point, and what went wrong.
type PluginError struct {
	Plugin string
	Point  string
	Err    error
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %s at %s: %v", e.Plugin, e.Point, e.Err)
}

func (e *PluginError) Unwrap() error { return e.Err }

func pluginError(plugin, point string, s *Status) error {
	return &PluginError{Plugin: plugin, Point: point, Err: s.Err()}
}
