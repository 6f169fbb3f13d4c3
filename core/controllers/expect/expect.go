package expect

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// DefaultTTL is how long an unmet expectation holds a controller back.
const DefaultTTL = 5 * time.Minute

// Expectations holds the pending writes of one controller, by key (usually
// the owner's namespace/name).
type Expectations struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	adds int
	dels map[types.UID]struct{}
	at   time.Time
}

// New returns empty expectations that expire after ttl (DefaultTTL if 0).
// now is the clock (time.Now if nil).
func New(ttl time.Duration, now func() time.Time) *Expectations {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Expectations{ttl: ttl, now: now, m: map[string]*entry{}}
}

func (e *Expectations) get(key string) *entry {
	en, ok := e.m[key]
	if !ok {
		en = &entry{dels: map[types.UID]struct{}{}}
		e.m[key] = en
	}
	return en
}

// ExpectCreations records that n creations for key are under way. It
// replaces what was expected for key before, as a new round of writes
// only starts once the last one was satisfied.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.get(key)
	en.adds = n
	en.at = e.now()
}

// ExpectDeletions records that the objects with these UIDs are being
// deleted for key.
func (e *Expectations) ExpectDeletions(key string, uids []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.get(key)
	for _, u := range uids {
		en.dels[u] = struct{}{}
	}
	en.at = e.now()
}

// CreationObserved lowers key's pending creations by one: the informer
// delivered one, or a create failed and will not be delivered.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en, ok := e.m[key]; ok && en.adds > 0 {
		en.adds--
	}
}

// DeletionObserved records that uid's deletion for key was seen (or
// failed). Unknown UIDs are ignored.
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en, ok := e.m[key]; ok {
		delete(en.dels, uid)
	}
}

// Satisfied reports whether key has no pending writes (or they are older
// than the TTL), so that the controller may act on its cache.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.m[key]
	if !ok {
		return true
	}
	if en.adds <= 0 && len(en.dels) == 0 {
		return true
	}
	return e.now().Sub(en.at) > e.ttl
}

// Pending returns key's pending creations and deletions.
func (e *Expectations) Pending(key string) (adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en, ok := e.m[key]; ok {
		return en.adds, len(en.dels)
	}
	return 0, 0
}

// Forget drops what is expected for key (its owner is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
