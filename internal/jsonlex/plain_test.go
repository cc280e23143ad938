package jsonlex

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPlain(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", true},
		{"object", `{"a":"b","c":[1,2]}`, true},
		{"non-ASCII", `{"a":"café ☕"}`, true},
		{"escape", `{"a":"b\"c"}`, false},
		{"escape in the tail", `{"a":1}\`, false},
		{"tab", "{\"a\":\t1}", false},
		{"NUL", "{\"a\":\"\x00\"}", false},
		{"NUL in the tail", "{\"a\":1}\x00", false},
		{"DEL is plain", "{\"a\":\"\x7f\"}", true},
		{"0x1f after 32 bytes", `{"a":"` + strings.Repeat("x", 40) + "\x1f\"}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Plain([]byte(tt.in)); got != tt.want {
				t.Fatalf("Plain = %v, want %v", got, tt.want)
			}
		})
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		b := randomBytes(r, "ab\"{ \x00\x1f\\\x80\xff\x20", r.IntN(80))
		want := true
		for _, c := range b {
			if c < 0x20 || c == '\\' {
				want = false
			}
		}
		if got := Plain(b); got != want {
			t.Fatalf("%q: Plain = %v, want %v", b, got, want)
		}
	}
}

func TestQuoteEnd(t *testing.T) {
	for _, n := range []int{0, 1, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100} {
		s := `"` + strings.Repeat("x", n) + `"`
		for _, tail := range []string{"", ",", `,"abcdefghijkl"`} {
			if got := QuoteEnd([]byte(s+tail), 0); got != len(s) {
				t.Fatalf("%q: got %d, want %d", s+tail, got, len(s))
			}
		}
		if got := QuoteEnd([]byte(s[:len(s)-1]), 0); got != -1 {
			t.Fatalf("unterminated %q: got %d", s[:len(s)-1], got)
		}
	}
}

// randomJSON builds random JSON text, strings drawn from an alphabet rich
// in JSON's own punctuation, and mangles it now and then.
func randomJSON(r *rand.Rand) []byte {
	b, _ := json.Marshal(randomValue(r, 0))
	if r.IntN(2) == 0 && len(b) > 0 {
		i := r.IntN(len(b))
		switch r.IntN(3) {
		case 0:
			b = append(b[:i], b[i+1:]...)
		case 1:
			const junk = "{}[],:\"0e-x "
			b = append(b[:i], append([]byte{junk[r.IntN(len(junk))]}, b[i:]...)...)
		default:
			b = b[:i]
		}
	}
	return b
}

func randomValue(r *rand.Rand, depth int) any {
	k := r.IntN(6)
	if depth > 4 {
		k = r.IntN(3)
	}
	str := func() string { return string(randomBytes(r, `ab{}[]:," x`, r.IntN(8))) }
	switch k {
	case 0:
		return str()
	case 1:
		return r.IntN(1000) - 500
	case 2:
		return []any{true, false, nil, 1.5e-7}[r.IntN(4)]
	case 3, 4:
		m := map[string]any{}
		for range r.IntN(4) {
			m[str()] = randomValue(r, depth+1)
		}
		return m
	}
	var a []any
	for range r.IntN(4) {
		a = append(a, randomValue(r, depth+1))
	}
	return a
}

