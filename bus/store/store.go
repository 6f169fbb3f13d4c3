package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skiffhq/skiff/bus"
)

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("store: key not found")
	ErrExists     = errors.New("store: key already exists")
	ErrConflict   = errors.New("store: revision conflict")
	ErrTooOld     = errors.New("store: revision is too old (compacted); relist")
	ErrInvalidKey = errors.New("store: invalid key")
	ErrTooLarge   = errors.New("store: value too large")
)

// Defaults for Config.
const (
	DefaultHistory            = 1
	DefaultTombstoneRetention = 15 * time.Minute
	DefaultMaxValueSize       = 2 << 20
	DefaultCompactGrace       = 2 * time.Minute
)

// compactKey holds the compaction revision. Object keys are built from
// subjects.Token, which never yields a token that starts with "_s".
const compactKey = "_skiff.compact"

// Config describes the bucket. Zero fields take the defaults above.
type Config struct {
	// Bucket is the KV bucket name; required.
	Bucket string
	// History is how many values per key the bucket keeps (1 to 64).
	History uint8
	// MaxValueSize bounds one value in bytes.
	MaxValueSize int32
	// TombstoneRetention is how long a deletion stays watchable before
	// Compact may remove it.
	TombstoneRetention time.Duration
	// CompactGrace is how long Compact waits between announcing a
	// compaction revision and removing the tombstones at or below it; a
	// watcher that reaches the announcement later than that ends with
	// ErrTooOld.
	CompactGrace time.Duration
	// Replicas is the bucket's JetStream replica count (1 for one server).
	Replicas int
	// MaxConsumers, if positive, is the most consumers (watchers, lists)
	// the bucket allows at once. nats-server caps a stream at 1,000 unless
	// this is set; buckets watched by every node need more.
	MaxConsumers int
}

// Entry is one key's value at a revision.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	Created  time.Time
}

// Store is a JetStream KV bucket seen as a revisioned key/value store.
type Store struct {
	cfg    Config
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	st     jetstream.Stream
	stream string
	prefix string // "$KV.<bucket>."
}

// Open creates the bucket if it does not exist (or updates its settings)
// and returns a Store on it.
func Open(ctx context.Context, conn *bus.Conn, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	js := conn.JetStream()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       cfg.Bucket,
		History:      cfg.History,
		MaxValueSize: cfg.MaxValueSize,
		Storage:      jetstream.FileStorage,
		Replicas:     cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open bucket %s: %w", cfg.Bucket, err)
	}
	st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("store: open bucket %s: %w", cfg.Bucket, err)
	}
	if cfg.MaxConsumers > 0 && st.CachedInfo().Config.MaxConsumers != cfg.MaxConsumers {
		sc := st.CachedInfo().Config
		sc.MaxConsumers = cfg.MaxConsumers
		if st, err = js.UpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("store: bucket %s: max consumers: %w", cfg.Bucket, err)
		}
	}
	return newStore(cfg, js, kv, st), nil
}

// withDefaults checks cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Bucket == "" {
		return cfg, errors.New("store: Config.Bucket is required")
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.History > 64 {
		return cfg, fmt.Errorf("store: history %d is above JetStream's limit of 64", cfg.History)
	}
	if cfg.MaxValueSize == 0 {
		cfg.MaxValueSize = DefaultMaxValueSize
	}
	if cfg.TombstoneRetention == 0 {
		cfg.TombstoneRetention = DefaultTombstoneRetention
	}
	if cfg.CompactGrace == 0 {
		cfg.CompactGrace = DefaultCompactGrace
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	return cfg, nil
}

func newStore(cfg Config, js jetstream.JetStream, kv jetstream.KeyValue, st jetstream.Stream) *Store {
	return &Store{cfg: cfg, js: js, kv: kv, st: st, stream: "KV_" + cfg.Bucket, prefix: "$KV." + cfg.Bucket + "."}
}

// Bind returns a Store on an existing bucket without changing its
// settings; it is what clients use. cfg.Bucket is required and the other
// fields only set client-side checks and timings.
func Bind(ctx context.Context, conn *bus.Conn, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	js := conn.JetStream()
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("store: bind bucket %s: %w", cfg.Bucket, err)
	}
	st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("store: bind bucket %s: %w", cfg.Bucket, err)
	}
	return newStore(cfg, js, kv, st), nil
}

