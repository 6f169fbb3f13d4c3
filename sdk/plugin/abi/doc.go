// Package abi is the wire format between Skiff's WASM plugin host and its
// guests, ABI version 1, as docs/abi.md specifies it: the records a host
// writes into guest memory (a pod, its candidate nodes, the request that
// frames them), the zero-copy views a guest reads them through, the
// guest's node table (Table: a node's record is sent once, then named by
// slot), and the responses a guest writes back (verdicts, scores, status,
// info).
//
// Both sides import it: the host (plugins/, core/scheduler/wasmplugin)
// encodes records and decodes responses; the guest SDK (sdk/plugin) reads
// records through views and encodes responses. It is plain Go with no
// dependency, so it builds for GOOS=wasip1 as well as for the host, and
// its tests and fuzzers run natively.
//
// Trust: records come from the host and views trust them (a view of a
// malformed record may panic with an index error, never loop). Responses
// come from guests and are not trusted: every Decode function checks each
// length and offset and returns ErrMalformed rather than panicking.
//
// Views alias the bytes they read: a string returned by a view shares the
// record's memory and is valid only while that memory is (for a guest,
// until its callback returns). Nothing here keeps state; everything is
// safe for concurrent use on distinct buffers.
package abi
