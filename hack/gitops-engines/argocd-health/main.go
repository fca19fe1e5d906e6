// Command argocd-health prints Argo CD's health assessment of Kubernetes objects, computed by
// Argo CD's own code: the health.lua overrides of an argocd-cm ConfigMap (deploy/argocd/
// argocd-cm-patch.yaml) run through github.com/argoproj/argo-cd/v3/util/lua in gopher-lua,
// reached the way the application controller reaches it (controller/health.go:
// gitops-engine health.GetResourceHealth with lua.ResourceHealthOverrides).
//
// Usage: argocd-health ARGOCD_CM_YAML < objects
// stdin holds JSON objects one after another (each a live object as the apiserver returns it);
// stdout gets one line per object: {"status":"Healthy|Progressing|...","message":"..."}.
// Exit status 1 on bad input or when Argo CD reports an error for an object.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/argoproj/argo-cd/gitops-engine/pkg/health"
	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// healthKeyPrefix is the argocd-cm key form resource.customizations.health.<group_kind>.
const healthKeyPrefix = "resource.customizations.health."

type configMap struct {
	Data map[string]string `json:"data"`
}

// overridesFromConfigMap maps every health key of argocd-cm to the override key Argo CD's
// settings manager gives it (util/settings appendResourceOverridesFromSplitKeys and
// convertToOverrideKey: "group_Kind" -> "group/Kind"; "all" -> "*/*").
func overridesFromConfigMap(path string) (lua.ResourceHealthOverrides, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm configMap
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	overrides := lua.ResourceHealthOverrides{}
	for key, script := range cm.Data {
		groupKind, ok := strings.CutPrefix(key, healthKeyPrefix)
		if !ok {
			continue
		}
		parts := strings.Split(groupKind, "_")
		switch {
		case groupKind == "all":
			groupKind = "*/*"
		case len(parts) == 2:
			groupKind = parts[0] + "/" + parts[1]
		case len(parts) != 1 || groupKind == "":
			return nil, fmt.Errorf("%s: key %q is not resource.customizations.health.<group_kind>", path, key)
		}
		overrides[groupKind] = appv1.ResourceOverride{HealthLua: script}
	}
	if len(overrides) == 0 {
		return nil, fmt.Errorf("%s: no %s<group_kind> key in data", path, healthKeyPrefix)
	}
	return overrides, nil
}

func run() error {
	if len(os.Args) != 2 {
		return errors.New("usage: argocd-health ARGOCD_CM_YAML < objects.json")
	}
	overrides, err := overridesFromConfigMap(os.Args[1])
	if err != nil {
		return err
	}
	decoder := json.NewDecoder(io.LimitReader(os.Stdin, 64<<20))
	encoder := json.NewEncoder(os.Stdout)
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		// Decoded as client-go decodes what the apiserver sends (integers as int64), the
		// form both engines get from their informers.
		live := &unstructured.Unstructured{}
		if err := live.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		status, err := health.GetResourceHealth(live, overrides)
		if err != nil {
			return fmt.Errorf("%s %s: %w", live.GetKind(), live.GetName(), err)
		}
		if status == nil { // no health check for this kind
			status = &health.HealthStatus{}
		}
		if err := encoder.Encode(status); err != nil {
			return err
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
}
