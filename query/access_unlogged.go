//go:build rewind_unlogged

package query

// accessLogged is false only in the build with the tag rewind_unlogged:
// the baseline that `make bench` measures the access log's cost against,
// in the same run. It gives out patient data unrecorded: it is built into
// bin/unlogged for the bench alone, never by `make build`, the Dockerfile
// or a release.
const accessLogged = false
