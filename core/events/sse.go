package events

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteSSE writes e as one Server-Sent Event: its id, its type as the
// event name and its JSON as the data line.
func WriteSSE(w io.Writer, e *Event) error {
	_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.JSON())
	return err
}

// WriteMarker writes a marker (Dropped, Lost): no id, so that the reader's
// Last-Event-ID stays that of the last event it got.
func WriteMarker(w io.Writer, t Type, data any) error {
	b, err := marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s marker: %w", t, err)
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", t, b)
	return err
}

// WriteHeartbeat writes a comment, which readers ignore, so that proxies
// (DC/OS Admin Router) see traffic and keep an idle stream open.
func WriteHeartbeat(w io.Writer) error {
	_, err := io.WriteString(w, ": heartbeat\n\n")
	return err
}

// Message is one event read from a stream: its id ("" for a marker), its
// type and its data.
type Message struct {
	ID   string
	Type Type
	Data []byte
}

// Reader reads Server-Sent Events, skipping comments.
type Reader struct {
	sc *bufio.Scanner
}

// NewReader reads a stream of events from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	return &Reader{sc: sc}
}

// Next is the next message; io.EOF at the end of the stream.
func (r *Reader) Next() (Message, error) {
	var m Message
	var data bytes.Buffer
	seen := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if seen {
				m.Data = data.Bytes()
				return m, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		seen = true
		switch field {
		case "id":
			m.ID = value
		case "event":
			m.Type = Type(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := r.sc.Err(); err != nil {
		return Message{}, err
	}
	return Message{}, io.EOF
}

// IDNumber is a message's id as a number (false for a marker).
func (m Message) IDNumber() (uint64, bool) {
	n, err := strconv.ParseUint(m.ID, 10, 64)
	return n, err == nil
}
