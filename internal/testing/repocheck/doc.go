// Package repocheck holds tests of the repository itself, not of any
// package's code: for now, that nothing in the repository refers to a
// file outside it. A clone holds only what is committed, so a link or a
// comment that points past the repository root is broken for every
// reader but the one who wrote it; the design lives in docs/ for that
// reason.
//
// The package has no code of its own and must never gain an importer.
package repocheck
