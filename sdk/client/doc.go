// Package client is Skiff's Go client. Writes and reads go to the API
// server over NATS request/reply; watches and informers read the state
// store's KV watch directly (list at a revision, then watch from it), so
// that reads scale with NATS rather than with the API server.
//
// Typed access is generic: For[*corev1.Pod](c) returns a Typed client for
// pods. Errors from the API server are *errors.StatusError from
// k8s.io/apimachinery, so apierrors.IsNotFound and friends work; a request
// whose context ends fails with an error wrapping the context's, and one
// that cannot reach an API server with a 503 ServiceUnavailable status.
//
// Concurrency: a *Client and its Typed views are safe for concurrent use.
// A Watcher owns one goroutine, which ends with its context or Stop.
// An Informer runs on the goroutine that calls Run and calls its handlers
// there, one at a time, in revision order; objects it hands out are shared
// and must not be modified.
package client
