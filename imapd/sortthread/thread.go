package sortthread

import (
	"cmp"
	"slices"
)

// Thread is one message of a thread tree and the messages under it. Num is
// the message's sequence number (or UID with Options.UID); a Thread with
// Num 0 is a dummy: a parent that is not among the messages, kept only at
// the top to hold two or more threads together (RFC 5256 section 3, steps
// 3 and 5).
type Thread struct {
	Num      uint32
	Children []*Thread
}

// OrderedSubject threads msgs by THREAD=ORDEREDSUBJECT (RFC 5256 section
// 3): messages with the same base subject form one thread, the earliest
// by sent date at its top and the others, in sent-date order, its
// children; threads are in the order of their first message's sent date.
// Sent dates that are equal fall back to the sequence number.
func OrderedSubject(msgs []Message, opts Options) []*Thread {
	type item struct {
		key  Key
		date int64
		seq  uint32
		num  uint32
	}
	items := make([]item, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		base, _ := BaseSubject(m.Subject, opts)
		items[i] = item{NewKey(base), sentDate(m), m.Seq, number(m, opts)}
	}
	slices.SortFunc(items, func(a, b item) int {
		if r := a.key.Compare(b.key); r != 0 {
			return r
		}
		if r := cmp.Compare(a.date, b.date); r != 0 {
			return r
		}
		return cmp.Compare(a.seq, b.seq)
	})
	nodes := make([]Thread, len(items))
	type top struct {
		t    *Thread
		date int64
		seq  uint32
	}
	var tops []top
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].key == items[i].key {
			j++
		}
		parent := &nodes[i]
		parent.Num = items[i].num
		if j > i+1 {
			parent.Children = make([]*Thread, 0, j-i-1)
			for k := i + 1; k < j; k++ {
				nodes[k].Num = items[k].num
				parent.Children = append(parent.Children, &nodes[k])
			}
		}
		tops = append(tops, top{parent, items[i].date, items[i].seq})
		i = j
	}
	slices.SortFunc(tops, func(a, b top) int {
		if r := cmp.Compare(a.date, b.date); r != 0 {
			return r
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]*Thread, len(tops))
	for i := range tops {
		out[i] = tops[i].t
	}
	return out
}

// container is a node of THREAD=REFERENCES while it is built: a message
// (msg ≥ 0) or a dummy (msg -1) for an id no message has.
type container struct {
	msg    int
	parent *container
	nkids  int // children while linking (step 1)
	kids   []*container
	// date and seq order siblings: the message's sent date and sequence
	// number, or a dummy's first child's.
	date int64
	seq  uint32
	// Step 5: the thread subject, once looked up, and whether the
	// container was merged into another thread.
	subj               Key
	subjDone, subjNone bool
	reply, merged      bool
}

func (c *container) dummy() bool { return c.msg < 0 }

// link makes p the parent of c, which has none.
func link(p, c *container) {
	c.parent = p
	p.nkids++
}

func unlink(c *container) {
	if c.parent != nil {
		c.parent.nkids--
		c.parent = nil
	}
}

// loopBudget bounds the ancestor walks of step 1 over a whole THREAD
// command: each walk is at most as deep as the tree, and hostile headers
// could make many deep ones. Once it is spent, a link whose check would
// need a walk is not made, as if it made a loop.
func loopBudget(n int) int { return 64*n + 1<<20 }

// maxDummies bounds the dummies of one THREAD command: References
// headers naming ids that no message has would otherwise cost a container
// each, many times the octets of the headers. Past the bound, an unknown
// id is skipped as if the header did not name it.
func maxDummies(n int) int { return 16*n + 1024 }

