package cli

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
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
	client := &http.Client{Timeout: 3 * time.Second}
	if u, err := url.Parse(args[0]); err == nil && u.Scheme == "https" {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			// A service checking itself over loopback: its certificate
			// names the service, not 127.0.0.1, and the check sends no
			// credential and reads nothing but the status. Any other
			// host is verified as usual.
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback only, see above
		}
	}
	resp, err := client.Get(args[0])
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
