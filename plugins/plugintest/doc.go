// Package plugintest builds Go guest modules for tests and loads them into
// a host (NewHost, Load) that closes with the test. Each guest package is
// compiled once per test binary as a WASI reactor (GOOS=wasip1
// GOARCH=wasm go build -buildmode=c-shared), the way plugin authors build
// theirs. Minimal is a hand-assembled module that loads in milliseconds,
// one of its own digest per tag.
//
// Concurrency: Build and Prebuild are safe for concurrent use; a package
// asked for by several tests is built once.
package plugintest