// References threads msgs by THREAD=REFERENCES (RFC 5256 section 3),
// every step:
//
//  1. Each message's References (or, when that has no valid id, the first
//     id of In-Reply-To) links the referenced messages as a chain of
//     parents and children; an id no message has becomes a dummy. A
//     message without a valid Message-ID, or whose id an earlier message
//     (by sequence number) already has, gets a unique one. A link is not
//     made when the child already has a parent (step 1.A) or when it
//     would make a loop; the last reference becomes the message's parent
//     in place of any parent it had (step 1.B).
//  2. The messages without a parent are the threads' tops.
//  3. Dummies without children go; a dummy with children is replaced by
//     them, at the top only when it has one child.
//  4. The tops are sorted by sent date (a dummy by its earliest child's).
//  5. Tops with the same base subject are gathered under one parent: the
//     dummy, or the message that is not a reply or forward, or a new
//     dummy.
//  6. Every set of siblings is sorted by sent date, then sequence number.
func References(msgs []Message, opts Options) []*Thread {
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(msgs[a].Seq, msgs[b].Seq) })

	cs := make([]container, len(msgs))
	byID := make(map[string]*container, len(msgs))
	for _, i := range order {
		m := &msgs[i]
		c := &cs[i]
		*c = container{msg: i, date: sentDate(m), seq: m.Seq}
		if id := messageID(m.MessageID); id != "" {
			if _, dup := byID[id]; !dup {
				byID[id] = c
			}
		}
	}
	var dummies []*container
	maxDummies := maxDummies(len(msgs))
	lookup := func(id string) *container {
		if c, ok := byID[id]; ok {
			return c
		}
		if len(dummies) >= maxDummies {
			return nil
		}
		c := &container{msg: -1}
		byID[id] = c
		dummies = append(dummies, c)
		return c
	}
	budget := loopBudget(len(msgs))
	// wouldLoop reports whether making p the parent of c makes a loop:
	// p is c or one of c's descendants.
	wouldLoop := func(p, c *container) bool {
		if p == c {
			return true
		}
		if c.nkids == 0 {
			return false
		}
		for a := p.parent; a != nil; a = a.parent {
			if budget--; budget < 0 {
				return true
			}
			if a == c {
				return true
			}
		}
		return false
	}

	// Step 1.
	var refs []string
	for _, i := range order {
		m := &msgs[i]
		refs = appendMsgIDs(refs[:0], m.References)
		if len(refs) == 0 {
			if refs = appendMsgIDs(refs, m.InReplyTo); len(refs) > 1 {
				refs = refs[:1]
			}
		}
		var prev *container
		for _, id := range refs {
			c := lookup(id)
			if c == nil {
				continue
			}
			if prev != nil && c.parent == nil && !wouldLoop(prev, c) {
				link(prev, c)
			}
			prev = c
		}
		cur := &cs[i]
		unlink(cur)
		if prev != nil && !wouldLoop(prev, cur) {
			link(prev, cur)
		}
	}
	byID = nil

	// Step 2: the root's children; every other container into its
	// parent's list.
	root := &container{msg: -1}
	all := make([]*container, 0, len(cs)+len(dummies))
	for _, i := range order {
		all = append(all, &cs[i])
	}
	all = append(all, dummies...)
	// Every list of children is carved from one array: nkids counts them.
	backing := make([]*container, len(all))
	off := 0
	for _, c := range all {
		c.kids = backing[off : off : off+c.nkids]
		off += c.nkids
	}
	for _, c := range all {
		p := c.parent
		if p == nil {
			p = root
		}
		p.kids = append(p.kids, c)
	}

	// Step 3, bottom up: a container's children are pruned before it is
	// looked at as a child.
	for _, c := range reversePreorder(root, len(all)) {
		if !slices.ContainsFunc(c.kids, (*container).dummy) {
			continue
		}
		kids := c.kids[:0:0]
		for _, k := range c.kids {
			switch {
			case !k.dummy():
				kids = append(kids, k)
			case len(k.kids) == 0:
			case c != root || len(k.kids) == 1:
				kids = append(kids, k.kids...)
			default:
				kids = append(kids, k)
			}
		}
		c.kids = kids
	}

	// Step 4.
	for _, t := range root.kids {
		if t.dummy() {
			sortSiblings(t.kids)
			t.date, t.seq = t.kids[0].date, t.kids[0].seq
		}
	}
	sortSiblings(root.kids)

	// Step 5.
	threadSubject := func(t *container) *container {
		if !t.subjDone {
			m := t
			if t.dummy() {
				m = t.kids[0]
			}
			base, reply := BaseSubject(msgs[m.msg].Subject, opts)
			t.subj, t.reply, t.subjNone, t.subjDone = NewKey(base), reply && !t.dummy(), base == "", true
		}
		return t
	}
	table := make(map[Key]*container, len(root.kids))
	for _, t := range root.kids {
		s := threadSubject(t)
		if s.subjNone {
			continue
		}
		old, ok := table[s.subj]
		if !ok {
			table[s.subj] = t
			continue
		}
		if !old.dummy() && (t.dummy() || (old.reply && !t.reply)) {
			table[s.subj] = t
		}
	}
	var newTops []*container
	for _, t := range root.kids {
		if t.merged {
			continue
		}
		s := threadSubject(t)
		if s.subjNone {
			continue
		}
		old := table[s.subj]
		if old == t {
			continue
		}
		t.merged = true
		switch {
		case old.dummy() && t.dummy():
			old.kids = append(old.kids, t.kids...)
		case old.dummy() || (t.reply && !old.reply):
			old.kids = append(old.kids, t)
		default:
			d := &container{msg: -1, kids: []*container{old, t}, subj: s.subj, subjDone: true}
			old.merged = true
			table[s.subj] = d
			newTops = append(newTops, d)
		}
	}
	tops := root.kids[:0:0]
	for _, t := range root.kids {
		if !t.merged {
			tops = append(tops, t)
		}
	}
	root.kids = append(tops, newTops...)

	// Step 6, bottom up; a dummy sorts as its earliest child.
	for _, c := range reversePreorder(root, len(all)+len(newTops)) {
		if len(c.kids) > 1 {
			sortSiblings(c.kids)
		}
		if c.dummy() && c != root && len(c.kids) > 0 {
			c.date, c.seq = c.kids[0].date, c.kids[0].seq
		}
	}
	return toThreads(root, len(all)+len(newTops), msgs, opts)
}

