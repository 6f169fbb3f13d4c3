#include "textflag.h"

// func unreachable() executes the wasm unreachable instruction (a trap).
TEXT ·unreachable(SB), NOSPLIT, $0-0
	UNDEF
	RET
