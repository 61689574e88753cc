package builtin

import (
	"github.com/turnout/turnout/plugins/backend/consul"
	"github.com/turnout/turnout/plugins/backend/dcos"
	"github.com/turnout/turnout/plugins/policy/bluegreen"
	"github.com/turnout/turnout/plugins/policy/canary"
	"github.com/turnout/turnout/plugins/sdk"
)

// The built-in plugins. Each is a package of its own under plugins/. The
// three DC/OS backends (marathon:, minuteman:, marathon-lb:) are served
// by one plugin, dcos, so that they share one Marathon event stream.
func init() {
	register(sdk.KindBackend, "consul", func() sdk.Plugin { return consul.New() })
	register(sdk.KindBackend, dcos.Name, func() sdk.Plugin { return dcos.New() })
	register(sdk.KindPolicy, "canary", func() sdk.Plugin { return canary.New() })
	register(sdk.KindPolicy, "bluegreen", func() sdk.Plugin { return bluegreen.New() })
}
