package input_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/input"
)

// The expected canonical forms below were produced independently with Node.js (ECMAScript
// JSON.stringify with keys sorted by Array.prototype.sort, i.e. by UTF-16 code units), which
// is what RFC 8785 specifies; the SHA-256 sums were checked with python3 hashlib.
func TestCanonical(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want string
	}{
		{"sorted keys", `{"b":2,"a":1}`, `{"a":1,"b":2}`},
		{"whitespace removed", " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } } ", `{"a":[1,2],"b":{}}`},
		{"nested objects sorted", `{"z":{"y":1,"x":2},"a":[{"d":1,"c":2}]}`, `{"a":[{"c":2,"d":1}],"z":{"x":2,"y":1}}`},
		{"literals", `[null, true, false]`, `[null,true,false]`},
		{"empty containers", `[{}, [], ""]`, `[{},[],""]`},
		{"scalar string", `"x"`, `"x"`},

		// Numbers: ECMAScript Number.prototype.toString.
		{"exponent upper case", `1E3`, `1000`},
		{"negative zero", `-0`, `0`},
		{"negative zero with fraction", `-0.0`, `0`},
		{"negative zero nested", `{"a":[-0,-0e10]}`, `{"a":[0,0]}`},
		{"trailing zero", `4.50`, `4.5`},
		{"integer with fraction", `100.000`, `100`},
		{"1e21 switches to exponent", `1e21`, `1e+21`},
		{"just under 1e21", `999999999999999700000`, `999999999999999700000`},
		{"big integer", `295147905179352830000`, `295147905179352830000`},
		{"1e23", `1e23`, `1e+23`},
		{"1e30", `1E30`, `1e+30`},
		{"1e-6 stays fixed", `0.000001`, `0.000001`},
		{"1e-7 switches to exponent", `1e-7`, `1e-7`},
		{"small fixed", `0.0000033333333333333333`, `0.0000033333333333333333`},
		{"2e-3", `2e-3`, `0.002`},
		{"1e-27", `0.000000000000000000000000001`, `1e-27`},
		{"negative exponent form", `-1.5e-10`, `-1.5e-10`},
		{"shortest round trip", `333333333.33333329`, `333333333.3333333`},
		{"round half even", `1424953923781206.25`, `1424953923781206.2`},
		{"beyond 2^53", `9007199254740993`, `9007199254740992`},
		{"many digits", `123456789012345678901234`, `1.2345678901234569e+23`},
		{"smallest subnormal", `5e-324`, `5e-324`},
		{"negative smallest subnormal", `-5e-324`, `-5e-324`},
		{"largest", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"underflow", `1e-400`, `0`},

		// Strings: minimal escapes, everything else as UTF-8.
		{"escapes", `"\u0000\u001f\u007f\u2028\b\f\t"`, "\"\\u0000\\u001f\u007f\u2028\\b\\f\\t\""},
		{"solidus unescaped", `"\/"`, `"/"`},
		{"quote and backslash", `"\"\\"`, `"\"\\"`},
		{"unicode escapes decoded", `"\u00e9\u20ac\ud83d\ude00"`, `"é€😀"`},
		{"newline and carriage return", `"\n\r"`, `"\n\r"`},
		{"control in key", `{"\u0001":1}`, `{"\u0001":1}`},
		{
			"RFC 8785 3.2.2 example",
			`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],` +
				` "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},

		// Key order: UTF-16 code units, not code points or UTF-8 bytes.
		{
			"RFC 8785 3.2.3 sorting example",
			`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One",` +
				`"\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\"," +
				"\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		// U+1F600 is D83D DE00 in UTF-16, which sorts before U+FF01 (but after it by code point
		// and by UTF-8 bytes).
		{"non-BMP before U+FFxx", `{"\uff01":1,"\ud83d\ude00":2}`, `{"😀":2,"！":1}`},
		{"non-BMP before U+FFFF", `{"\uffff":1,"\ud800\udc00":2}`, "{\"\U00010000\":2,\"\uffff\":1}"},
		{"prefix first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"upper case before lower", `{"a":1,"B":2}`, `{"B":2,"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := input.Canonical(json.RawMessage(tt.in))
			if err != nil {
				t.Fatalf("Canonical(%s): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonical(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			again, err := input.Canonical(got)
			if err != nil || string(again) != string(got) {
				t.Errorf("not idempotent: %s -> %s (%v)", got, again, err)
			}
		})
	}
}

// TestCanonicalNumbers checks the ECMAScript number serialization on the IEEE 754 bit patterns
// of RFC 8785 appendix B.
func TestCanonicalNumbers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		// Any exact decimal form of the float parses back to the same bits.
		in := strconv.FormatFloat(math.Float64frombits(tt.bits), 'g', -1, 64)
		got, err := input.Canonical(json.RawMessage(in))
		if err != nil {
			t.Errorf("Canonical(%s) [%016x]: %v", in, tt.bits, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Canonical(%s) [%016x] = %s, want %s", in, tt.bits, got, tt.want)
		}
	}
}

