// Package pb encodes abi.Node as a protocol buffer message, by hand with
// protowire (what generated code does, without its reflection), for the
// encoding benchmark: a lower bound on protobuf's cost.
//
//	message Node { string name = 1; map<string,string> labels = 2;
//	  map<string,string> annotations = 3; repeated Taint taints = 4;
//	  bool unschedulable = 5; Resources allocatable = 6; Resources requested = 7;
//	  int64 non_zero_milli_cpu = 8; int64 non_zero_memory = 9; int64 pods = 10; }
//	message Taint { string key = 1; string value = 2; int32 effect = 3; }
//	message Resources { int64 milli_cpu = 1; int64 memory = 2; int64 ephemeral = 3;
//	  int64 pods = 4; repeated Scalar scalars = 5; }
//	message Scalar { string name = 1; int64 value = 2; }
package pb
