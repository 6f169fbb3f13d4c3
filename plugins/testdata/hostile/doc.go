// Command hostile is a guest that misbehaves on request, written against
// the raw ABI (package abi, no SDK). Its settings are the default mode;
// a pod annotated hostile=<mode> picks the mode for its calls:
//
//	ok          answer properly (every node passes, scores 50)
//	loop        never return
//	bomb        allocate until memory runs out
//	trap        execute unreachable
//	panic       panic (nothing recovers it)
//	exit        exit with code 3 (proc_exit)
//	garbage     answer bytes that are no response
//	outside     answer a pointer outside memory
//	short       answer one verdict or score too few
//	range       score 1000
//	error       answer an error status
//
// Settings "refuse" make configure fail; settings "pure" mean mode ok and
// an info that claims purity and reads only the pod's annotations, so
// that a host caches its answers (it must not cache failures).
package main
