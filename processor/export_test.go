package processor

// Hooks are the crash and rebalance points the tests inject: a test seam,
// not part of the processor's API.
type Hooks = hooks

// MemberDirs are the data dirs of a process's members.
func MemberDirs(dataDir string, members int) []string {
	if members == 1 {
		return []string{dataDir}
	}
	dirs := make([]string, members)
	for i := range dirs {
		dirs[i] = memberDir(dataDir, i)
	}
	return dirs
}

// SetHooks sets a config's hooks.
func SetHooks(c *Config, h Hooks) { c.hooks = h }
