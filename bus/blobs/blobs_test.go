package blobs_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/bustest"
)

func connect(t *testing.T) *bus.Conn {
	t.Helper()
	return bustest.Start(t).Connect(t)
}

func read(t *testing.T, s *blobs.Store, name string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStore(t *testing.T) {
	conn := connect(t)
	ctx := t.Context()
	if _, err := blobs.Bind(ctx, conn, "b"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("bind a missing bucket: %v", err)
	}
	s, err := blobs.Open(ctx, conn, blobs.Config{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("empty list: %v, %v", l, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: many chunks
	if _, err := s.Put(ctx, "sha256:1", bytes.NewReader(big), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "sha256:2", bytes.NewReader([]byte("two")), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, "web:1", "sha256:1"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "web:1"); !bytes.Equal(got, big) {
		t.Fatalf("read through the link: %d bytes", len(got))
	}
	in, err := s.Stat(ctx, "web:1")
	if err != nil || in.Target != "sha256:1" {
		t.Fatalf("stat link: %+v, %v", in, err)
	}
	// A link moves.
	if err := s.Link(ctx, "web:1", "sha256:2"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "web:1"); string(got) != "two" {
		t.Fatalf("moved link reads %q", got)
	}
	in, err = s.Stat(ctx, "sha256:1")
	if err != nil || in.Size != uint64(len(big)) || in.Metadata["k"] != "v" || in.Target != "" {
		t.Fatalf("stat object: %+v, %v", in, err)
	}
	for _, name := range []string{"nope"} {
		if _, err := s.Stat(ctx, name); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("stat %s: %v", name, err)
		}
		if _, err := s.Open(ctx, name); !errors.Is(err, blobs.ErrNotFound) {
			t.Errorf("open %s: %v", name, err)
		}
	}
	if err := s.Link(ctx, "x", "nope"); !errors.Is(err, blobs.ErrNotFound) {
		t.Errorf("link to nothing: %v", err)
	}
	if err := s.Link(ctx, "sha256:2", "sha256:1"); err == nil {
		t.Errorf("an object was replaced by a link")
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"sha256:1", "sha256:2", "web:1"}) {
		t.Fatalf("list: %v", names)
	}
	// Open again on the existing bucket.
	if _, err := blobs.Open(ctx, conn, blobs.Config{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
}

// TestPutOnceReadAll: content-addressed objects are stored once, read
// whole, and survive a server restart.
func TestPutOnceReadAll(t *testing.T) {
	srv := bustest.Start(t)
	conn := srv.Connect(t)
	s, err := blobs.Open(t.Context(), conn, blobs.Config{Bucket: "modules"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(t.Context(), "sha256:none"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("ReadAll of a missing name: %v, want ErrNotFound", err)
	}
	data := bytes.Repeat([]byte("wasm"), 300_000) // several chunks
	for range 2 {
		if err := s.PutOnce(t.Context(), "sha256:abc", data); err != nil {
			t.Fatal(err)
		}
	}
	srv.Restart()
	conn = srv.Connect(t)
	s2, err := blobs.Open(t.Context(), conn, blobs.Config{Bucket: "modules"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.ReadAll(t.Context(), "sha256:abc"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d bytes, %v; want %d", len(got), err, len(data))
	}
}

// TestDelete: a deleted object is gone from Stat, reads and List; deleting
// it again, or a name that never existed, is not an error (two deleters
// may race); other objects are untouched.
func TestDelete(t *testing.T) {
	ctx := t.Context()
	s, err := blobs.Open(ctx, connect(t), blobs.Config{Bucket: "d"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sha256:gone", "sha256:kept"} {
		if err := s.PutOnce(ctx, name, bytes.Repeat([]byte(name), 100_000)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := s.Delete(ctx, "sha256:gone"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := s.Delete(ctx, "never"); err != nil {
		t.Fatalf("Delete of a name that never existed: %v", err)
	}
	if _, err := s.Stat(ctx, "sha256:gone"); !errors.Is(err, blobs.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.ReadAll(ctx, "sha256:gone"); !errors.Is(err, blobs.ErrNotFound) {
		t.Errorf("ReadAll after Delete: %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "sha256:kept" {
		t.Fatalf("List after Delete: %+v, %v", list, err)
	}
	if b, err := s.ReadAll(ctx, "sha256:kept"); err != nil || len(b) != len("sha256:kept")*100_000 {
		t.Fatalf("the other object: %d bytes, %v", len(b), err)
	}
	// A deleted name can be stored again.
	if err := s.PutOnce(ctx, "sha256:gone", []byte("again")); err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadAll(ctx, "sha256:gone"); err != nil || string(b) != "again" {
		t.Fatalf("stored again: %q, %v", b, err)
	}
}