func sortSiblings(cs []*container) {
	slices.SortFunc(cs, func(a, b *container) int {
		if r := cmp.Compare(a.date, b.date); r != 0 {
			return r
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// reversePreorder lists the tree under root, root included, so that every
// container comes after all of its descendants; iterative, whatever the
// depth.
// n is the number of containers, for the capacity.
func reversePreorder(root *container, n int) []*container {
	order := make([]*container, 0, n+1)
	stack := make([]*container, 1, 64)
	stack[0] = root
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, c)
		stack = append(stack, c.kids...)
	}
	slices.Reverse(order)
	return order
}

// toThreads copies the tree under root into Threads, iteratively.
// n is at least the number of containers under root.
func toThreads(root *container, n int, msgs []Message, opts Options) []*Thread {
	type pair struct {
		c *container
		t *Thread
	}
	nodes := make([]Thread, n)
	children := make([]*Thread, n)
	alloc := func() *Thread {
		t := &nodes[0]
		nodes = nodes[1:]
		return t
	}
	top := &Thread{}
	stack := []pair{{root, top}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !p.c.dummy() {
			p.t.Num = number(&msgs[p.c.msg], opts)
		}
		if len(p.c.kids) == 0 {
			continue
		}
		k := len(p.c.kids)
		p.t.Children, children = children[:k:k], children[k:]
		for i, k := range p.c.kids {
			t := alloc()
			p.t.Children[i] = t
			stack = append(stack, pair{k, t})
		}
	}
	return top.Children
}
