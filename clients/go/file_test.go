package flags

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// volume lays a directory out as the kubelet lays out a ConfigMap volume:
// flags.json -> ..data/flags.json, ..data -> ..<n>/, swapped atomically on update.
type volume struct {
	t          *testing.T
	root       string
	generation int
}

func newVolume(t *testing.T) *volume {
	v := &volume{t: t, root: t.TempDir()}
	v.publish(flagDocument(0, nil))
	if err := os.Symlink(filepath.Join("..data", "flags.json"), filepath.Join(v.root, "flags.json")); err != nil {
		t.Fatal(err)
	}
	return v
}

func flagDocument(percentage int, disabled []string) string {
	entry := map[string]any{"enabled": true, "percentage": percentage}
	if disabled != nil {
		entry["disabledTenants"] = disabled
	}
	text, _ := json.Marshal(map[string]any{"voice_agent_v2": entry})
	return string(text)
}

// publish writes a new ..<n> directory and swaps ..data to it, as the kubelet does.
func (v *volume) publish(document string) {
	v.generation++
	dir := fmt.Sprintf("..%d", v.generation)
	must(v.t, os.Mkdir(filepath.Join(v.root, dir), 0o755))
	must(v.t, os.WriteFile(filepath.Join(v.root, dir, "flags.json"), []byte(document), 0o644))
	must(v.t, os.Symlink(dir, filepath.Join(v.root, "..data_tmp")))
	must(v.t, os.Rename(filepath.Join(v.root, "..data_tmp"), filepath.Join(v.root, "..data")))
}

func (v *volume) path() string { return filepath.Join(v.root, "flags.json") }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileSeesTheKubeletSymlinkSwap(t *testing.T) {
	v := newVolume(t)
	flags := Open(v.path(), CheckInterval(0))
	if flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("on at 0 %")
	}
	v.publish(flagDocument(100, nil))
	if !flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("off at 100 % after the swap")
	}
	v.publish(flagDocument(100, []string{"tenant-0001"}))
	if flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("on after being pinned off")
	}
	if errs := flags.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
}

func TestFileDoesNotLookAgainWithinTheCheckInterval(t *testing.T) {
	v := newVolume(t)
	flags := Open(v.path(), CheckInterval(time.Minute))
	v.publish(flagDocument(100, nil))
	if flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("re-read within the interval")
	}
	flags.Refresh()
	if !flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("Refresh did not re-read")
	}
}

func TestFileKeepsTheLastFlagsWhenTheDocumentTurnsUnreadable(t *testing.T) {
	v := newVolume(t)
	var reported [][]string
	flags := Open(v.path(), CheckInterval(0), OnError(func(errs []string) { reported = append(reported, errs) }))
	v.publish(flagDocument(100, nil))
	if !flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("off at 100 %")
	}
	v.publish("{not json")
	if !flags.IsOn("voice_agent_v2", "tenant-0001") || !flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("a bad document switched the flag off")
	}
	if len(reported) != 1 || !strings.Contains(reported[0][0], "not valid JSON") {
		t.Fatalf("reported %q", reported)
	}
	v.publish(`{"voice_agent_v2": {"enabled": true, "percentage": 140}, "other": {}}`)
	if flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("a malformed entry was used")
	}
	if errs := flags.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "voice_agent_v2.percentage") {
		t.Fatalf("errors %q", errs)
	}
}

func TestFileMissingIsAllOffWithAnError(t *testing.T) {
	flags := Open(filepath.Join(t.TempDir(), "absent.json"), CheckInterval(0))
	if flags.IsOn("voice_agent_v2", "tenant-0001") {
		t.Fatal("on without a document")
	}
	if errs := flags.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "absent.json") {
		t.Fatalf("errors %q", errs)
	}
}
