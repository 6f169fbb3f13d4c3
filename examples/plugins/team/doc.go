// Command team is an example scheduler filter plugin, built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared: it keeps only nodes whose team label matches the pod's skiff.dev/team annotation.
package main
