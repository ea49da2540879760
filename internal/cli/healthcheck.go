package cli

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

// Healthcheck is the `healthcheck URL` subcommand of every service: it
// exits 0 when URL answers 200 within 3 s. Container images without a
// shell or curl (distroless) use it for their health checks.
func Healthcheck(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck URL   (for example http://127.0.0.1:8081/readyz)")
		return 2
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}
