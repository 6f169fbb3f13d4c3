package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Compact removes tombstones in two steps so that no watcher loses a
// deletion silently. Each call first removes the tombstones announced by an
// earlier call at least CompactGrace ago, then announces, as the new
// compaction revision, the newest tombstone older than TombstoneRetention.
// It returns how many tombstones it removed. Running it from several
// replicas at once is safe: removal is idempotent and announcements only
// move forward.
func (s *Store) Compact(ctx context.Context) (int, error) {
	announced, at, err := s.compactRecord(ctx)
	if err != nil {
		return 0, err
	}
	if announced > 0 && time.Since(at) < s.cfg.CompactGrace {
		return 0, nil // the last announcement is still in its grace period
	}
	type tomb struct {
		subject string
		rev     uint64
		created time.Time
	}
	var tombs []tomb
	_, err = s.scan(ctx, s.prefix+">", true, func(e Entry, tombstone bool) {
		if tombstone && !strings.HasPrefix(e.Key, "_skiff.") {
			tombs = append(tombs, tomb{s.prefix + e.Key, e.Revision, e.Created})
		}
	})
	if err != nil {
		return 0, fmt.Errorf("store: compact: %w", err)
	}
	st := s.st
	removed := 0
	var next uint64
	cutoff := time.Now().Add(-s.cfg.TombstoneRetention)
	for _, t := range tombs {
		switch {
		case t.rev <= announced:
			// Purge the tombstone and anything older of that key, but
			// never a value written after it.
			err := st.Purge(ctx, jetstream.WithPurgeSubject(t.subject), jetstream.WithPurgeSequence(t.rev+1))
			if err != nil {
				return removed, fmt.Errorf("store: compact %s: %w", t.subject, err)
			}
			removed++
		case t.created.Before(cutoff):
			next = max(next, t.rev)
		}
	}
	if next > announced {
		record := strconv.FormatUint(next, 10) + " " + strconv.FormatInt(int64(s.cfg.CompactGrace), 10)
		if _, err := s.kv.Put(ctx, compactKey, []byte(record)); err != nil {
			return removed, fmt.Errorf("store: compact: announce %d: %w", next, err)
		}
	}
	return removed, nil
}

func (s *Store) compactRecord(ctx context.Context) (uint64, time.Time, error) {
	e, err := s.kv.Get(ctx, compactKey)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return 0, time.Time{}, nil
		}
		return 0, time.Time{}, fmt.Errorf("store: compact record: %w", err)
	}
	v, _, ok := parseCompactRecord(e.Value())
	if !ok {
		return 0, time.Time{}, fmt.Errorf("store: compact record %q is malformed", e.Value())
	}
	return v, e.Created(), nil
}

// parseCompactRecord reads "<revision> <grace in ns>" (the grace is
// optional, for records written before it was added).
func parseCompactRecord(b []byte) (rev uint64, grace time.Duration, ok bool) {
	revStr, graceStr, _ := strings.Cut(string(b), " ")
	rev, err := strconv.ParseUint(revStr, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if graceStr != "" {
		g, err := strconv.ParseInt(graceStr, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		grace = time.Duration(g)
	}
	return rev, grace, true
}
