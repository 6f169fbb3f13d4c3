// Package plugin is the guest SDK for Skiff's WASM scheduler plugins. A
// plugin is an ordinary Go main package that registers its extension
// points in init and is built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o team.wasm .
//
//	package main
//
//	import "github.com/skiffhq/skiff/sdk/plugin"
//
//	func init() {
//		plugin.RegisterFilter(func(pod plugin.Pod, nodes []plugin.Node, verdicts []plugin.Verdict) error {
//			team, _ := pod.Annotations().Get("skiff.dev/team")
//			for i, n := range nodes {
//				if v, _ := n.Labels().Get("team"); v != team {
//					verdicts[i] = plugin.RejectUnresolvable("node(s) belong to another team")
//				}
//			}
//			return nil
//		})
//		plugin.ReadsNode(plugin.Labels)
//	}
//
//	func main() {}
//
// The SDK implements the ABI of docs/abi.md (package abi): its exports,
// the buffer the host writes requests into, and the responses. Plugins see
// typed, read-only views of the pod and its candidate nodes, and answer
// for all nodes in one call.
//
// Registration happens in init: a c-shared (reactor) module runs package
// initialisation when the host instantiates it, and never runs main.
// ReadsNode and ReadsPod declare what the plugin reads (the host sends
// only that; reading more panics), and Pure promises that a node's answer
// depends on nothing else, which lets the host answer most calls from a
// cache (docs/abi.md, "Cached answers").
//
// Lifetimes: the pod's view and the strings it returns alias the request
// buffer, which the next call overwrites: they are valid until the
// callback returns; copy (strings.Clone) what you keep. Node views alias
// the instance's node table, whose records are replaced, never changed,
// so they stay valid, but describe the node as it was.
//
// Concurrency: the host calls an instance once at a time, so callbacks
// need no locking; it runs several instances of the module for parallel
// calls, so globals are per instance and are not shared between calls in
// general. A panic in a callback is recovered and reported to the host as
// the plugin's error; a fatal error (out of memory) ends the instance.
package plugin
