package processor

// crashpoint, when set (crashpoints_on.go, under the build tag
// rewind_crashpoints), runs after a batch's records are produced and
// before End, beside the tests' BeforeCommit hook. It is nil in every
// other build.
var crashpoint func()
