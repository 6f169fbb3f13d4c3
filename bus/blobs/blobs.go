package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skiffhq/skiff/bus"
)

// ErrNotFound: the bucket, the object or a link's target does not exist.
var ErrNotFound = errors.New("blobs: not found")

// Config names a bucket. Replicas (default 1) applies when Open creates it.
type Config struct {
	Bucket   string
	Replicas int
}

// Store is one Object Store bucket.
type Store struct {
	bucket string
	obs    jetstream.ObjectStore
}

// Open binds the bucket, creating it (file storage) if it does not exist.
func Open(ctx context.Context, conn *bus.Conn, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blobs: Config.Bucket is required")
	}
	js := conn.JetStream()
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: cfg.Bucket, Storage: jetstream.FileStorage,
			Replicas: max(1, cfg.Replicas)})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, cfg.Bucket) // created meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: open %s: %w", cfg.Bucket, err)
	}
	return &Store{bucket: cfg.Bucket, obs: obs}, nil
}

// Bind binds an existing bucket; ErrNotFound when there is none.
func Bind(ctx context.Context, conn *bus.Conn, bucket string) (*Store, error) {
	obs, err := conn.JetStream().ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("blobs: bucket %s: %w", bucket, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: bind %s: %w", bucket, err)
	}
	return &Store{bucket: bucket, obs: obs}, nil
}

// Info describes an object or a link.
type Info struct {
	// Name is the object's (or link's) name.
	Name string
	// Target is, for a link, the name of the object it points at ("" for
	// an object).
	Target string
	// Size is the object's size in bytes (0 for a link).
	Size uint64
	// Metadata is what Put stored with the object.
	Metadata map[string]string
	// ModTime is when the object or link was written.
	ModTime time.Time
}

func infoOf(oi *jetstream.ObjectInfo) Info {
	in := Info{Name: oi.Name, Size: oi.Size, Metadata: oi.Metadata, ModTime: oi.ModTime}
	if oi.Opts != nil && oi.Opts.Link != nil {
		in.Target = oi.Opts.Link.Name
	}
	return in
}

func notFound(err error) bool {
	return errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrNoObjectsFound)
}

// Put stores r's bytes as object name with metadata, replacing an object
// of that name.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, metadata map[string]string) (Info, error) {
	oi, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: name, Metadata: metadata}, r)
	if err != nil {
		return Info{}, fmt.Errorf("blobs: put %s: %w", name, err)
	}
	return infoOf(oi), nil
}

// Stat describes object or link name.
func (s *Store) Stat(ctx context.Context, name string) (Info, error) {
	oi, err := s.obs.GetInfo(ctx, name)
	if notFound(err) {
		return Info{}, fmt.Errorf("blobs: %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blobs: stat %s: %w", name, err)
	}
	return infoOf(oi), nil
}

// Open streams object name (following a link); the caller closes it.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	res, err := s.obs.Get(ctx, name)
	if notFound(err) {
		return nil, fmt.Errorf("blobs: %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: get %s: %w", name, err)
	}
	return res, nil
}

// Link makes name a link to object target, replacing an earlier link of
// that name. It fails if name is an object.
func (s *Store) Link(ctx context.Context, name, target string) error {
	oi, err := s.obs.GetInfo(ctx, target)
	if notFound(err) {
		return fmt.Errorf("blobs: link %s: target %s: %w", name, target, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("blobs: link %s: %w", name, err)
	}
	if _, err := s.obs.AddLink(ctx, name, oi); err != nil {
		return fmt.Errorf("blobs: link %s: %w", name, err)
	}
	return nil
}

// Delete removes object or link name. A name that is not there (never
// was, or was deleted meanwhile) is not an error, so that two deleters
// may race. Deleting an object leaves the links to it dangling.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.obs.Delete(ctx, name); err != nil && !notFound(err) {
		return fmt.Errorf("blobs: delete %s: %w", name, err)
	}
	return nil
}

// List describes every object and link, in no particular order.
func (s *Store) List(ctx context.Context) ([]Info, error) {
	ois, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: list %s: %w", s.bucket, err)
	}
	out := make([]Info, len(ois))
	for i, oi := range ois {
		out[i] = infoOf(oi)
	}
	return out, nil
}

// PutOnce stores data as object name unless an object of that name and
// size is already there: for content-addressed names (a digest), where the
// same name means the same bytes and a second upload is a no-op.
func (s *Store) PutOnce(ctx context.Context, name string, data []byte) error {
	if oi, err := s.obs.GetInfo(ctx, name); err == nil && oi.Size == uint64(len(data)) {
		return nil
	}
	if _, err := s.obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("blobs: put %s: %w", name, err)
	}
	return nil
}

// ReadAll returns object name's bytes whole (following a link), or
// ErrNotFound. For small objects such as plugin modules; stream large ones
// with Open.
func (s *Store) ReadAll(ctx context.Context, name string) ([]byte, error) {
	b, err := s.obs.GetBytes(ctx, name)
	if notFound(err) {
		return nil, fmt.Errorf("blobs: %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: get %s: %w", name, err)
	}
	return b, nil
}