var keyRE = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// ValidKey reports whether k can be used as a key.
func ValidKey(k string) bool { return keyRE.MatchString(k) }

func (s *Store) checkKey(k string) error {
	if !ValidKey(k) || strings.HasPrefix(k, "_skiff.") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, k)
	}
	return nil
}

func (s *Store) checkValue(v []byte) error {
	if len(v) > int(s.cfg.MaxValueSize) {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(v), s.cfg.MaxValueSize)
	}
	return nil
}

// Get returns the latest value of key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	if err := s.checkKey(key); err != nil {
		return Entry{}, err
	}
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return Entry{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return Entry{}, fmt.Errorf("get %s: %w", key, err)
	}
	return Entry{Key: key, Value: e.Value(), Revision: e.Revision(), Created: e.Created()}, nil
}

// Create stores value under key if the key does not exist (or was deleted)
// and returns the new revision, or ErrExists.
func (s *Store) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	if err := s.checkValue(value); err != nil {
		return 0, err
	}
	rev, err := s.publish(ctx, key, value, 0, opCreate)
	if err == nil {
		return rev, nil
	}
	if !errors.Is(err, ErrConflict) {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	// The key has history: it may be a tombstone, which Create may replace.
	last, gerr := s.st.GetLastMsgForSubject(ctx, s.prefix+key)
	if gerr == nil && isTombstone(last.Header) {
		rev, err = s.publish(ctx, key, value, last.Sequence, opCreate)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("create %s: %w", key, err)
		}
	}
	return 0, fmt.Errorf("create %s: %w", key, ErrExists)
}

// Update replaces key's value if its latest revision is rev and returns
// the new revision. It fails with ErrConflict when the key changed since
// rev, and with ErrNotFound when it does not exist.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	if err := s.checkValue(value); err != nil {
		return 0, err
	}
	if rev == 0 {
		return 0, fmt.Errorf("update %s: %w: revision 0", key, ErrConflict)
	}
	nrev, err := s.publish(ctx, key, value, rev, opUpdate)
	if err == nil {
		return nrev, nil
	}
	if errors.Is(err, ErrConflict) {
		if _, gerr := s.Get(ctx, key); errors.Is(gerr, ErrNotFound) {
			return 0, fmt.Errorf("update %s: %w", key, ErrNotFound)
		}
	}
	return 0, fmt.Errorf("update %s: %w", key, err)
}

// Delete writes a tombstone for key if its latest revision is rev (rev 0:
// whatever it is) and returns the tombstone's revision. last, which may be
// nil, is kept in the tombstone and handed to watchers with the Deleted
// event (the deleted object's final state). It fails with ErrNotFound when
// the key does not exist and ErrConflict when it changed.
func (s *Store) Delete(ctx context.Context, key string, rev uint64, last []byte) (uint64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, err
	}
	if rev == 0 {
		e, err := s.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("delete %s: %w", key, ErrNotFound)
		}
		rev = e.Revision
	}
	nrev, err := s.publish(ctx, key, last, rev, opDelete)
	if err == nil {
		return nrev, nil
	}
	if errors.Is(err, ErrConflict) {
		if _, gerr := s.Get(ctx, key); errors.Is(gerr, ErrNotFound) {
			return 0, fmt.Errorf("delete %s: %w", key, ErrNotFound)
		}
	}
	return 0, fmt.Errorf("delete %s: %w", key, err)
}

type writeOp int

const (
	opCreate writeOp = iota
	opUpdate
	opDelete
)

// hdrCreate marks a write that created its key, so that watchers can tell
// an addition from a modification.
const hdrCreate = "Skiff-Create"

// publish writes one message with the expected last revision of its key
// (0: the key must have no message at all).
func (s *Store) publish(ctx context.Context, key string, value []byte, expect uint64, op writeOp) (uint64, error) {
	m := &nats.Msg{Subject: s.prefix + key, Data: value, Header: nats.Header{}}
	switch op {
	case opDelete:
		m.Header.Set("KV-Operation", "DEL")
	case opCreate:
		m.Header.Set(hdrCreate, "1")
	}
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expect, 10))
	ack, err := s.js.PublishMsg(ctx, m)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, ErrConflict
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// Revision returns the bucket's latest revision.
func (s *Store) Revision(ctx context.Context) (uint64, error) {
	info, err := s.st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: revision: %w", err)
	}
	return info.State.LastSeq, nil
}

