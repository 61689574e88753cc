package condition

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func TestLower8(t *testing.T) {
	check := func(w [8]byte) {
		var want [8]byte
		for i, c := range w {
			want[i] = lower(c)
		}
		got := lower8(binary.LittleEndian.Uint64(w[:]))
		if got != binary.LittleEndian.Uint64(want[:]) {
			t.Fatalf("lower8(%q) = %#x, want %q", w, got, want)
		}
	}
	for c := 0; c < 256; c++ { // every byte in every lane, next to every other
		for lane := 0; lane < 8; lane++ {
			var w [8]byte
			for i := range w {
				w[i] = byte(c + i*37)
			}
			w[lane] = byte(c)
			check(w)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		check(w)
	}
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"GET", "get", true},
		{"Shop.Example.COM", "shop.example.com", true},
		{"shop.example.con", "shop.example.com", false},
		{"User-Agent", "user-agent", true},
		{"X-VAMP-MY-COOL-HEADER", "x-vamp-my-cool-header", true},
		{"X-VAMP-MY-COOL-HEADEr", "x-vamp-my-cool-headex", false},
		{"@", "`", false}, // 0x40 and 0x60 differ by 0x20 but are not letters
		{"[", "{", false},
		{"abcdefgh[", "ABCDEFGH{", false},
		{"\u212a", "k", false}, // Kelvin sign: no Unicode folding
		{"é", "É", false},
		{"a", "ab", false},
	} {
		if got := equalFold([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("equalFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("aAzZ@`[{09-.:\x80\xff")
	for range 100000 {
		n := rng.IntN(20)
		a, b := make([]byte, n), make([]byte, n)
		for i := range a {
			a[i] = alphabet[rng.IntN(len(alphabet))]
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want := true
		for i := range a {
			want = want && lower(a[i]) == lower(b[i])
		}
		if got := equalFold(a, b); got != want {
			t.Fatalf("equalFold(%q, %q) = %v, want %v", a, b, got, want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s, sub string
		want   bool
	}{
		{"SHOP.Example.com", "example", true},
		{"shop", "", true},
		{"", "a", false},
		{"ab", "abc", false},
		{"xxAB", "ab", true},
		{"a@b", "a`b", false},
	} {
		if got := containsFold([]byte(tc.s), []byte(tc.sub)); got != tc.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tc.s, tc.sub, got, tc.want)
		}
	}
}

func TestStripPort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"example.com", "example.com"},
		{"example.com:8080", "example.com"},
		{"example.com:", "example.com"},
		{"10.0.0.1:80", "10.0.0.1"},
		{"10.0.0.1", "10.0.0.1"},
		{"[::1]:80", "[::1]"},
		{"[::1]", "[::1]"},
		{"[::1]:", "[::1]"},
		{"::1", "::1"},
		{"fe80::1:80", "fe80::1:80"},
		{"8080", "8080"},
		{":80", ""},
	} {
		if got := string(stripPort([]byte(tc.in))); got != tc.want {
			t.Errorf("stripPort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
