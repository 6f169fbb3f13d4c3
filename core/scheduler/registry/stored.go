package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/validation"
)

// RefreshAge is how old a stored module may be for Push to name it
// without writing it again. Push writes the module before the Plugin that
// names it, so the module a push names was written less than RefreshAge
// plus the push's duration ago, as the push's clock tells: a collector
// that spares modules written within a grace period well above that (the
// controller manager's modulegc, 10 minutes) cannot take a module from
// under a push, even one a Plugin had stopped naming, unless the pushing
// machine's clock is behind by most of the grace period.
const RefreshAge = time.Minute

// Stored is one stored copy of a module.
type Stored struct {
	// Digest is the module's "sha256:<hex>".
	Digest string
	// ModTime is when the copy was last written (by the Object Store's
	// clock, or the file system's).
	ModTime time.Time
}

// ListModules lists the modules in b, the modules' bucket (OpenBucket):
// its objects named by a digest. Links and objects of other names are not
// modules and are left out, so that nothing else kept in the bucket is
// ever taken for one.
func ListModules(ctx context.Context, b *blobs.Store) ([]Stored, error) {
	list, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, in := range list {
		if _, ok := digestHex(in.Name); ok && in.Target == "" {
			out = append(out, Stored{Digest: in.Name, ModTime: in.ModTime})
		}
	}
	return out, nil
}

// DeleteModule deletes module digest from b unless it was written at or
// after cutoff (a push stored it again since it was listed). A module
// already gone is not an error. It reports whether it deleted the module.
func DeleteModule(ctx context.Context, b *blobs.Store, digest string, cutoff time.Time) (bool, error) {
	if _, ok := digestHex(digest); !ok {
		return false, fmt.Errorf("registry: bad digest %q", digest)
	}
	in, err := b.Stat(ctx, digest)
	switch {
	case errors.Is(err, blobs.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case in.Target != "" || !in.ModTime.Before(cutoff):
		return false, nil
	}
	if err := b.Delete(ctx, digest); err != nil {
		return false, err
	}
	return true, nil
}

// store makes sure the bucket holds wasm as digest, written less than
// RefreshAge ago.
func (r *Registry) store(ctx context.Context, digest string, wasm []byte) error {
	in, err := r.blobs.Stat(ctx, digest)
	switch {
	case err == nil && in.Target == "" && in.Size == uint64(len(wasm)) && r.now().Sub(in.ModTime) < RefreshAge:
		return nil
	case err != nil && !errors.Is(err, blobs.ErrNotFound):
		return err
	}
	_, err = r.blobs.Put(ctx, digest, bytes.NewReader(wasm), nil)
	return err
}

// restore stores wasm as digest again if it went missing: a collector
// that looked before a push's Plugin write and deleted after it.
func (r *Registry) restore(ctx context.Context, digest string, wasm []byte) error {
	_, err := r.blobs.Stat(ctx, digest)
	if !errors.Is(err, blobs.ErrNotFound) {
		return nil // there, or the store cannot tell: it was there a moment ago
	}
	_, err = r.blobs.Put(ctx, digest, bytes.NewReader(wasm), nil)
	return err
}

// digestHex returns the hex digits of a module digest, one that
// validation accepts in a Plugin.
func digestHex(digest string) (string, bool) {
	if !validation.IsModuleDigest(digest) {
		return "", false
	}
	return strings.TrimPrefix(digest, "sha256:"), true
}
