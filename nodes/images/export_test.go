package images

// Waiting exposes to the tests how many callers wait for an import.
func Waiting(p *Puller, name string) int { return p.waiting(name) }
