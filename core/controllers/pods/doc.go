// Package pods answers the questions controllers ask about a pod's state
// (active, ready, available, terminating), with Kubernetes' definitions.
// Every function is pure and safe for concurrent use.
package pods
