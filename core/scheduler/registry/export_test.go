package registry

import "time"

// SetClock makes r read the time from now.
func SetClock(r *Registry, now func() time.Time) { r.now = now }

// SetBeforeWrite makes Push call f just before it writes the Plugin.
func SetBeforeWrite(r *Registry, f func()) { r.beforeWrite = f }
