// Package migrations embeds the SQL schema migrations of both store dialects.
//
// Files are named NNNN_description.sql; the number is the version recorded in
// schema_migrations. Each file is applied once, in version order, inside the
// migrating transaction, so a file must not manage transactions itself.
// Applied files are never edited: a schema change is a new file, in both
// dialect folders with the same version.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres and SQLite hold the migration files of each dialect, rooted at the
// dialect's folder.
var (
	Postgres fs.FS = mustSub("postgres")
	SQLite   fs.FS = mustSub("sqlite")
)

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // only on a malformed constant path
	}
	return sub
}

// Migration is one schema step.
type Migration struct {
	Version int64
	Name    string // file name
	SQL     string
}

// Load reads the *.sql files at the root of fsys, ordered by version. Names
// must start with a positive number followed by '_'; a duplicate version is an
// error, since which of the two would run first is undefined.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	out := make([]Migration, 0, len(names))
	seen := make(map[int64]string, len(names))
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
