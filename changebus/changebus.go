// Package changebus carries mailbox change notices from the store, which
// publishes them after a commit, to their subscribers (the IMAP server,
// which wakes IDLE sessions), as maddy's updatepipe does. The bus exists
// before either side, so neither needs the other to be built first.
//
// The bus is in-process; a Relay (StartRelay) carries the changes between
// the nodes that share one database through Redis pub/sub, so that a
// subscriber sees every node's changes.
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
	mu    sync.Mutex // serializes Subscribe
	subs  atomic.Pointer[[]Func]
	local atomic.Pointer[[]Func] // this node's changes only (the Relay)
}

// New returns an empty Bus.
func New() *Bus { return &Bus{} }

// Subscribe adds fn; it receives every change published after it
// returns, this node's and (through a Relay) the other nodes'.
func (b *Bus) Subscribe(fn Func) { b.add(&b.subs, fn) }

// subscribeLocal adds fn for the changes of this node only.
func (b *Bus) subscribeLocal(fn Func) { b.add(&b.local, fn) }

func (b *Bus) add(list *atomic.Pointer[[]Func], fn Func) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next []Func
	if cur := list.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, fn)
	list.Store(&next)
}

// Publish hands a change made on this node (the store's, after its
// commit) to every subscriber and to the Relay. With none it is dropped:
// nobody is waiting for it.
func (b *Bus) Publish(accountID, mailboxID, modseq int64) {
	call(b.subs.Load(), accountID, mailboxID, modseq)
	call(b.local.Load(), accountID, mailboxID, modseq)
}

// PublishRemote hands a change made on another node to the subscribers;
// accountID is 0 when the notice did not carry it.
func (b *Bus) PublishRemote(accountID, mailboxID, modseq int64) {
	call(b.subs.Load(), accountID, mailboxID, modseq)
}

func call(fns *[]Func, accountID, mailboxID, modseq int64) {
	if fns != nil {
		for _, fn := range *fns {
			fn(accountID, mailboxID, modseq)
		}
	}
}
