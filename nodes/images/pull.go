package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/runtime"
)

// Runtime is what a Puller needs of the node's runtime: the image calls of
// runtime.Runtime and an import of image archives (the containerd
// runtime's Import).
type Runtime interface {
	ImageStatus(ctx context.Context, image string) (runtime.Image, bool, error)
	PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error)
	Import(ctx context.Context, r io.Reader) ([]runtime.Image, error)
}

// Config configures a Puller. Runtime is required.
type Config struct {
	// Conn reaches the cluster's Object Store; nil pulls from registries
	// only.
	Conn *bus.Conn
	// Runtime is the node's runtime.
	Runtime Runtime
	// Bucket is the images bucket (default subjects.ImagesBucket).
	Bucket string
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// Puller pulls images for one node: from the Object Store when it holds
// the name, else through the runtime (a registry). The agent asks it
// instead of the runtime for ImageStatus and PullImage.
type Puller struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	store   *blobs.Store
	flights map[string]*flight // by normalized name
}

// flight is one import in progress; waiters block on done.
type flight struct {
	done    chan struct{}
	err     error
	waiters int // guarded by Puller.mu; for tests
}

// New checks cfg and returns a Puller; it starts nothing.
func New(cfg Config) (*Puller, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("images: Config.Runtime is required")
	}
	if cfg.Bucket == "" {
		cfg.Bucket = subjects.ImagesBucket
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Puller{cfg: cfg, log: cfg.Logger, flights: map[string]*flight{}}, nil
}

// bucket is the images bucket, or nil while it does not exist (no image
// was ever pushed).
func (p *Puller) bucket(ctx context.Context) (*blobs.Store, error) {
	if p.cfg.Conn == nil {
		return nil, nil
	}
	p.mu.Lock()
	s := p.store
	p.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := blobs.Bind(ctx, p.cfg.Conn, p.cfg.Bucket)
	if errors.Is(err, blobs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.store = s
	p.mu.Unlock()
	return s, nil
}

// objectName is what a normalized reference is stored under: its digest
// when it carries one, else its name:tag (a link).
func objectName(name string) string {
	if _, d, ok := strings.Cut(name, "@"); ok {
		return d
	}
	return name
}

// PullImage makes image present in the runtime, as runtime.Runtime's
// PullImage does (the agent calls it in its place): an image the Object
// Store names is imported from there unless the runtime already has that
// digest under this name; any other is pulled by the runtime. Failures
// wrap runtime.ErrImagePull.
func (p *Puller) PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error) {
	rt := p.cfg.Runtime
	name, err := Normalize(image)
	if err != nil {
		return rt.PullImage(ctx, sandboxID, image) // the runtime says why
	}
	s, err := p.bucket(ctx)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %s: image store: %v", runtime.ErrImagePull, image, err)
	}
	if s == nil {
		return rt.PullImage(ctx, sandboxID, image)
	}
	in, err := s.Stat(ctx, objectName(name))
	if errors.Is(err, blobs.ErrNotFound) {
		return rt.PullImage(ctx, sandboxID, image)
	}
	if err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %s: image store: %v", runtime.ErrImagePull, image, err)
	}
	digest := in.Name
	if in.Target != "" {
		digest = in.Target
	}
	if img, ok, err := p.ImageStatus(ctx, image); err == nil && ok && img.ID == digest {
		return img, nil
	}
	if err := p.importOnce(ctx, s, digest, name); err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %s: %v", runtime.ErrImagePull, image, err)
	}
	img, ok, err := rt.ImageStatus(ctx, image)
	switch {
	case err != nil:
		return runtime.Image{}, fmt.Errorf("%w: %s: %v", runtime.ErrImagePull, image, err)
	case !ok || img.ID != digest:
		return runtime.Image{}, fmt.Errorf("%w: %s: imported %s but the runtime has %q", runtime.ErrImagePull, image, digest, img.ID)
	}
	return img, nil
}

// waiting is how many callers wait for the import of name in flight.
func (p *Puller) waiting(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.flights[name]; f != nil {
		return f.waiters
	}
	return 0
}

// ImageStatus is the runtime's ImageStatus, except that it waits for an
// import of the image in flight: the runtime may list an image before it
// is unpacked, and a container created from it then would have no root
// file system.
func (p *Puller) ImageStatus(ctx context.Context, image string) (runtime.Image, bool, error) {
	if name, err := Normalize(image); err == nil {
		p.mu.Lock()
		f := p.flights[name]
		if f != nil {
			f.waiters++
		}
		p.mu.Unlock()
		if f != nil {
			select {
			case <-f.done:
			case <-ctx.Done():
				return runtime.Image{}, false, ctx.Err()
			}
		}
	}
	return p.cfg.Runtime.ImageStatus(ctx, image)
}

// importOnce imports object digest under name, sharing the work with
// concurrent callers for the same name.
func (p *Puller) importOnce(ctx context.Context, s *blobs.Store, digest, name string) error {
	key := name
	p.mu.Lock()
	f := p.flights[key]
	leader := f == nil
	if leader {
		f = &flight{done: make(chan struct{})}
		p.flights[key] = f
	} else {
		f.waiters++
	}
	p.mu.Unlock()
	if !leader {
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The import outlives one caller's context: others may be waiting.
	f.err = p.doImport(context.WithoutCancel(ctx), s, digest, name)
	p.mu.Lock()
	delete(p.flights, key)
	p.mu.Unlock()
	close(f.done)
	return f.err
}

func (p *Puller) doImport(ctx context.Context, s *blobs.Store, digest, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	rc, err := s.Open(ctx, digest)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }() // read-only: nothing to flush
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(renameIndex(pw, rc, name))
	}()
	_, err = p.cfg.Runtime.Import(ctx, pr)
	pr.CloseWithError(errors.New("import ended"))
	<-done
	if err != nil {
		return err
	}
	p.log.Info("image imported from the cluster's store", "image", name, "digest", digest, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
