// Package plugintest builds Go guest modules for tests: each package is
// compiled once per test binary as a WASI reactor (GOOS=wasip1
// GOARCH=wasm go build -buildmode=c-shared), the way plugin authors build
// theirs.
//
// Concurrency: Build and Prebuild are safe for concurrent use; a package
// asked for by several tests is built once.
package plugintest
