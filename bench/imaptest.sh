#!/usr/bin/env bash
# Dovecot's scripted IMAP compliance suite (imaptest) against congthu: one
# run per test group (each file of imaptest's src/tests), a table of
# passed / failed / skipped groups, and the failed groups' output in
# $OUT (default bench/imaptest.out).
#
#   IMAPTEST_SRC=/path/to/imaptest bench/imaptest.sh
#
# IMAPTEST_SRC is imaptest's source at commit 924f619: a git directory
# holding it (the search tool's `fetch github:dovecot/imaptest` gives a
# bare one under /work/.mirror/dovecot+imaptest/repo; this machine reaches
# no git host) or a source tree from `git --git-dir=DIR archive 924f619 |
# tar -x -C /tmp/imaptest-src`. The script builds it against Debian 12's
# dovecot-dev 2.3.19 in a temporary directory, with the two changes it
# needs there: a fourth NULL argument to the three imap_parser_create()
# calls, and a version file (bench/imaptest-lib.sh). It installs
# dovecot-dev and the autotools from Debian when they are missing.
#
# A group is skipped when imaptest ran none of its commands (congthu does
# not advertise the capability the file needs). IMAPTEST_GROUPS="a b"
# runs only the groups named.

source "$(dirname "${BASH_SOURCE[0]}")/imap-lib.sh"

source "$(dirname "${BASH_SOURCE[0]}")/imaptest-lib.sh"
OUT=${OUT:-$ROOT/bench/imaptest.out}

build_imaptest
build
accounts 1
start_server
host=${IMAP_ADDR%:*}
port=${IMAP_ADDR##*:}

imaptest_groups "$host" "$port" "load1@$DOMAIN" "$PASSWORD" "$OUT"
