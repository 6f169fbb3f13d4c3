package plugins

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is what went wrong in a plugin call.
type Kind uint8

// Kinds of failure. Trap, Timeout, Memory and BadOutput discard the
// instance they happened in; Guest does not (the guest answered, with an
// error of its own).
const (
	// KindTrap: the guest trapped (unreachable, out-of-bounds access, a Go
	// panic it did not recover, a fatal error) or exited.
	KindTrap Kind = iota + 1
	// KindTimeout: the call ran past its deadline and was stopped.
	KindTimeout
	// KindMemory: the guest needed more memory than its cap.
	KindMemory
	// KindBadOutput: the answer was malformed (see abi.ErrMalformed) or
	// pointed outside the guest's memory.
	KindBadOutput
	// KindInstantiate: the module could not be compiled or instantiated
	// (a missing import or export, a failing start function, an ABI
	// version the host does not speak).
	KindInstantiate
	// KindSettings: the guest refused its settings.
	KindSettings
	// KindGuest: the guest answered with an error of its own (including a
	// panic the SDK recovered).
	KindGuest
	// KindCanceled: the caller's context ended during the call; not the
	// guest's fault, but the instance is discarded all the same.
	KindCanceled

	numKinds = int(KindCanceled) + 1
)

var kindNames = [...]string{"", "trap", "timeout", "memory", "bad-output", "instantiate", "settings", "guest", "canceled"}

func (k Kind) String() string {
	if int(k) > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText makes Kind a readable map key in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// breaks reports whether a failure of kind k leaves the instance unusable.
func (k Kind) breaks() bool { return k != KindGuest && k != KindSettings }

// Error is the one error every plugin failure is: which plugin and
// version, at which step, what kind of failure, and what the guest said
// (its error message, or the first lines it wrote to stderr).
type Error struct {
	Plugin, Version string
	// Op is the step: "load" (compile, instantiate, _initialize, info),
	// "configure", "filter", "score", or "wait" (for an instance).
	Op   string
	Kind Kind
	// Detail is the human part: the trap, the guest's message, the
	// malformation.
	Detail string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s", e.Plugin)
	if e.Version != "" {
		fmt.Fprintf(&b, "@%s", e.Version)
	}
	fmt.Fprintf(&b, " %s: %s", e.Op, e.Kind)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, plugins.ErrTimeout) and the like match an
// *Error of that kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(kindError)
	return ok && Kind(k) == e.Kind
}

type kindError Kind

func (k kindError) Error() string { return "plugins: " + Kind(k).String() }

// Sentinels that match an *Error of their kind with errors.Is.
var (
	ErrTrap        error = kindError(KindTrap)
	ErrTimeout     error = kindError(KindTimeout)
	ErrMemory      error = kindError(KindMemory)
	ErrBadOutput   error = kindError(KindBadOutput)
	ErrInstantiate error = kindError(KindInstantiate)
	ErrSettings    error = kindError(KindSettings)
	ErrGuest       error = kindError(KindGuest)
	ErrCanceled    error = kindError(KindCanceled)
)

// ErrClosed is returned for calls on a closed Plugin or Host.
var ErrClosed = errors.New("plugins: closed")

// ErrNotImplemented is returned by Filter or Score when the active
// version does not implement that point: the plugin has no opinion.
var ErrNotImplemented = errors.New("plugins: the plugin does not implement this extension point")
