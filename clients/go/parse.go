package flags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// ParsedFlags is the result of ParseFlags.
type ParsedFlags struct {
	Readable bool // false: the document is not a JSON object, nothing was read
	Flags    map[string]FlagState
	Errors   []string // e.g. `voice_agent_v2.percentage: must be an integer 0..100, got 140`
}

// ParseFlags parses the flags.json document with the rules of the C++ reference
// (include/agentrollout/flag_client_json.h): a malformed entry is left out and reported,
// and the other entries stay usable, so one bad key in a shared ConfigMap does not switch
// every flag off.
func ParseFlags(document []byte) ParsedFlags {
	parsed := ParsedFlags{Flags: map[string]FlagState{}}
	var doc any
	decoder := json.NewDecoder(bytes.NewReader(document))
	decoder.UseNumber()
	// encoding/json would replace invalid UTF-8 silently; the reference rejects it.
	if !utf8.Valid(document) || decoder.Decode(&doc) != nil || !atEnd(decoder) {
		parsed.Errors = append(parsed.Errors, "flags document: not valid JSON")
		return parsed
	}
	object, ok := doc.(map[string]any)
	if !ok {
		parsed.Errors = append(parsed.Errors, "flags document: must be a JSON object of flag key -> state")
		return parsed
	}
	parsed.Readable = true
	for key, entry := range object {
		if flag, err := readEntry(key, entry); err != "" {
			parsed.Errors = append(parsed.Errors, err)
		} else {
			parsed.Flags[key] = flag
		}
	}
	return parsed
}

// atEnd reports whether nothing but white space follows the value just decoded.
func atEnd(decoder *json.Decoder) bool {
	_, err := decoder.Token()
	return err == io.EOF
}

func dump(value any) string {
	text, _ := json.Marshal(value)
	return string(text)
}

func readEntry(key string, value any) (FlagState, string) {
	entry, ok := value.(map[string]any)
	if !ok {
		return FlagState{}, fmt.Sprintf("%s: must be an object, got %s", key, dump(value))
	}
	flag := FlagState{Key: key, EnabledTenants: []string{}, DisabledTenants: []string{}}
	if raw, present := entry["enabled"]; present {
		enabled, ok := raw.(bool)
		if !ok {
			return FlagState{}, fmt.Sprintf("%s.enabled: must be true or false, got %s", key, dump(raw))
		}
		flag.Enabled = enabled
	}
	if raw, present := entry["percentage"]; present {
		number, ok := raw.(json.Number)
		value, err := number.Float64()
		if !ok || err != nil || value < 0 || value > 100 || value != math.Trunc(value) {
			return FlagState{}, fmt.Sprintf("%s.percentage: must be an integer 0..100, got %s", key, dump(raw))
		}
		flag.Percentage = int(value)
	}
	var err string
	if flag.EnabledTenants, err = readTenants(entry, key, "enabledTenants"); err != "" {
		return FlagState{}, err
	}
	if flag.DisabledTenants, err = readTenants(entry, key, "disabledTenants"); err != "" {
		return FlagState{}, err
	}
	return flag, ""
}

func readTenants(entry map[string]any, key, field string) ([]string, string) {
	raw := entry[field]
	if raw == nil {
		return []string{}, ""
	}
	items, ok := raw.([]any)
	tenants := make([]string, 0, len(items))
	for _, item := range items {
		tenant, isString := item.(string)
		ok = ok && isString
		tenants = append(tenants, tenant)
	}
	if !ok {
		return nil, fmt.Sprintf("%s.%s: must be an array of strings, got %s", key, field, dump(raw))
	}
	return tenants, ""
}
