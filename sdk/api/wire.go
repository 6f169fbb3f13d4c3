package api

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Op is an API server operation over NATS; the request subject is
// subjects.API(string(op)).
type Op string

// Operations.
const (
	OpGet              Op = "get"
	OpList             Op = "list"
	OpCreate           Op = "create"
	OpUpdate           Op = "update"
	OpPatch            Op = "patch"
	OpDelete           Op = "delete"
	OpDeleteCollection Op = "deletecollection"
)

// Request and response headers of the NATS protocol (documented in
// docs/api-over-nats.md).
const (
	HdrGroup       = "Skiff-Group"
	HdrResource    = "Skiff-Resource"
	HdrSubresource = "Skiff-Subresource"
	HdrNamespace   = "Skiff-Namespace"
	HdrName        = "Skiff-Name"
	// HdrOptions holds the operation's metav1 options (CreateOptions,
	// ListOptions, ...) as JSON.
	HdrOptions     = "Skiff-Options"
	HdrPatchType   = "Skiff-Patch-Type"
	HdrContentType = "Content-Type"
	// HdrCode is the HTTP status code of the reply; a code of 400 or more
	// means the body is a metav1.Status in JSON.
	HdrCode = "Skiff-Code"
	// HdrRevision is the object's (or the list's) resourceVersion, which the
	// stored encoding does not carry.
	HdrRevision  = "Skiff-Revision"
	HdrContinue  = "Skiff-Continue"
	HdrRemaining = "Skiff-Remaining"
)

// MaxListReply bounds the bytes of objects one list reply carries; the
// server ends the page early (with a continue token) to stay under it.
const MaxListReply = 4 << 20

// AppendListItem appends one stored object and its revision to a list
// reply body.
func AppendListItem(body []byte, rev uint64, obj []byte) []byte {
	body = binary.AppendUvarint(body, rev)
	body = binary.AppendUvarint(body, uint64(len(obj)))
	return append(body, obj...)
}

// ErrBadListBody is returned for a list reply body that is not well framed.
var ErrBadListBody = errors.New("api: malformed list reply")

// ForEachListItem calls fn for every object of a list reply body, in order.
func ForEachListItem(body []byte, fn func(rev uint64, obj []byte) error) error {
	for len(body) > 0 {
		rev, n := binary.Uvarint(body)
		if n <= 0 {
			return ErrBadListBody
		}
		body = body[n:]
		size, n := binary.Uvarint(body)
		if n <= 0 || size > uint64(len(body)-n) {
			return ErrBadListBody
		}
		body = body[n:]
		if err := fn(rev, body[:size]); err != nil {
			return err
		}
		body = body[size:]
	}
	return nil
}

// FormatRevision and ParseRevision convert between store revisions and
// resourceVersion strings.
func FormatRevision(rev uint64) string { return strconv.FormatUint(rev, 10) }

// ParseRevision parses a resourceVersion; "" is 0.
func ParseRevision(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resourceVersion %q is not a number", s)
	}
	return v, nil
}