func TestCanonicalErrors(t *testing.T) {
	t.Parallel()

	for _, in := range []string{
		``, ` `, `{`, `{"a":}`, `[1,]`, `"a" "b"`, `true}`, `NaN`, `01`, `'x'`,
		`1e400`, `[-1e400]`, // out of float64 range: no ECMAScript form
		strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000),
	} {
		if got, err := input.Canonical(json.RawMessage(in)); err == nil {
			t.Errorf("Canonical(%.40q) = %s, want an error", in, got)
		}
		if got, err := input.Hash(json.RawMessage(in)); err == nil {
			t.Errorf("Hash(%.40q) = %s, want an error", in, got)
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want string // hex SHA-256 of the canonical form, computed with python3 hashlib
	}{
		{"approval", `{"approved":true,"comment":"ship it"}`, "15a3eb7879f88ba5b9961b5b873167f25f2c56bc93111c06c1eaf2c3bd9d43cc"},
		{"approval reordered with whitespace", "{ \"comment\" : \"ship it\",\n \"approved\" : true }", "15a3eb7879f88ba5b9961b5b873167f25f2c56bc93111c06c1eaf2c3bd9d43cc"},
		{"sorted keys", `{"b":2,"a":1}`, "43258cff783fe7036d8a43033f830adfc60ec037382473548ac742b888292777"},
		{"1E3 is 1000", `1E3`, "40510175845988f13f6162ed8526f0b09f73384467fa855e1e79b44a56562a58"},
		{"-0 is 0", `-0`, "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"},
		{
			"RFC 8785 example",
			`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],` +
				` "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
			"2d5e01a318d0f0879ab568c4be289c8b1f64ef8921a53c6277d5e069978baacb",
		},
		{"non-BMP key order", `{"\uff01":1,"\ud83d\ude00":2}`, "c97d01429c864fb3c08b02523a167c69017bb6860885dfc219e23f8ebb28d9e9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := input.Hash(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Hash(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestHashDistinguishesAnswers(t *testing.T) {
	t.Parallel()

	answers := []string{`true`, `false`, `"true"`, `1`, `1.5`, `null`, `[]`, `{}`, `[1]`, `["1"]`, `{"approved":true}`, `{"approved":false}`}
	seen := map[string]string{}
	for _, a := range answers {
		h, err := input.Hash(json.RawMessage(a))
		if err != nil {
			t.Fatalf("Hash(%s): %v", a, err)
		}
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			t.Errorf("Hash(%s) = %q, want 64 lower-case hex digits", a, h)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("Hash(%s) == Hash(%s)", a, prev)
		}
		seen[h] = a
	}
}

// TestHashDocVectors checks the input_hash table of docs/input.md, so that the documented
// vectors are the implementation's.
func TestHashDocVectors(t *testing.T) {
	t.Parallel()

	f, err := os.Open("../docs/input.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cell := regexp.MustCompile("`([^`]*)`")
	in, rows := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "<!-- vectors:start -->":
			in = true
			continue
		case line == "<!-- vectors:end -->":
			in = false
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		m := cell.FindAllStringSubmatch(line, -1)
		if len(m) != 3 {
			t.Fatalf("vector row %q: want 3 cells in backquotes", line)
		}
		answer, canonical, hash := m[0][1], m[1][1], m[2][1]
		rows++
		got, err := input.Canonical(json.RawMessage(answer))
		if err != nil || string(got) != canonical {
			t.Errorf("Canonical(%s) = %s, %v; the doc says %s", answer, got, err, canonical)
		}
		h, err := input.Hash(json.RawMessage(answer))
		if err != nil || h != hash {
			t.Errorf("Hash(%s) = %s, %v; the doc says %s", answer, h, err, hash)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows < 10 {
		t.Errorf("found %d vectors in docs/input.md, want at least 10", rows)
	}
}
