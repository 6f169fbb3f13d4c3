// Command good is a well-behaved guest fixture for the host's tests.
package main
