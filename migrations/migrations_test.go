package migrations_test

import (
	"testing"
	"testing/fstest"

	"github.com/vnfm-project/vnfm/migrations"
)

// TestDialectsInStep: both dialects carry the same versions, so a store of
// either kind is at the same schema level.
func TestDialectsInStep(t *testing.T) {
	pg, err := migrations.Load(migrations.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := migrations.Load(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 {
		t.Fatal("no postgres migrations embedded")
	}
	if len(pg) != len(lite) {
		t.Fatalf("postgres has %d migrations, sqlite %d", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Version != lite[i].Version || pg[i].Name != lite[i].Name {
			t.Errorf("migration %d: postgres %s, sqlite %s", i, pg[i].Name, lite[i].Name)
		}
		if pg[i].SQL == "" || lite[i].SQL == "" {
			t.Errorf("migration %s is empty", pg[i].Name)
		}
	}
}

func TestLoadOrdersAndValidates(t *testing.T) {
	ms, err := migrations.Load(fstest.MapFS{
		"0010_b.sql": {Data: []byte("b")},
		"0002_a.sql": {Data: []byte("a")},
		"README.md":  {Data: []byte("ignored")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 2 || ms[1].Version != 10 || ms[1].SQL != "b" {
		t.Fatalf("got %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"duplicate": {"0001_a.sql": {}, "1_b.sql": {}},
		"no number": {"init.sql": {}},
		"zero":      {"0000_a.sql": {}},
	} {
		if _, err := migrations.Load(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
