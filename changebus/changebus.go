// Package changebus carries mailbox change notices from the store, which
// publishes them after a commit, to their subscribers (the IMAP server,
// which wakes IDLE sessions), as maddy's updatepipe does. The bus exists
// before either side, so neither needs the other to be built first.
//
// The bus is in-process; the IMAP server relays notices between nodes
// through Redis pub/sub.
package changebus

import (
	"sync"
	"sync/atomic"
)

// Func receives one mailbox change: the mailbox's account, the mailbox
// and its new modseq. It must not block.
type Func func(accountID, mailboxID, modseq int64)

// Bus fans mailbox changes out to its subscribers. The zero value is
// ready to use.
type Bus struct {
	mu   sync.Mutex // serializes Subscribe
	subs atomic.Pointer[[]Func]
}

// New returns an empty Bus.
func New() *Bus { return &Bus{} }

// Subscribe adds fn; it receives every change published after it returns.
func (b *Bus) Subscribe(fn Func) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next []Func
	if cur := b.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, fn)
	b.subs.Store(&next)
}

// Publish hands a change to every subscriber. With none it is dropped:
// nobody is waiting for it.
func (b *Bus) Publish(accountID, mailboxID, modseq int64) {
	if cur := b.subs.Load(); cur != nil {
		for _, fn := range *cur {
			fn(accountID, mailboxID, modseq)
		}
	}
}
