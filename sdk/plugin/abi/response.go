package abi

import (
	"fmt"
	"unicode/utf8"
)

// Info is what a guest says about itself (the skiff_info export), read
// after it is configured.
type Info struct {
	// Version is the ABI version the guest speaks.
	Version uint32
	// Points are the extension points it implements.
	Points Points
	// NodeFields are the optional node sections it reads.
	NodeFields Fields
	// PodFields are the pod sections it reads; the host leaves the others
	// empty. A 12-byte info (which has no such word) reads every section.
	PodFields PodFields
	// Flags are promises the guest makes (InfoPure).
	Flags InfoFlags
}

// InfoFlags are the flags word of an info response.
type InfoFlags uint32

// Info flags.
const (
	// InfoPure promises that each node's verdict or score is a function
	// of the settings, the pod sections in PodFields and that node's
	// record alone: not of the other candidates, of earlier calls or of
	// anything the guest keeps. The host may then answer from a cache
	// for pods whose declared sections are equal, and call the guest
	// only with the nodes whose records changed.
	InfoPure InfoFlags = 1

	knownInfoFlags = InfoPure
)

// Sizes of an info response: InfoSize is the full form AppendInfo writes;
// InfoSizeShort, without the pod fields and flags words, is accepted too.
const (
	InfoSize      = 20
	InfoSizeShort = 12
)

// AppendInfo appends an info response (InfoSize bytes).
func AppendInfo(dst []byte, in Info) []byte {
	dst = le.AppendUint32(dst, in.Version)
	dst = le.AppendUint32(dst, uint32(in.Points))
	dst = le.AppendUint32(dst, uint32(in.NodeFields))
	dst = le.AppendUint32(dst, uint32(in.PodFields))
	return le.AppendUint32(dst, uint32(in.Flags))
}

// DecodeInfo reads an info response of InfoSize or InfoSizeShort bytes
// (the short form reads every pod section and promises nothing). It
// accepts any version (the caller decides which it supports) but only
// the points, fields and flags it knows.
func DecodeInfo(b []byte) (Info, error) {
	if len(b) != InfoSize && len(b) != InfoSizeShort {
		return Info{}, fmt.Errorf("%w: info is %d bytes, want %d (or %d)", ErrMalformed, len(b), InfoSize, InfoSizeShort)
	}
	in := Info{Version: le.Uint32(b), Points: Points(le.Uint32(b[4:])), NodeFields: Fields(le.Uint32(b[8:])), PodFields: AllPodFields}
	if len(b) == InfoSize {
		in.PodFields, in.Flags = PodFields(le.Uint32(b[12:])), InfoFlags(le.Uint32(b[16:]))
	}
	if in.Version != Version {
		return in, nil
	}
	const known = Points(1<<(PointFilter-1) | 1<<(PointScore-1))
	if in.Points&^known != 0 {
		return Info{}, fmt.Errorf("%w: info names unknown points %#x", ErrMalformed, uint32(in.Points&^known))
	}
	if in.NodeFields&^AllFields != 0 {
		return Info{}, fmt.Errorf("%w: info names unknown fields %#x", ErrMalformed, uint32(in.NodeFields&^AllFields))
	}
	if in.PodFields&^AllPodFields != 0 {
		return Info{}, fmt.Errorf("%w: info names unknown pod fields %#x", ErrMalformed, uint32(in.PodFields&^AllPodFields))
	}
	if in.Flags&^knownInfoFlags != 0 {
		return Info{}, fmt.Errorf("%w: info has unknown flags %#x", ErrMalformed, uint32(in.Flags&^knownInfoFlags))
	}
	return in, nil
}

// GuestError is a guest's own report that it could not answer (a status
// of StatusError): a bad setting, a recovered panic, a bug it noticed.
type GuestError struct {
	Message string
}

func (e *GuestError) Error() string { return e.Message }

// AppendStatus appends a status response: StatusOK with no message, or
// StatusError with msg.
func AppendStatus(dst []byte, msg string, failed bool) []byte {
	if !failed {
		return le.AppendUint32(dst, StatusOK)
	}
	dst = le.AppendUint32(dst, StatusError)
	return append(dst, msg...)
}

// AppendError appends an error response carrying msg.
func AppendError(dst []byte, msg string) []byte { return AppendStatus(dst, msg, true) }

// DecodeStatus reads the status word every response but Info's starts
// with. It returns the body after it for StatusOK, a *GuestError for
// StatusError, and an error wrapping ErrMalformed otherwise.
func DecodeStatus(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, no status", ErrMalformed, len(b))
	}
	switch s := le.Uint32(b); s {
	case StatusOK:
		return b[4:], nil
	case StatusError:
		msg := b[4:]
		if len(msg) > MaxMessage {
			msg = msg[:MaxMessage]
		}
		return nil, &GuestError{Message: string(toValidUTF8(msg))}
	default:
		return nil, fmt.Errorf("%w: status %d", ErrMalformed, s)
	}
}

func toValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, '?')
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// AppendFilterResponse appends a successful filter response: one verdict
// per node and the reason table the verdicts index.
func AppendFilterResponse(dst []byte, verdicts []Verdict, reasons []string) []byte {
	dst = le.AppendUint32(dst, StatusOK)
	dst = le.AppendUint32(dst, uint32(len(verdicts)))
	dst = appendWords(dst, verdicts)
	dst = le.AppendUint32(dst, uint32(len(reasons)))
	for _, r := range reasons {
		dst = le.AppendUint32(dst, uint32(len(r)))
		dst = append(dst, r...)
	}
	return dst
}

// DecodeFilter reads a filter response for len(verdicts) nodes into
// verdicts and returns its reasons, which alias b (appended to
// reasons[:0]). A guest's error status is a *GuestError; anything that is
// not exactly a well-formed answer for that many nodes wraps
// ErrMalformed: a wrong count, an unknown code, a reason index out of
// range, a reason that is empty, longer than MaxReason or not UTF-8, more
// reasons than nodes, trailing bytes.
func DecodeFilter(b []byte, verdicts []Verdict, reasons [][]byte) ([][]byte, error) {
	body, err := DecodeStatus(b)
	if err != nil {
		return nil, err
	}
	n := len(verdicts)
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: filter response without a count", ErrMalformed)
	}
	if c := le.Uint32(body); uint64(c) != uint64(n) {
		return nil, fmt.Errorf("%w: %d verdicts for %d nodes", ErrMalformed, c, n)
	}
	body = body[4:]
	if uint64(len(body)) < 4*uint64(n)+4 {
		return nil, fmt.Errorf("%w: filter response truncated", ErrMalformed)
	}
	for i := range verdicts {
		verdicts[i] = Verdict(le.Uint32(body[4*i:]))
	}
	body = body[4*n:]
	nr := le.Uint32(body)
	body = body[4:]
	if uint64(nr) > uint64(n) {
		return nil, fmt.Errorf("%w: %d reasons for %d nodes", ErrMalformed, nr, n)
	}
	reasons = reasons[:0]
	for i := range int(nr) {
		if len(body) < 4 {
			return nil, fmt.Errorf("%w: reason %d truncated", ErrMalformed, i)
		}
		l := le.Uint32(body)
		body = body[4:]
		if l == 0 || l > MaxReason || uint64(l) > uint64(len(body)) {
			return nil, fmt.Errorf("%w: reason %d has length %d", ErrMalformed, i, l)
		}
		r := body[:l]
		if !utf8.Valid(r) {
			return nil, fmt.Errorf("%w: reason %d is not UTF-8", ErrMalformed, i)
		}
		reasons = append(reasons, r)
		body = body[l:]
	}
	if len(body) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(body))
	}
	for i, v := range verdicts {
		switch v.Code() {
		case Pass:
		case Unschedulable, UnschedulableAndUnresolvable:
			if v.Reason() >= len(reasons) {
				return nil, fmt.Errorf("%w: node %d: reason %d of %d", ErrMalformed, i, v.Reason(), len(reasons))
			}
		default:
			return nil, fmt.Errorf("%w: node %d: code %d", ErrMalformed, i, v.Code())
		}
	}
	return reasons, nil
}

// AppendScoreResponse appends a successful score response.
func AppendScoreResponse(dst []byte, scores []int64) []byte {
	dst = le.AppendUint32(dst, StatusOK)
	dst = le.AppendUint32(dst, uint32(len(scores)))
	return appendWords(dst, scores)
}

// DecodeScore reads a score response for len(scores) nodes into scores.
// A guest's error status is a *GuestError; a wrong count or length, or a
// score outside [MinScore, MaxScore], wraps ErrMalformed.
func DecodeScore(b []byte, scores []int64) error {
	body, err := DecodeStatus(b)
	if err != nil {
		return err
	}
	n := len(scores)
	if uint64(len(body)) != 4+8*uint64(n) {
		return fmt.Errorf("%w: score response of %d bytes for %d nodes", ErrMalformed, len(body)+4, n)
	}
	if c := le.Uint32(body); uint64(c) != uint64(n) {
		return fmt.Errorf("%w: %d scores for %d nodes", ErrMalformed, c, n)
	}
	body = body[4:]
	for i := range scores {
		s := int64(le.Uint64(body[8*i:]))
		if s < MinScore || s > MaxScore {
			return fmt.Errorf("%w: node %d: score %d outside [%d, %d]", ErrMalformed, i, s, MinScore, MaxScore)
		}
		scores[i] = s
	}
	return nil
}
