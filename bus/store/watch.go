package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventType says what happened to a key.
type EventType int

// Event types.
const (
	Put EventType = iota + 1
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Put:
		return "PUT"
	case Deleted:
		return "DELETE"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is one change seen by a Watcher. For Deleted, Revision is the
// tombstone's and Value is what Delete was given to keep in it.
type Event struct {
	Type     EventType
	Key      string
	Value    []byte
	Revision uint64
	Created  time.Time
	// IsCreate is true when the write created the key (a Put of a key that
	// did not exist or had been deleted).
	IsCreate bool
}

// Watcher delivers the changes under a prefix in revision order. Its
// channel closes when the watch ends; Err then says why (nil after Stop).
type Watcher struct {
	events chan Event
	stop   context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Events is the channel of changes; it is closed when the watch ends.
func (w *Watcher) Events() <-chan Event { return w.events }

// Err is why the watch ended: nil if stopped, ErrTooOld if it fell too far
// behind, or a transport error.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch and waits for its goroutine. It is idempotent.
func (w *Watcher) Stop() {
	w.stop()
	<-w.done
}

func (w *Watcher) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// Watch delivers every change under prefix ("" for all) with a revision
// above from, starting with those already stored (from 0: everything the
// bucket holds; pass Revision() for "from now on"). It fails with ErrTooOld
// when from is above 0 and below the compaction revision.
func (s *Store) Watch(ctx context.Context, prefix string, from uint64) (*Watcher, error) {
	filter, err := s.filter(prefix)
	if err != nil {
		return nil, err
	}
	compacted, err := s.CompactRevision(ctx)
	if err != nil {
		return nil, err
	}
	// A watch from 0 knows of no key yet, so no removed tombstone can
	// matter to it.
	if from > 0 && from < compacted {
		return nil, fmt.Errorf("watch %s from %d (compacted to %d): %w", prefix, from, compacted, ErrTooOld)
	}
	filters := []string{filter}
	if prefix != "" {
		filters = append(filters, s.prefix+compactKey)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    filters,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from + 1,
		InactiveThreshold: 30 * time.Second,
	}
	cons, err := s.js.OrderedConsumer(ctx, s.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", prefix, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", prefix, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &Watcher{events: make(chan Event, 256), stop: cancel, done: make(chan struct{})}
	go func() {
		<-wctx.Done()
		iter.Stop()
	}()
	go w.run(wctx, iter, s.prefix, s.cfg.CompactGrace)
	return w, nil
}

// run forwards messages until the iterator or ctx ends. When it reaches a
// compaction record that is older than grace, tombstones it had not yet
// delivered may have been removed, so it ends with ErrTooOld.
func (w *Watcher) run(ctx context.Context, iter jetstream.MessagesContext, prefix string, grace time.Duration) {
	defer close(w.done)
	defer close(w.events)
	for {
		m, err := iter.Next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				w.fail(fmt.Errorf("store: watch: %w", err))
			}
			return
		}
		md, err := m.Metadata()
		if err != nil {
			w.fail(fmt.Errorf("store: watch: %w", err))
			return
		}
		key := strings.TrimPrefix(m.Subject(), prefix)
		if key == compactKey {
			// The record carries the grace period of the compactor that
			// wrote it, which may differ from this client's setting.
			if _, g, ok := parseCompactRecord(m.Data()); ok && g > 0 {
				grace = g
			}
			if late := time.Since(md.Timestamp); late > grace {
				w.fail(fmt.Errorf("watch reached compaction at revision %d %s late: %w", md.Sequence.Stream, late.Round(time.Second), ErrTooOld))
				return
			}
			continue
		}
		ev := Event{Type: Put, Key: key, Value: m.Data(), Revision: md.Sequence.Stream, Created: md.Timestamp}
		if isTombstone(m.Headers()) {
			ev.Type = Deleted
		} else if m.Headers().Get(hdrCreate) != "" {
			ev.IsCreate = true
		}
		select {
		case w.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}
