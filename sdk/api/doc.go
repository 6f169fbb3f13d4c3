// Package api is the contract shared by Skiff's API server and its clients:
// the table of served resources (group, version, plural, kind, scope), the
// layout of their keys in the state store, the codec that encodes objects
// for storage and for the wire, and the NATS request/reply protocol of the
// API server.
//
// Objects are the Kubernetes types from k8s.io/api. Everything here is
// immutable after package initialisation and safe for concurrent use.
package api
