package processor

// Hooks are the crash and rebalance points the tests inject: a test seam,
// not part of the processor's API.
type Hooks = hooks

// SetHooks sets a config's hooks.
func SetHooks(c *Config, h Hooks) { c.hooks = h }
