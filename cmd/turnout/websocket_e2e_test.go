package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/turnout/turnout/internal/testnet"
)

// WebSocket through a gateway of the real binary, on both HTTP engines
// (the event loops, and a goroutine per connection): the upgrade goes to
// the route's endpoint, and messages go both ways after it, a small one
// and one larger than any buffer of the data plane, unchanged (issue 20,
// item 4, on plain HTTP ports).
func TestWebSocketEchoThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	echo := testnet.HandlerBackend(t, websocket.Handler(func(c *websocket.Conn) {
		var msg []byte
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, append([]byte("echo: "), msg...)) != nil {
				return
			}
		}
	}))
	for _, engine := range []struct {
		name string
		args []string
	}{
		{"event loops", nil},
		{"goroutine per connection", []string{"--goroutine-http"}},
	} {
		t.Run(strings.ReplaceAll(engine.name, " ", "_"), func(t *testing.T) {
			port := testnet.FreePort(t)
			start(t, fmt.Sprintf("name: ws\nport: %d/http\nroutes:\n  \"[%s]\":\n    weight: 100%%\n", port, echo), engine.args...)
			var c *websocket.Conn
			testnet.Eventually(t, 30*time.Second, "the gateway to take the WebSocket upgrade", func() bool {
				var err error
				c, err = websocket.Dial(fmt.Sprintf("ws://127.0.0.1:%d/chat", port), "", "http://127.0.0.1/")
				return err == nil
			})
			defer c.Close()
			large := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
			for _, msg := range [][]byte{[]byte("hello"), large, []byte("bye")} {
				if err := websocket.Message.Send(c, msg); err != nil {
					t.Fatalf("send %d bytes: %v", len(msg), err)
				}
				var got []byte
				if err := websocket.Message.Receive(c, &got); err != nil {
					t.Fatalf("receive the echo of %d bytes: %v", len(msg), err)
				}
				if want := append([]byte("echo: "), msg...); !bytes.Equal(got, want) {
					t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(got))
				}
			}
		})
	}
}
