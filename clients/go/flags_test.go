package flags

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// The shared vectors generated from the C++ reference (clients/testdata/flag_vectors.json).
type vectors struct {
	Murmur3 []struct {
		Input string `json:"input"`
		Hash  uint32 `json:"hash"`
	} `json:"murmur3"`
	Cases []struct {
		Flag   FlagState `json:"flag"`
		Tenant string    `json:"tenant"`
		Bucket int       `json:"bucket"`
		IsOn   bool      `json:"isOn"`
	} `json:"cases"`
	Documents []struct {
		Document   string      `json:"document"`
		Flags      []FlagState `json:"flags"`
		ErrorCount int         `json:"errorCount"`
	} `json:"documents"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "testdata", "flag_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(text, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Murmur3) < 16 || len(v.Cases) < 100 || len(v.Documents) < 15 {
		t.Fatalf("too few vectors: %d hashes, %d cases, %d documents", len(v.Murmur3), len(v.Cases), len(v.Documents))
	}
	return v
}

func TestMurmur3MatchesTheHeader(t *testing.T) {
	for _, v := range loadVectors(t).Murmur3 {
		if got := Murmur3x86_32([]byte(v.Input), 0); got != v.Hash {
			t.Errorf("Murmur3x86_32(%q) = %d, want %d", v.Input, got, v.Hash)
		}
	}
	if got := Murmur3x86_32(nil, 1); got != 0x514e28b7 { // reference value of the empty input, seed 1
		t.Errorf("seed 1: got %#x", got)
	}
}

func TestBucketAndIsOnMatchTheHeader(t *testing.T) {
	for _, v := range loadVectors(t).Cases {
		flag := v.Flag
		if got := Bucket(flag.Key, v.Tenant); got != v.Bucket {
			t.Errorf("Bucket(%q, %q) = %d, want %d", flag.Key, v.Tenant, got, v.Bucket)
		}
		if got := IsOn(&flag, v.Tenant); got != v.IsOn {
			t.Errorf("IsOn(%+v, %q) = %v, want %v", flag, v.Tenant, got, v.IsOn)
		}
	}
	if IsOn(nil, "t-1") {
		t.Error("a missing flag is on")
	}
}

func TestParseFlagsKeepsAndDropsWhatTheHeaderDoes(t *testing.T) {
	for _, v := range loadVectors(t).Documents {
		parsed := ParseFlags([]byte(v.Document))
		flags := []FlagState{}
		for _, flag := range parsed.Flags {
			flags = append(flags, flag)
		}
		sort.Slice(flags, func(i, j int) bool { return flags[i].Key < flags[j].Key })
		if !reflect.DeepEqual(flags, v.Flags) {
			t.Errorf("ParseFlags(%s) = %+v, want %+v", v.Document, flags, v.Flags)
		}
		if len(parsed.Errors) != v.ErrorCount {
			t.Errorf("ParseFlags(%s) errors %q, want %d", v.Document, parsed.Errors, v.ErrorCount)
		}
	}
}

func TestParseFlagsRejectsTrailingBytesAndInvalidUTF8(t *testing.T) {
	for _, document := range []string{`{}}`, `{} {}`, "{\"a\xff\": {}}"} {
		if parsed := ParseFlags([]byte(document)); parsed.Readable {
			t.Errorf("ParseFlags(%q) read it", document)
		}
	}
}
