//go:build !rewind_unlogged

package query

// accessLogged is true in every build but the bench's baseline
// (access_unlogged.go).
const accessLogged = true
