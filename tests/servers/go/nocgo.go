//go:build !cgoblock

package main

import "time"

// The pure build: no cgo, no C compiler needed; -block-us must stay 0.
const cgoBlock = false

const defaultBlockUs = 0

func blockInC(time.Duration) {}
