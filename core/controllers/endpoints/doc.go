// Package endpoints is the Endpoints controller: for each Service with a
// selector it keeps an Endpoints object of the same name listing the
// pods the selector matches, ready ones in addresses and the others in
// notReadyAddresses, with the ports the Service's targetPorts resolve to
// on each pod (by number, or by container port name). A Service's
// Endpoints is deleted with it. Services without a selector are left to
// their users.
//
// Desired is the pure core; Controller the shell over the shared cache.
//
// Concurrency: handlers run on the informers' goroutines and only queue
// Service keys; Run's workers sync distinct Services in parallel.
package endpoints
