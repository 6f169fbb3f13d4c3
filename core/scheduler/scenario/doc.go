// Package scenario reads and runs scheduler scenario files: a cluster
// (nodes, namespaces, running pods) and pods to schedule in a compact
// text format, then the placements the scheduler is expected to make.
// Run feeds a scenario to scheduler.Simulate, the scheduler's decision
// core, and writes the placements in the same format, so that a file's
// expectations can be regenerated (go test -update) and reviewed as a
// diff. docs/scheduler.md describes the format.
//
// A scenario file:
//
//	# NodeResourcesFit: a pod goes where it fits.
//	node small cpu=1 memory=2Gi
//	node big   cpu=8 memory=32Gi labels=disk=ssd
//	pod running on=small cpu=500m
//	pod web cpu=2 memory=1Gi
//	pod huge cpu=64
//	--- want
//	web: big
//	huge: unschedulable: 0/2 nodes are available: 2 Insufficient cpu.
//
// Concurrency: everything here is a pure function of its input.
package scenario
