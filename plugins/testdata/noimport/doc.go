// Command noimport is a guest that cannot be instantiated: it imports a
// function the host does not provide.
package main
