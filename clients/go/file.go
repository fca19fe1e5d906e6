package flags

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// MaxDocumentBytes bounds what File reads: a ConfigMap holds at most 1 MiB.
const MaxDocumentBytes = 4 << 20

// File holds the flags of a ConfigMap mounted as a volume, re-read when the kubelet
// updates it. The kubelet updates a ConfigMap volume (not a subPath mount, which never
// changes) by writing a new directory and swapping the `..data` symlink, so the file's path
// stays and what it resolves to changes. File checks the resolved file's identity (device,
// inode, size, modification time) at most once per CheckInterval, on a lookup -- no
// goroutine, no timer -- and re-reads the document when it changed. Safe for concurrent use.
type File struct {
	path          string
	checkInterval time.Duration
	onError       func(errors []string)

	mu        sync.Mutex
	flags     map[string]FlagState
	errors    []string
	identity  os.FileInfo // of the document last read
	checkedAt time.Time
}

// Option configures a File.
type Option func(*File)

// CheckInterval sets how often a lookup may check the file for a change (default 1 s).
func CheckInterval(interval time.Duration) Option {
	return func(f *File) { f.checkInterval = interval }
}

// OnError receives the problems of a read that had new ones (unreadable file, bad JSON,
// malformed entries).
func OnError(report func(errors []string)) Option {
	return func(f *File) { f.onError = report }
}

// Open reads the document at path (e.g. /etc/feature-flags/flags.json). A missing or bad
// file is not an error here: every flag is off until a good document appears, and Errors
// says why.
func Open(path string, options ...Option) *File {
	f := &File{path: path, checkInterval: time.Second, flags: map[string]FlagState{}}
	for _, option := range options {
		option(f)
	}
	f.Refresh()
	return f
}

// IsOn reports whether the flag is on for the tenant; a flag missing from the document is off.
func (f *File) IsOn(flagKey, tenantID string) bool {
	flag, ok := f.Flag(flagKey)
	if !ok {
		return false
	}
	return IsOn(&flag, tenantID)
}

// Bucket is the tenant's bucket for the flag, 0..99 (independent of the document).
func (f *File) Bucket(flagKey, tenantID string) int { return Bucket(flagKey, tenantID) }

// Flag returns the flag's current entry, and whether the document has one.
func (f *File) Flag(flagKey string) (FlagState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checkedAt) >= f.checkInterval {
		f.refreshLocked()
	}
	flag, ok := f.flags[flagKey]
	return flag, ok
}

// Errors returns the problems of the last read; empty when it was clean.
func (f *File) Errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errors)
}

// Refresh re-reads the document now if it changed. An unreadable file or a document that
// is not a JSON object keeps the flags last read; a malformed entry is left out and the
// others are used.
func (f *File) Refresh() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked()
}

func (f *File) refreshLocked() {
	f.checkedAt = time.Now()
	info, err := os.Stat(f.path)
	if err != nil {
		f.report([]string{err.Error()})
		return
	}
	if f.identity != nil && os.SameFile(f.identity, info) && f.identity.Size() == info.Size() &&
		f.identity.ModTime().Equal(info.ModTime()) {
		return
	}
	if info.Size() > MaxDocumentBytes {
		f.report([]string{fmt.Sprintf("%s: larger than %d bytes (%d); not read", f.path, MaxDocumentBytes, info.Size())})
		return
	}
	document, err := os.ReadFile(f.path)
	if err != nil {
		f.report([]string{err.Error()})
		return
	}
	parsed := ParseFlags(document)
	if parsed.Readable {
		f.flags = parsed.Flags
	}
	f.identity = info
	errors := make([]string, 0, len(parsed.Errors))
	for _, e := range parsed.Errors {
		errors = append(errors, f.path+": "+e)
	}
	f.report(errors)
}

// report tells onError about new problems only, not the same ones at every check.
func (f *File) report(errors []string) {
	changed := !slices.Equal(errors, f.errors)
	f.errors = errors
	if len(errors) > 0 && changed && f.onError != nil {
		f.onError(slices.Clone(errors))
	}
}
