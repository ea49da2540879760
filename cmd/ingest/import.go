package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rewind/rewind/internal/apiclient"
	"github.com/rewind/rewind/internal/cli"
)

// runImport is `ingest import [flags] FILE|-`: it sends an NDJSON file of
// commands to a running ingest and prints a summary; on a terminal it
// shows a progress bar.
func runImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest import", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "ingest base URL")
	token := fs.String("token", "", "bearer token (or REWIND_TOKEN)")
	chunk := fs.Int("chunk", 1000, "commands per request")
	caFile := fs.String("tls-ca", "", "PEM file of the CAs to trust for an https -url (default: the system's)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *token == "" {
		return errors.New("usage: ingest import [-url URL] [-tls-ca FILE] -token TOKEN FILE|-")
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	if *caFile != "" {
		pool, err := cli.CertPool(*caFile)
		if err != nil {
			return fmt.Errorf("ingest import: -tls-ca: %w", err)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	var in io.Reader = os.Stdin
	total := 0
	if name := fs.Arg(0); name != "-" {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		total = bytes.Count(data, []byte("\n"))
		in = bytes.NewReader(data)
	}
	start := time.Now()
	progress := func(int) {}
	tty := cli.IsTerminal(os.Stderr)
	if tty {
		progress = func(done int) { fmt.Fprint(os.Stderr, "\r"+bar(done, total, time.Since(start))) }
	}
	c := &apiclient.Client{Ingest: strings.TrimSuffix(*url, "/"), Token: *token, HTTP: client}
	sum, err := c.Import(ctx, bufio.NewReader(in), *chunk, progress)
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	fmt.Printf("%s in %s\n", sum, time.Since(start).Round(time.Millisecond))
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d commands were not taken", sum.Failed)
	}
	return nil
}

// bar draws a progress bar, or a counter when the total is unknown.
func bar(done, total int, took time.Duration) string {
	rate := float64(done) / max(took.Seconds(), 0.001)
	if total <= 0 {
		return fmt.Sprintf("%d commands (%.0f/s)", done, rate)
	}
	const width = 30
	filled := min(width, done*width/total)
	return fmt.Sprintf("[%s%s] %3d%% %d/%d (%.0f/s)", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		done*100/total, done, total, rate)
}
