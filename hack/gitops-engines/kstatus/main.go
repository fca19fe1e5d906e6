// Command kstatus prints the status Flux's health checks read for Kubernetes objects: the
// result of sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, the function Flux's
// kustomize-controller and helm-controller call (through their kstatus-based poller) to decide
// when a resource is ready.
//
// Usage: kstatus < objects
// stdin holds JSON objects one after another (each a live object as the apiserver returns it);
// stdout gets one line per object: {"status":"InProgress|Current|Failed|...","message":"..."}.
// Exit status 1 on bad input or when Compute reports an error.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  status.Status `json:"status"`
	Message string        `json:"message"`
}

func run() error {
	if len(os.Args) != 1 {
		return errors.New("usage: kstatus < objects.json")
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
		computed, err := status.Compute(live)
		if err != nil {
			return fmt.Errorf("%s %s: %w", live.GetKind(), live.GetName(), err)
		}
		if err := encoder.Encode(result{computed.Status, computed.Message}); err != nil {
			return err
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}
