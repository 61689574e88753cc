package engine

import "github.com/turnout/turnout/core/gateway"

// SetBuildingHook makes apply call f with the gateways of every table it
// is about to build, holding the engine's build lock, for the tests of
// package engine_test. Call it before the engine runs.
func (e *Engine) SetBuildingHook(f func([]*gateway.Gateway)) { e.building = f }
