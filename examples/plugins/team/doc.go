// Command team is a Skiff scheduler plugin (Filter) that keeps each
// team's pods on its own nodes: a pod annotated skiff.dev/team=<team>
// may only go to nodes labelled team=<team>. Pods without the annotation
// are not restricted.
//
// Settings (JSON, optional): {"annotation": "skiff.dev/team", "label":
// "team"} (the defaults).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o team.wasm .
package main
