// Package scenario runs the controllers' scenario files: plain text
// files of cases, each a command line, input lines, a "----" line and the
// expected output, ended by a blank line:
//
//	# a comment
//	plan replicas=3
//	pod a node=n1 phase=Running ready
//	----
//	create 2
//
// Run calls a function with each case and compares what it returns with
// the expected output; with update set it rewrites the file with what the
// function returned instead, so that scenarios are regenerated with
// `go test -update` and reviewed in the diff, like code.
package scenario
