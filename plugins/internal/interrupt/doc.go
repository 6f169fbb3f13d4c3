// Package interrupt rewrites a WebAssembly module so that a host can stop
// it cheaply. It adds two mutable i32 globals, a countdown and a flag
// (exported as Export), and makes every loop iteration count down; when
// the count reaches zero (every Budget iterations) the guest executes
// memory.grow 0, which wazero implements by returning to Go (a point
// where the Go runtime can preempt the goroutine and stop it for garbage
// collection), then traps (unreachable) if the host has set the flag, and
// counts down again. Code without loops runs to its end in bounded time.
//
// Why not wazero's WithCloseOnContextDone: it checks the same thing at
// the same places, but returns to Go at every loop iteration, which made
// Go guests 4-5 times slower (docs/abi.md, "Deadlines"). Here an
// iteration costs a load, a store and a branch. Why return to Go at all:
// compiled guest code cannot be preempted, so a goroutine that loops in
// it without ever returning would stall every stop-the-world pause of the
// garbage collector, and with it the whole process.
//
// Modules with a start section are refused: the start function runs
// during instantiation, before the host can reach the flag, so it could
// not be stopped. WASI reactors start through an exported _initialize,
// which the host calls like any export. Modules without a memory are
// refused too (memory.grow needs one; the ABI requires one anyway).
//
// Instrument also merges the module's data segments where that cannot
// change what memory holds (see mergeData): Go's linker emits tens of
// thousands of them, and wazero keeps each one, with a slice header per
// segment in every instance (about 4 MB of Go heap per Go guest).
//
// Instrument is a pure function of its input and safe for concurrent
// use. It decodes every instruction of every function (MVP, sign
// extension, saturating conversions, bulk memory, reference types, tail
// calls, exception handling, SIMD, threads) and refuses what it cannot
// decode rather than guess.
package interrupt
