package plugins

import "syscall"

// mapNoReserve keeps a reservation from counting against the system's
// commit limit: only the pages a guest touches need memory.
const mapNoReserve = syscall.MAP_NORESERVE
