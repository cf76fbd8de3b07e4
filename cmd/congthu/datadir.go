package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"congthu/config"
)

// prepareDataDir makes the data dir private before anything is written in
// it. It sets the process umask to 077 (privateUmask), so that every file
// created from then on (SQLite's database, -wal and -shm files, the
// generated certificate and key) is 0600 from its first byte; creates dir
// 0700; and takes group and other permissions away from what an older
// version or another tool left there: dir itself, the files directly in it
// (0644 becomes 0600) and the directories in it (0755 becomes 0700, which
// closes what is below them). Each fix is logged at warning level naming
// the file. Symbolic links and other special files are left alone.
func prepareDataDir(dir string, log *slog.Logger) error {
	privateUmask()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	fix := func(path string, mode fs.FileMode) {
		if mode.Perm()&0o077 == 0 {
			return
		}
		now := mode.Perm() &^ 0o077
		if err := os.Chmod(path, now); err != nil {
			log.Warn("data dir: file readable by others, and its mode cannot be changed", "file", path, "mode", fmt.Sprintf("%04o", mode.Perm()), "err", err)
			return
		}
		log.Warn("data dir: file was readable by others; made private", "file", path, "was", fmt.Sprintf("%04o", mode.Perm()), "now", fmt.Sprintf("%04o", now))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	fix(dir, fi.Mode())
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() && !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		fix(filepath.Join(dir, e.Name()), info.Mode())
	}
	return nil
}

// storeTarget names the store cfg selects, for operators: "SQLite PATH"
// with an absolute path, or "PostgreSQL HOST/DB (user NAME)" without the
// password. sqlitePath is the database file, empty for PostgreSQL. It
// follows store.Open: an empty URL is congthu.db in the data dir.
func storeTarget(cfg *config.Config) (desc, sqlitePath string) {
	u := cfg.DatabaseURL
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		p, err := url.Parse(u)
		if err != nil {
			return "PostgreSQL (unparsable URL)", ""
		}
		host := p.Host
		if host == "" {
			host = p.Query().Get("host")
		}
		desc = "PostgreSQL " + host + "/" + strings.TrimPrefix(p.Path, "/")
		if name := p.User.Username(); name != "" {
			desc += " (user " + name + ")"
		}
		return desc, ""
	}
	path := strings.TrimPrefix(u, "sqlite:")
	if path == "" {
		path = filepath.Join(cfg.DataDir, "congthu.db")
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "SQLite " + path, path
}

// noStore is the error of an admin command that found no SQLite database
// where the configuration points: it says where it looked, why there, and
// how to point at the server's store.
func (c *cli) noStore(cfg *config.Config, path string) error {
	var why string
	switch wd, _ := os.Getwd(); {
	case strings.HasPrefix(cfg.DatabaseURL, "sqlite:"):
		why = "database_url (CONGTHU_DATABASE_URL) names it"
	case c.getenv("CONGTHU_DATA_DIR") != "":
		why = "data dir from CONGTHU_DATA_DIR"
	case c.configPath != "":
		why = "data dir from " + c.configPath
	default:
		why = fmt.Sprintf("the default data dir %q, relative to the current directory %s", cfg.DataDir, wd)
	}
	return fmt.Errorf("no store at %s (%s).\n"+
		"  Point this command at the server's store: --config FILE (the server's configuration file)\n"+
		"  or CONGTHU_DATA_DIR=DIR (the directory that holds congthu.db), or run it where the server runs.\n"+
		"  Only \"congthu domain add DOMAIN\" creates a new store", path, why)
}
