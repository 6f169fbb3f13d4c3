// Package leader elects one active replica among several through a
// coordination/v1 Lease: the replica that holds the lease leads, renews it
// every RetryPeriod, and stops leading when it has not renewed for
// RenewDeadline; the others take the lease over once they have seen it
// unchanged for LeaseDuration. Writes are compare-and-swap on the lease's
// resourceVersion, so two replicas can never both win one round.
//
// Decide is the pure core: given the lease as last observed, the local
// clock and the replica's identity, it says whether to wait, create the
// lease or update it, and whether the replica may lead right now. Elector
// is the thin runner around it that reads and writes the lease through
// the API and starts and stops the leader's work.
//
// Safety rests on RenewDeadline < LeaseDuration and on clocks that run at
// about the same rate (not on synchronized clocks): a leader measures its
// deadline from before it sent its last successful renewal, a follower its
// wait from when it saw that renewal, which is later.
//
// Concurrency: an Elector's Run owns one goroutine for the leader's work,
// started on winning and waited for on losing; Leading is safe to call
// from any goroutine.
package leader
