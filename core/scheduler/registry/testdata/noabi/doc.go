// Command noabi is a valid WebAssembly module (Go, wasip1, c-shared)
// that does not speak the plugin ABI: it exports none of its functions.
// The registry's tests push it to check that such a module is refused in
// one line.
package main