// CompactRevision returns the revision up to which tombstones may have been
// removed: watches and list continuations must start after it.
func (s *Store) CompactRevision(ctx context.Context) (uint64, error) {
	rev, _, err := s.compactRecord(ctx)
	return rev, err
}

// filter turns a key prefix ("" for all keys) into a subject filter.
func (s *Store) filter(prefix string) (string, error) {
	if prefix == "" {
		return s.prefix + ">", nil
	}
	if !ValidKey(prefix) {
		return "", fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
	}
	return s.prefix + prefix + ".>", nil
}

// ListResult is a consistent snapshot of the keys under a prefix.
type ListResult struct {
	// Entries are sorted by key.
	Entries []Entry
	// Deleted are the tombstones under the prefix that compaction has not
	// removed yet, sorted by key; Value is the deleted object's final state.
	Deleted []Entry
	// Revision is a revision at which Entries is the exact state of the
	// prefix; a watch from it misses nothing.
	Revision uint64
}

// List returns every live key under prefix ("" for all) with its value,
// as one consistent snapshot.
func (s *Store) List(ctx context.Context, prefix string) (ListResult, error) {
	return s.list(ctx, prefix, false)
}

// ListKeys is List without values.
func (s *Store) ListKeys(ctx context.Context, prefix string) (ListResult, error) {
	return s.list(ctx, prefix, true)
}

func (s *Store) list(ctx context.Context, prefix string, headersOnly bool) (ListResult, error) {
	filter, err := s.filter(prefix)
	if err != nil {
		return ListResult{}, err
	}
	live := map[string]Entry{}
	dead := map[string]Entry{}
	rev, err := s.scan(ctx, filter, headersOnly, func(e Entry, tombstone bool) {
		if strings.HasPrefix(e.Key, "_skiff.") {
			return
		}
		if tombstone {
			delete(live, e.Key)
			dead[e.Key] = e
			return
		}
		delete(dead, e.Key)
		live[e.Key] = e
	})
	if err != nil {
		return ListResult{}, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	return ListResult{Entries: sorted(live), Deleted: sorted(dead), Revision: rev}, nil
}

func sorted(m map[string]Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// scan calls fn, in revision order, for the last message of every key that
// matches filter, tombstones included, and for every message written to
// those keys while it runs, until it has caught up. It returns a revision
// at which the state that fn was shown is exact.
func (s *Store) scan(ctx context.Context, filter string, headersOnly bool, fn func(e Entry, tombstone bool)) (uint64, error) {
	// A revision taken before the consumer exists: if the filter has no
	// message after it, the snapshot is exact at it too.
	rev, err := s.Revision(ctx)
	if err != nil {
		return 0, err
	}
	cons, err := s.js.CreateConsumer(ctx, s.stream, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubject:     filter,
		HeadersOnly:       headersOnly,
		InactiveThreshold: 30 * time.Second,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.js.DeleteConsumer(dctx, s.stream, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		mb, err := cons.Fetch(int(min(pending, 4096)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return 0, err
		}
		got := 0
		for m := range mb.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			rev = max(rev, md.Sequence.Stream)
			pending = md.NumPending
			var val []byte
			if !headersOnly {
				val = m.Data()
			}
			key := strings.TrimPrefix(m.Subject(), s.prefix)
			fn(Entry{Key: key, Value: val, Revision: md.Sequence.Stream, Created: md.Timestamp}, isTombstone(m.Headers()))
		}
		if err := mb.Error(); err != nil {
			return 0, err
		}
		if got == 0 {
			// Messages counted as pending can vanish (superseded by a newer
			// value that the count already includes): ask the server.
			info, err := cons.Info(ctx)
			if err != nil {
				return 0, err
			}
			if info.NumPending == pending {
				return 0, fmt.Errorf("no progress with %d pending", pending)
			}
			pending = info.NumPending
		}
	}
	return rev, nil
}

func isTombstone(h nats.Header) bool {
	if len(h) == 0 {
		return false
	}
	switch h.Get("KV-Operation") {
	case "DEL", "PURGE":
		return true
	}
	return h.Get(jetstream.MarkerReasonHeader) != ""
}
