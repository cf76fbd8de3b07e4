package sortthread

import (
	"io"
	"strconv"
)

// AppendThreads appends the thread list of a THREAD response (RFC 5256
// section 4, thread-list) to dst: each thread in parentheses, a message
// followed by its only child as "1 2", by several children as
// "1 (2)(3)", a dummy's children without a number before them:
// "((1)(2))". Nothing is appended for no threads. It does not recurse.
func AppendThreads(dst []byte, threads []*Thread) []byte {
	type frame struct {
		kids []*Thread
		open bool // a child of kids is open and needs its ")"
	}
	var stack []frame
	// chain writes t and its only children, "1 2 3", and pushes the
	// children of the first message with several (or of a dummy).
	chain := func(t *Thread) {
		first := true
		for {
			if t.Num != 0 {
				if !first {
					dst = append(dst, ' ')
				}
				dst = strconv.AppendUint(dst, uint64(t.Num), 10)
				first = false
			}
			if len(t.Children) == 1 {
				t = t.Children[0]
				continue
			}
			break
		}
		if len(t.Children) > 1 {
			if !first {
				dst = append(dst, ' ')
			}
			stack = append(stack, frame{kids: t.Children})
		}
	}
	for _, t := range threads {
		if t.Num == 0 && len(t.Children) == 0 {
			continue
		}
		dst = append(dst, '(')
		chain(t)
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.open {
				dst = append(dst, ')')
				f.open = false
			}
			if len(f.kids) == 0 {
				stack = stack[:len(stack)-1]
				continue
			}
			k := f.kids[0]
			f.kids = f.kids[1:]
			f.open = true
			dst = append(dst, '(')
			chain(k)
		}
		dst = append(dst, ')')
	}
	return dst
}

// WriteThreads writes the thread list of AppendThreads to w, in pieces of
// about 32 KiB so that a large mailbox's answer needs no buffer of its
// size.
func WriteThreads(w io.Writer, threads []*Thread) error {
	const chunk = 32 << 10
	buf := make([]byte, 0, chunk+64)
	for i := 0; i < len(threads); {
		j := i
		for j < len(threads) && len(buf) < chunk {
			buf = AppendThreads(buf, threads[j:j+1])
			j++
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		i = j
	}
	return nil
}
