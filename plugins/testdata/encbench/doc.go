// Command encbench is the guest of the encoding benchmark
// (BenchmarkEncoding): a score plugin whose node records are in the
// encoding its settings name, "binary" (ABI v1 records, read through
// views), "json" (encoding/json of abi.Node) or "proto" (protobuf, see
// package pb). Each node scores MostAllocated over cpu and memory, and 0
// when its label team differs from the pod's annotation skiff.dev/team:
// the work of the example plugins, reading labels and resources.
//
// It keeps no node table: the benchmark sends every node as an update,
// in candidate order, and the guest decodes each one, every call; that is
// what decoding costs per node.
package main
