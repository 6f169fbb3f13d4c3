// Package pb holds the protobuf messages of the encoding benchmark fixture.
package pb
