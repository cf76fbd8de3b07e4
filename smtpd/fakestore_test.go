package smtpd

// TEMPORARY: an in-memory stand-in for the store while store/ is being
// implemented (CONGTHU_SMTPD_FAKESTORE=1). Deleted once the store lands.

import (
	"context"
	"strings"
	"sync"
	"time"

	"congthu/store"
)

type fakeStore struct {
	mu       sync.Mutex
	domains  map[string]bool
	accounts map[string]*store.Account
	pass     map[string]string
	aliases  map[string]string
	boxes    map[int64][]*store.Message // account ID (as mailbox ID) -> INBOX
	outbox   []*store.OutboxMessage
	outRaw   [][]byte
}

func newFakeStore() *fakeStore {
	return &fakeStore{domains: map[string]bool{}, accounts: map[string]*store.Account{}, pass: map[string]string{},
		aliases: map[string]string{}, boxes: map[int64][]*store.Message{}}
}

func (f *fakeStore) AddDomain(ctx context.Context, name string) (*store.Domain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domains[name] = true
	return &store.Domain{Name: name}, nil
}

func (f *fakeStore) AddAccount(ctx context.Context, address, password string) (*store.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &store.Account{ID: int64(len(f.accounts) + 1), Address: address}
	f.accounts[address] = a
	f.pass[address] = password
	return a, nil
}

func (f *fakeStore) AddAlias(ctx context.Context, target, alias string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aliases[alias] = target
	return nil
}

func (f *fakeStore) Authenticate(ctx context.Context, address, password string) (*store.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[strings.ToLower(address)]
	if a == nil || f.pass[a.Address] != password {
		return nil, store.ErrAuthFailed
	}
	return a, nil
}

func (f *fakeStore) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.domains[strings.ToLower(name)], nil
}

func (f *fakeStore) ResolveRecipient(ctx context.Context, address string) (*store.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	address = strings.ToLower(address)
	if t, ok := f.aliases[address]; ok {
		address = t
	}
	if a := f.accounts[address]; a != nil {
		return a, nil
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) CanSendAs(ctx context.Context, accountID int64, address string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	address = strings.ToLower(address)
	if t, ok := f.aliases[address]; ok {
		address = t
	}
	a := f.accounts[address]
	return a != nil && a.ID == accountID, nil
}

func (f *fakeStore) Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error) {
	time.Sleep(time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	res := &store.DeliveryResult{}
	for _, l := range d.Local {
		box := f.boxes[l.AccountID]
		uid := uint32(len(box) + 1)
		m := &store.Message{Raw: d.Raw}
		m.UID = uid
		m.Size = int64(len(d.Raw))
		f.boxes[l.AccountID] = append(box, m)
		res.Local = append(res.Local, store.AppendResult{MailboxID: l.AccountID, UID: uid})
	}
	if len(d.Remote) > 0 {
		o := &store.OutboxMessage{ID: int64(len(f.outbox) + 1), MailFrom: d.MailFrom, Size: int64(len(d.Raw))}
		for _, r := range d.Remote {
			o.Recipients = append(o.Recipients, store.OutboxRecipient{Address: r, Status: "queued"})
		}
		f.outbox = append(f.outbox, o)
		f.outRaw = append(f.outRaw, d.Raw)
		res.OutboxID = o.ID
	}
	return res, nil
}

func (f *fakeStore) Mailbox(ctx context.Context, accountID int64, name string) (*store.Mailbox, error) {
	return &store.Mailbox{ID: accountID, AccountID: accountID, Name: "INBOX"}, nil
}

func (f *fakeStore) Messages(ctx context.Context, mailboxID int64) ([]store.MessageMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ms []store.MessageMeta
	for _, m := range f.boxes[mailboxID] {
		ms = append(ms, m.MessageMeta)
	}
	return ms, nil
}

func (f *fakeStore) Message(ctx context.Context, mailboxID int64, uid uint32) (*store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	box := f.boxes[mailboxID]
	if uid == 0 || int(uid) > len(box) {
		return nil, store.ErrNotFound
	}
	return box[uid-1], nil
}

func (f *fakeStore) OutboxDue(ctx context.Context, t time.Time, limit int) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for _, o := range f.outbox {
		ids = append(ids, o.ID)
	}
	return ids, nil
}

func (f *fakeStore) Outbox(ctx context.Context, id int64) (*store.OutboxMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outbox[id-1], nil
}

func (f *fakeStore) OutboxRaw(ctx context.Context, id int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outRaw[id-1], nil
}

func (f *fakeStore) Close() error { return nil }
