// Command good is a well-behaved guest for the host's tests, built with
// the SDK. Filter rejects nodes labelled reject=<why> ("rejected: <why>",
// Unschedulable). Score gives a node its label score=<n>, or the
// settings' default {"score": n}.
package main
