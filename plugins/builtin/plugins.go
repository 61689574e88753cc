package builtin

import (
	"github.com/turnout/turnout/plugins/backend/consul"
	"github.com/turnout/turnout/plugins/backend/marathon"
	"github.com/turnout/turnout/plugins/backend/marathonlb"
	"github.com/turnout/turnout/plugins/backend/minuteman"
	"github.com/turnout/turnout/plugins/policy/bluegreen"
	"github.com/turnout/turnout/plugins/policy/canary"
	"github.com/turnout/turnout/plugins/sdk"
)

// The built-in plugins. Each is a package of its own under plugins/.
func init() {
	register(sdk.KindBackend, "consul", func() sdk.Plugin { return consul.New() })
	register(sdk.KindBackend, "marathon", func() sdk.Plugin { return marathon.New() })
	register(sdk.KindBackend, "marathon-lb", func() sdk.Plugin { return marathonlb.New() })
	register(sdk.KindBackend, "minuteman", func() sdk.Plugin { return minuteman.New() })
	register(sdk.KindPolicy, "canary", func() sdk.Plugin { return canary.New() })
	register(sdk.KindPolicy, "bluegreen", func() sdk.Plugin { return bluegreen.New() })
}
