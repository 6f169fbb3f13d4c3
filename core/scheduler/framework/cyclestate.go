package framework

import (
	"errors"
	"sync"
)

// StateKey names a plugin's data in a CycleState; by convention the
// plugin's name plus a suffix.
type StateKey string

// StateData is what plugins store in a CycleState.
type StateData interface {
	// Clone returns a copy that can be changed without changing the
	// original (preemption simulations clone the state); data that is
	// never changed after PreFilter may return itself.
	Clone() StateData
}

// ErrNotFound is returned by CycleState.Read for a key never written.
var ErrNotFound = errors.New("framework: not found in cycle state")

// CycleState is the data of one pod's scheduling attempt, shared by the
// plugins of its cycles (scheduling and binding). It is safe for
// concurrent use.
type CycleState struct {
	lister Lister
	// nominated is lister when it has nominated pods, else nil.
	nominated NominatedLister

	mu   sync.RWMutex
	data map[StateKey]StateData

	// Set by the framework, read by it only.
	skipFilter map[string]bool
	skipScore  map[string]bool
	narrowedBy []string // PreFilter plugins that narrowed the nodes
}

// NewCycleState returns an empty state for a cycle over lister's nodes.
func NewCycleState(lister Lister) *CycleState {
	s := &CycleState{lister: lister}
	if nl, ok := lister.(NominatedLister); ok && nl.HasNominatedPods() {
		s.nominated = nl
	}
	return s
}

// Nodes is the snapshot the cycle runs over.
func (s *CycleState) Nodes() Lister { return s.lister }

// Read returns the data under key, or ErrNotFound.
func (s *CycleState) Read(key StateKey) (StateData, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d, ok := s.data[key]; ok {
		return d, nil
	}
	return nil, ErrNotFound
}

// Write stores data under key.
func (s *CycleState) Write(key StateKey, data StateData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		s.data = map[StateKey]StateData{}
	}
	s.data[key] = data
}

// Delete removes key.
func (s *CycleState) Delete(key StateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
}

// Clone copies the state (cloning each datum).
func (s *CycleState) Clone() *CycleState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := &CycleState{lister: s.lister, nominated: s.nominated, skipFilter: s.skipFilter, skipScore: s.skipScore, narrowedBy: s.narrowedBy}
	if s.data != nil {
		c.data = make(map[StateKey]StateData, len(s.data))
		for k, v := range s.data {
			c.data[k] = v.Clone()
		}
	}
	return c
}

// ReadAs reads key and asserts its type.
func ReadAs[T StateData](s *CycleState, key StateKey) (T, error) {
	var zero T
	d, err := s.Read(key)
	if err != nil {
		return zero, err
	}
	t, ok := d.(T)
	if !ok {
		return zero, errors.New("framework: cycle state " + string(key) + " has an unexpected type")
	}
	return t, nil
}
