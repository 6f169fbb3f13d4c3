package blob_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skiffhq/skiff/bus/blob"
	"github.com/skiffhq/skiff/bus/bustest"
)

func TestPutGet(t *testing.T) {
	srv := bustest.Start(t)
	conn := srv.Connect(t)
	s, err := blob.Open(t.Context(), conn, blob.Config{Bucket: "blobs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "sha256:none"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of a missing name: %v, want ErrNotFound", err)
	}
	data := bytes.Repeat([]byte("wasm"), 300_000) // several chunks
	for range 2 {
		if err := s.Put(t.Context(), "sha256:abc", data); err != nil {
			t.Fatal(err)
		}
	}
	// A second Open binds the same bucket.
	s2, err := blob.Open(t.Context(), conn, blob.Config{Bucket: "blobs"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get(t.Context(), "sha256:abc")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, want %d", len(got), len(data))
	}
	// Blobs survive a server restart.
	srv.Restart()
	conn = srv.Connect(t)
	s3, err := blob.Open(t.Context(), conn, blob.Config{Bucket: "blobs"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s3.Get(t.Context(), "sha256:abc"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d bytes, %v", len(got), err)
	}
}
