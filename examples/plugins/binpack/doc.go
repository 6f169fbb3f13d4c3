// Command binpack is an example scheduler score plugin, built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared: it prefers nodes whose requested/allocatable ratio is highest.
package main
