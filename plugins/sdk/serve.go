package sdk

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs p as a Turnout plugin: it speaks the go-plugin handshake on
// standard output and serves p over gRPC until Turnout goes away. It is all
// a plugin's main needs. p must implement Backend or Policy.
//
// Serve exits the process when Turnout ends the plugin, and also when
// Turnout itself died without doing so (the parent process changed), so a
// plugin never outlives its host.
func Serve(p Plugin) {
	sets, err := ServerPlugins(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go exitWithParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: sets,
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Output:     stderr,
			JSONFormat: true,
			Level:      hclog.Info,
		}),
	})
	os.Exit(0)
}

// exitWithParent ends the process once its parent is gone: the orphan is
// re-parented, so its parent PID changes.
func exitWithParent(ppid int, every time.Duration) {
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			os.Exit(2)
		}
	}
}
