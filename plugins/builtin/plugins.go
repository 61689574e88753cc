package builtin

// The built-in plugins. Each is a package of its own under plugins/.
func init() {
}
