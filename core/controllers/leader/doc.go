// Package leader elects one active replica among several on a
// coordination.k8s.io Lease, as client-go's leaderelection does, so that
// several controller managers can run with one of them acting.
//
// The decision is a pure state machine, Candidate: it is told what the
// lease holds and when, and answers what to write (acquire or renew) and
// whether it may act. Elector is the thin runner that reads and writes the
// Lease through the API server (compare-and-swap on its resourceVersion)
// and runs the caller's function while it leads.
//
// Safety rests on three rules:
//   - a candidate judges another's lease by its own clock: the lease is
//     valid until LeaseDuration after this candidate first saw that exact
//     record (not by the times written in it, so clock skew does not
//     matter, only clock rate);
//   - the leader stops acting RenewDeadline after the start of its last
//     successful write, and RenewDeadline < LeaseDuration, so it stops
//     before anyone else may take over;
//   - every write is a compare-and-swap on the record the candidate last
//     read, so two candidates cannot both acquire the same expired lease.
//
// A leader that stops (its context ends) releases the lease, so that
// another replica takes over within one RetryPeriod instead of waiting for
// the lease to expire.
//
// Concurrency: a Candidate is not safe for concurrent use (the Elector
// owns one). Elector.Run blocks until the function it runs has returned.
package leader
