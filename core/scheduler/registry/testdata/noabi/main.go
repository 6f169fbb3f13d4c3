// Command noabi is a valid WebAssembly module (Go, wasip1, c-shared)
// that does not speak the plugin ABI: it exports none of its functions.
package main

func main() {}
