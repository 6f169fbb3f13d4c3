package blob

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/skiffhq/skiff/bus"
)

// ErrNotFound is returned by Get for a name the bucket does not hold.
var ErrNotFound = errors.New("blob: not found")

// Config describes the bucket.
type Config struct {
	// Bucket is the Object Store bucket name; required.
	Bucket string
	// Replicas is the bucket's replica count (0 means 1).
	Replicas int
	// MaxBytes bounds the bucket's total size (0: unlimited).
	MaxBytes int64
}

// Store is one Object Store bucket.
type Store struct {
	os jetstream.ObjectStore
}

// Open creates the bucket if it does not exist (file storage) and returns
// its Store.
func Open(ctx context.Context, conn *bus.Conn, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: Config.Bucket is required")
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	js := conn.JetStream()
	os, err := js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		os, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: cfg.Bucket, Replicas: cfg.Replicas, MaxBytes: cfg.MaxBytes, Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			os, err = js.ObjectStore(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", cfg.Bucket, err)
	}
	return &Store{os: os}, nil
}

// Put stores data under name. A name that already holds data of the same
// size is left alone (names are digests: same name, same bytes).
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if info, err := s.os.GetInfo(ctx, name); err == nil && int(info.Size) == len(data) {
		return nil
	}
	if _, err := s.os.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("blob: put %s: %w", name, err)
	}
	return nil
}

// Get returns the data stored under name, or ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	b, err := s.os.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("blob: get %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", name, err)
	}
	return b, nil
}
