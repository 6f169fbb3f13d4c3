package scheduler

import (
	"sync/atomic"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// generation is one consistent set of profiles: a scheduling cycle (and a
// dry run) takes the current generation at its start and uses it to the
// end, so that a swap of profiles or plugin versions never changes the
// plugins under a cycle. A generation counts its users; the scheduler
// holds one reference while it is current, and when the last reference
// goes, idle runs once (it releases the generation's modules).
type generation struct {
	profiles map[string]*framework.Framework
	refs     atomic.Int64
	mods     []*module
	idle     func(*generation)
}

func newGeneration(profiles map[string]*framework.Framework, mods []*module, idle func(*generation)) *generation {
	g := &generation{profiles: profiles, mods: mods, idle: idle}
	g.refs.Store(1)
	return g
}

// tryRef takes a reference unless the generation is already idle.
func (g *generation) tryRef() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (g *generation) release() {
	n := g.refs.Add(-1)
	if n == 0 && g.idle != nil {
		g.idle(g)
	}
	if n < 0 {
		panic("bug: scheduler: generation released more often than referenced")
	}
}

// acquire returns the current generation with a reference for the
// caller, who must release it.
func (s *Scheduler) acquire() *generation {
	for {
		if g := s.gen.Load(); g.tryRef() {
			return g
		}
		// Replaced and idle meanwhile: the next one is current.
	}
}

// install makes g current and drops the scheduler's reference on the
// previous generation.
func (s *Scheduler) install(g *generation) {
	if old := s.gen.Swap(g); old != nil {
		old.release()
	}
}

// profile returns the current framework of a schedulerName, for the
// queue's and informers' decisions (which call no uploaded plugin).
func (s *Scheduler) profile(name string) (*framework.Framework, bool) {
	fw, ok := s.gen.Load().profiles[name]
	return fw, ok
}
