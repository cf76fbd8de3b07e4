//go:build unix

package main

import "syscall"

// privateUmask makes every file and directory the process creates from
// now on readable by its owner alone (0600 files, 0700 directories):
// SQLite's database, WAL and shared-memory files, the generated
// certificate and key, spooled messages.
func privateUmask() { syscall.Umask(0o077) }
