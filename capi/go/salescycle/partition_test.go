package salescycle

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// partitionVectors is tests/data/partition_vectors.json, which C++ and
// Python check too: the same key lands in the same group in every language.
type partitionVectors struct {
	NumGroups []uint32 `json:"num_groups"`
	Keys      []struct {
		Hex    string   `json:"hex"`
		Text   *string  `json:"text"`
		Hash   uint32   `json:"hash"`
		Groups []uint32 `json:"groups"`
	} `json:"keys"`
	IDs []struct {
		ID     string   `json:"id"`
		Hash   uint32   `json:"hash"`
		Groups []uint32 `json:"groups"`
	} `json:"ids"`
	Ranges []struct {
		NumGroups uint32 `json:"num_groups"`
		Owners    uint32 `json:"owners"`
		Owner     uint32 `json:"owner"`
		First     uint32 `json:"first"`
		End       uint32 `json:"end"`
	} `json:"ranges"`
}

func TestPartitionVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/partition_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v partitionVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var groups []KeyGroups
	for _, n := range v.NumGroups {
		g, err := NewKeyGroups(n)
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
	}
	var keys []string
	for _, k := range v.Keys {
		b, err := hex.DecodeString(k.Hex)
		if err != nil {
			t.Fatal(err)
		}
		key := string(b)
		keys = append(keys, key)
		if got := KeyHash(key); got != k.Hash {
			t.Errorf("KeyHash(%q) = %d, want %d", key, got, k.Hash)
		}
		if k.Text != nil && *k.Text != key {
			t.Errorf("%q: the text is not the bytes", key)
		}
		for i, g := range groups {
			if got, err := g.OfKey(key); err != nil || got != k.Groups[i] {
				t.Errorf("OfKey(%q) among %d = %d, %v; want %d", key, g.NumGroups(), got, err, k.Groups[i])
			}
		}
	}
	for i, g := range groups {
		got, err := g.OfKeys(keys)
		if err != nil {
			t.Fatal(err)
		}
		for j, k := range v.Keys {
			if got[j] != k.Groups[i] {
				t.Errorf("OfKeys: key %d among %d = %d, want %d", j, g.NumGroups(), got[j], k.Groups[i])
			}
		}
	}
	var ids []uint64
	for _, e := range v.IDs {
		id, err := strconv.ParseUint(e.ID, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if got := IDHash(id); got != e.Hash {
			t.Errorf("IDHash(%d) = %d, want %d", id, got, e.Hash)
		}
	}
	for i, g := range groups {
		got, err := g.OfIDs(ids)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range v.IDs {
			if got[j] != e.Groups[i] {
				t.Errorf("OfIDs: id %s among %d = %d, want %d", e.ID, g.NumGroups(), got[j], e.Groups[i])
			}
			if one, err := g.OfID(ids[j]); err != nil || one != got[j] {
				t.Errorf("OfID(%s) = %d, %v; OfIDs says %d", e.ID, one, err, got[j])
			}
		}
	}
	for _, r := range v.Ranges {
		g, _ := NewKeyGroups(r.NumGroups)
		first, end, err := g.RangeOf(r.Owner, r.Owners)
		if err != nil || first != r.First || end != r.End {
			t.Errorf("RangeOf(%d, %d) of %d = [%d, %d), %v; want [%d, %d)", r.Owner, r.Owners,
				r.NumGroups, first, end, err, r.First, r.End)
		}
		if owner, err := g.OwnerOf(r.First, r.Owners); err != nil || owner != r.Owner {
			t.Errorf("OwnerOf(%d, %d) = %d, %v; want %d", r.First, r.Owners, owner, err, r.Owner)
		}
	}
	if got, _ := groups[0].OfKeys(nil); !reflect.DeepEqual(got, []uint32{}) {
		t.Errorf("OfKeys(nil) = %v", got)
	}
}

func TestPartitionErrors(t *testing.T) {
	var e *Error
	if _, err := NewKeyGroups(0); !errors.As(err, &e) || e.Code != InvalidArgument ||
		!strings.Contains(e.Message, "0 groups; a deployment has 1 to 32768") {
		t.Errorf("NewKeyGroups(0): %v", err)
	}
	if _, err := NewKeyGroups(MaxKeyGroups + 1); err == nil {
		t.Error("NewKeyGroups(MaxKeyGroups + 1) made groups")
	}
	g, _ := NewKeyGroups(10)
	if _, err := g.OwnerOf(10, 2); err == nil || !strings.Contains(err.Error(), "group 10 of 10") {
		t.Errorf("OwnerOf(10, 2): %v", err)
	}
	if _, _, err := g.RangeOf(2, 2); err == nil || !strings.Contains(err.Error(), "owner 2 of 2") {
		t.Errorf("RangeOf(2, 2): %v", err)
	}
	var zero KeyGroups // not made by NewKeyGroups
	if _, err := zero.OfKey("acme"); !errors.As(err, &e) || e.Code != InvalidArgument {
		t.Errorf("the zero KeyGroups: %v", err)
	}
	if _, err := zero.OfIDs([]uint64{1}); err == nil {
		t.Error("the zero KeyGroups gave groups of ids")
	}
}
