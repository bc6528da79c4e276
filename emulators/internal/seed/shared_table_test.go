package seed

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// badFiles is testdata/bad_etl_toml.json: the table of bad etl.toml files
// that the Python reader's tests run too (tests/unit/etl_harness/test_etl_toml.py).
type badFiles struct {
	Base  string `json:"base"`
	Cases []struct {
		Name  string `json:"name"`
		Old   string `json:"old"`
		New   string `json:"new"`
		Error string `json:"error"`
	} `json:"cases"`
}

func TestTheSharedTableOfBadFilesGivesEachExpectedError(t *testing.T) {
	raw, err := os.ReadFile("testdata/bad_etl_toml.json")
	if err != nil {
		t.Fatal(err)
	}
	var table badFiles
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) == 0 {
		t.Fatal("the shared table has no cases")
	}
	if _, err := Parse([]byte(table.Base), "etl.toml"); err != nil {
		t.Fatalf("the base file must be valid: %v", err)
	}
	for _, c := range table.Cases {
		t.Run(c.Name, func(t *testing.T) {
			doc := strings.Replace(table.Base, c.Old, c.New, 1)
			if doc == table.Base {
				t.Fatalf("%q is not in the base file", c.Old)
			}
			_, err := Parse([]byte(doc), "etl.toml")
			if err == nil || err.Error() != c.Error {
				t.Fatalf("got error\n  %v\nwant\n  %s", err, c.Error)
			}
		})
	}
}
