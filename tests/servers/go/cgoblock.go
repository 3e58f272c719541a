//go:build cgoblock

package main

/*
#include <errno.h>
#include <time.h>

// Blocks the calling thread for us microseconds, resuming after signals (Go sends SIGURG to
// preempt goroutines, which would otherwise cut the sleep short).
static void numaload_block_us(long us) {
	struct timespec left = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&left, &left) == -1 && errno == EINTR) {
	}
}
*/
import "C"

import "time"

// The cgo build: the handler blocks in C after its spin, holding its OS thread.
const cgoBlock = true

const defaultBlockUs = 1000

func blockInC(d time.Duration) { C.numaload_block_us(C.long(d / time.Microsecond)) }
