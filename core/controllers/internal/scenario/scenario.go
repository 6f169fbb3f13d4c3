package scenario

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Case is one scenario.
type Case struct {
	// Pos is "file:line" of the command, for messages.
	Pos string
	// Cmd is the command's first word and Args the rest, split on spaces.
	Cmd  string
	Args []string
	// Input holds the lines between the command and "----", without
	// comments.
	Input []string
}

// Arg returns the value of a key=value argument, or def.
func (c *Case) Arg(key, def string) string {
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v
		}
	}
	return def
}

// Has reports whether the bare argument flag is present.
func (c *Case) Has(flag string) bool {
	for _, a := range c.Args {
		if a == flag {
			return true
		}
	}
	return false
}

type parsed struct {
	c *Case
	// outStart and outEnd delimit the expected output's lines
	// [outStart, outEnd) in the file.
	outStart, outEnd int
}

func parse(path string, lines []string) ([]parsed, error) {
	var out []parsed
	for i := 0; i < len(lines); {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			i++
			continue
		}
		f := strings.Fields(l)
		c := &Case{Pos: fmt.Sprintf("%s:%d", path, i+1), Cmd: f[0], Args: f[1:]}
		i++
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != "----"; i++ {
			in := strings.TrimSpace(lines[i])
			if in == "" {
				return nil, fmt.Errorf("%s:%d: blank line before ----", path, i+1)
			}
			if !strings.HasPrefix(in, "#") {
				c.Input = append(c.Input, in)
			}
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: case without ----", c.Pos)
		}
		i++ // ----
		start := i
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			i++
		}
		out = append(out, parsed{c: c, outStart: start, outEnd: i})
	}
	return out, nil
}

// Run runs every case of the file at path through f, each in a subtest
// named after its position, and compares f's output with the expected
// one; with update it rewrites the file with f's outputs.
func Run(t *testing.T, path string, update bool, f func(t *testing.T, c *Case) string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	cases, err := parse(path, lines)
	if err != nil {
		t.Fatal(err)
	}
	outputs := make([][]string, len(cases))
	for i, pc := range cases {
		t.Run(strings.ReplaceAll(pc.c.Pos, "/", "_"), func(t *testing.T) {
			got := normalize(f(t, pc.c))
			for _, l := range got {
				if l == "" {
					t.Fatalf("%s: output has a blank line, which would end the case", pc.c.Pos)
				}
			}
			outputs[i] = got
			if update {
				return
			}
			want := lines[pc.outStart:pc.outEnd]
			for j := range want {
				want[j] = strings.TrimRight(want[j], " \t")
			}
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("%s: %s %s\nwant:\n%s\ngot:\n%s", pc.c.Pos, pc.c.Cmd, strings.Join(pc.c.Args, " "),
					strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
		})
	}
	if !update || t.Failed() {
		return
	}
	var b strings.Builder
	prev := 0
	for i, pc := range cases {
		if outputs[i] == nil && pc.outStart == pc.outEnd {
			continue
		}
		for _, l := range lines[prev:pc.outStart] {
			b.WriteString(l + "\n")
		}
		for _, l := range outputs[i] {
			b.WriteString(l + "\n")
		}
		prev = pc.outEnd
	}
	for _, l := range lines[prev:] {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func normalize(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	for i := range out {
		out[i] = strings.TrimRight(out[i], " \t")
	}
	return out
}
