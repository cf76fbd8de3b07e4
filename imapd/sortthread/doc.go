// Package sortthread computes the answers of the IMAP SORT and THREAD
// extensions over messages the server has already chosen: it knows no
// mailbox, session or wire protocol beyond the thread list it encodes.
//
// What it implements, and where:
//
//   - RFC 5256 section 2.1, base subject extraction ([BaseSubject]): the
//     "(fwd)" trailers, the "Re:", "Fw:", "Fwd:" leaders with their
//     "[blob]"s, leading blobs, the "[Fwd: ...]" wrapping, whitespace
//     folding. The subject is given decoded (RFC 2047 encoded words turned
//     into UTF-8, as imap.Envelope holds it); [DecodeSubject] decodes a raw
//     header value for callers that have only that. With
//     [Options.Vietnamese] the leaders Vietnamese mail clients write are
//     removed as "Re:" is: "TL:" and "Trả lời:" (reply), "CT:" and
//     "Chuyển tiếp:" (forward).
//   - RFC 5051, the collation i;unicode-casemap ([NewKey]): each character
//     mapped to its Unicode titlecase, then decomposed (NFKD), compared
//     octet by octet. The key is computed once per string and compared with
//     a byte comparison.
//   - RFC 5256 section 3 SORT and RFC 5957 SORT=DISPLAY ([Sort]): ARRIVAL,
//     CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO, each
//     optionally REVERSE; messages equal under every criterion stay in
//     sequence-number order. The sent date (section 2.2) is the Date
//     header's, or the internal date when there is none.
//   - RFC 5256 section 3 THREAD=ORDEREDSUBJECT ([OrderedSubject]) and
//     THREAD=REFERENCES ([References]), every step: Message-ID,
//     References and In-Reply-To parsing ([ParseMsgIDs]), unique ids for
//     missing and duplicate Message-IDs, no link that would make a loop,
//     dummy parents pruned, threads gathered by base subject, siblings
//     sorted by sent date.
//   - The thread list of the THREAD response, "(1 2)(3 (4)(5))"
//     ([AppendThreads], [WriteThreads]).
//
// Every walk over a thread (linking, loop checks, pruning, sorting,
// encoding) is iterative, so a chain of replies as deep as the mailbox is
// costs no stack. Hostile headers are bounded: a Message-ID longer than
// [MaxMsgIDLen] is ignored, only the last [MaxReferences] ids of a
// References header are used (the last ones name the nearest parents),
// one THREAD command makes at most 16 dummies a message (further unknown
// ids are skipped), and its loop checks walk a bounded number of
// ancestors in all (a link whose check would go further is not made).
package sortthread
