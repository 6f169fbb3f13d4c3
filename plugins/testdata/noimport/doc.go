// Command noimport is a guest fixture whose module imports a host function that does not exist.
package main
