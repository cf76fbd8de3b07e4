// Package safego runs background goroutines that log a panic instead of
// taking the process down.
package safego

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// Go runs fn in a goroutine counted by wg (if not nil). A panic in fn is
// logged with its stack under name and passed to onPanic (if not nil) as
// an error.
func Go(wg *sync.WaitGroup, log *slog.Logger, name string, fn func(), onPanic func(error)) {
	if wg != nil {
		wg.Add(1)
	}
	go func() {
		if wg != nil {
			defer wg.Done()
		}
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in "+name, "panic", p, "stack", string(debug.Stack()))
				if onPanic != nil {
					onPanic(fmt.Errorf("%s: panic: %v", name, p))
				}
			}
		}()
		fn()
	}()
}
