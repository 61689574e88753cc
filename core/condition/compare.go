package condition

import (
	"bytes"
	"encoding/binary"
)

// stripPort returns the host part of a Host header: "[::1]:80" gives
// "[::1]", "a.example:8080" gives "a.example". A bare IPv6 address (several
// colons, no brackets) is returned whole. The port is scanned from the end
// because most Host headers have none and end in a letter.
func stripPort(h []byte) []byte {
	i := len(h) - 1
	if i < 0 || h[i] > ':' {
		return h // the usual case: no port, ends in a letter or ']'
	}
	for i >= 0 && h[i] >= '0' && h[i] <= '9' {
		i--
	}
	if i < 0 || h[i] != ':' {
		return h
	}
	if i > 0 && h[i-1] == ']' || bytes.IndexByte(h[:i], ':') < 0 {
		return h[:i]
	}
	return h
}

// containsFold is an ASCII case-insensitive bytes.Contains; sub is already
// lower case. Hosts and methods are ASCII, and this never allocates.
func containsFold(s, sub []byte) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == sub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// equalFold is an ASCII-only bytes.EqualFold: Unicode folding would let
// "\u212a" (Kelvin sign) equal "k" in a host name. It compares eight bytes
// at a time, after trying plain equality, the common case.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if string(a) == string(b) {
		return true
	}
	i := 0
	for ; i+8 <= len(a); i += 8 {
		if lower8(binary.LittleEndian.Uint64(a[i:])) != lower8(binary.LittleEndian.Uint64(b[i:])) {
			return false
		}
	}
	for ; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// lower8 lower-cases the ASCII letters among eight bytes (SWAR): a byte's
// high bit is set in upper when it is in 'A'..'Z', and 0x80>>2 is 0x20.
func lower8(x uint64) uint64 {
	const ones = 0x0101010101010101
	h := x & (0x7f * ones) // no carry between bytes below
	upper := (h + (0x80-'A')*ones) &^ (h + (0x80-'Z'-1)*ones) &^ x & (0x80 * ones)
	return x | upper>>2
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