// TestSkipVariantsAgree checks that SkipPlain (on plain input) and
// SkipNested end where Skip ends, on valid and on mangled input.
func TestSkipVariantsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 50000 {
		b := randomJSON(r)
		want := Skip(b, 0, 1)
		if got := SkipNested(b, 0, 1, MaxDepth); got != want {
			t.Fatalf("%s: SkipNested %d, Skip %d", b, got, want)
		}
		if Plain(b) {
			if got := SkipPlain(b, 0, 1); got != want {
				t.Fatalf("%s: SkipPlain %d, Skip %d", b, got, want)
			}
		}
	}
	for _, n := range []int{MaxDepth, MaxDepth + 1} {
		deep := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		want := -1
		if n <= MaxDepth {
			want = len(deep)
		}
		if Skip(deep, 0, 1) != want || SkipPlain(deep, 0, 1) != want || SkipNested(deep, 0, 1, MaxDepth) != want {
			t.Fatalf("%d levels: Skip %d, SkipPlain %d, SkipNested %d, want %d", n, Skip(deep, 0, 1), SkipPlain(deep, 0, 1), SkipNested(deep, 0, 1, MaxDepth), want)
		}
	}
	deep := []byte(strings.Repeat(`{"a":`, StdlibDepth) + "1" + strings.Repeat("}", StdlibDepth))
	if SkipNested(deep, 0, 1, StdlibDepth) != len(deep) || SkipNested(append([]byte("["), append(deep, ']')...), 0, 1, StdlibDepth) != -1 {
		t.Fatal("SkipNested does not stop at StdlibDepth")
	}
	if !json.Valid(deep) || json.Valid(append([]byte("["), append(deep, ']')...)) {
		t.Fatal("encoding/json's limit moved")
	}
}

// FuzzValid checks the validating primitives against encoding/json, and
// the plain and iterative skips against Skip.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `{"a":"b\u00e9"}`, `"x"`, `-0.5e+3`, `tru`, `{"a":1,}`, "\"\x01\"", `[[[]]]`, `{"a" "b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Valid(b)
		want := json.Valid(b) && nesting(b) <= MaxDepth
		if got != want {
			t.Fatalf("Valid = %v, encoding/json says %v", got, want)
		}
		if nested := SkipNested(b, 0, 1, StdlibDepth); (nested >= 0 && SkipSpace(b, nested) == len(b)) != json.Valid(b) {
			t.Fatalf("SkipNested ends at %d, encoding/json says %v", nested, json.Valid(b))
		}
		i := SkipSpace(b, 0)
		if Plain(b) && i < len(b) && (b[i] == '{' || b[i] == '[') {
			if SkipPlain(b, i, 1) != Skip(b, i, 1) {
				t.Fatalf("SkipPlain ends at %d, Skip at %d", SkipPlain(b, i, 1), Skip(b, i, 1))
			}
		}
	})
}

// nesting returns the container depth of valid JSON.
func nesting(b []byte) int {
	depth, maxd, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			maxd = max(maxd, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxd
}

// TestJump checks Jump against Skip: on valid plain JSON it ends where Skip
// does, unless it says it cannot tell; on a container cut short, alone or
// followed by another whole one, it never ends at the end.
func TestJump(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	next := []byte(`{"level":30,"msg":"next record","req":{"headers":{"authorization":"Bearer x"}}}`)
	told := 0
	for range 20000 {
		b, _ := json.Marshal(randomValue(r, 0))
		if !Plain(b) || (b[0] != '{' && b[0] != '[') {
			continue
		}
		square := !SquareFree(b)
		want := Skip(b, 0, 1)
		if got := Jump(b, 1, b[0], 1, square); got >= 0 {
			told++
			if got != want {
				t.Fatalf("%s: Jump ends at %d, Skip at %d", b, got, want)
			}
		}
		for cut := 1; cut < len(b); cut++ {
			if got := Jump(b[:cut], 1, b[0], 1, true); got == cut {
				t.Fatalf("%s cut at %d: Jump closes it at the end", b, cut)
			}
			joined := append(bytes.Clone(b[:cut]), next...)
			if got := Jump(joined, 1, b[0], 1, true); got == len(joined) {
				t.Fatalf("%s cut at %d, then a whole record: Jump closes it at the end", b, cut)
			}
		}
	}
	if told < 1000 {
		t.Fatalf("Jump told only %d ends", told)
	}
	deep := []byte(strings.Repeat("{\"a\":", MaxDepth) + "1" + strings.Repeat("}", MaxDepth))
	if Jump(deep, 1, '{', 1, false) != len(deep) || Jump(append([]byte(`{"b":`), append(deep, '}')...), 1, '{', 1, false) != -1 {
		t.Fatal("Jump does not stop at MaxDepth")
	}
}
