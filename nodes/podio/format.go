package podio

import (
	"bytes"
	"io"
	"time"
)

// Format says how a log file's lines are laid out.
type Format int

// Log file formats.
const (
	// Raw: the container's bytes as written (containerd's cio.LogFile).
	Raw Format = iota
	// Timestamped: "<RFC 3339 time> [stdout|stderr F|P ]<content>" per
	// line (the simulated runtime, CRI).
	Timestamped
)

// lineOpts is what shapes the lines a reader gets.
type lineOpts struct {
	format     Format
	timestamps bool
	since      time.Time // zero: no filter
}

// perLine reports whether the data must be cut into lines (or can be
// passed through as bytes).
func (o lineOpts) perLine() bool {
	return o.format == Timestamped
}

// parseLine splits a timestamped line (without its newline) into its time
// and content; ok is false when it has no leading time.
func parseLine(line []byte) (ts time.Time, content []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return time.Time{}, line, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return time.Time{}, line, false
	}
	rest := line[sp+1:]
	// CRI: "<time> <stream> <tag> <content>" with tag F (full) or P (partial).
	for _, stream := range [][]byte{[]byte("stdout "), []byte("stderr ")} {
		if after, ok := bytes.CutPrefix(rest, stream); ok && len(after) >= 2 && (after[0] == 'F' || after[0] == 'P') && after[1] == ' ' {
			return ts, after[2:], true
		}
	}
	return ts, rest, true
}

// render appends what a reader sees of one complete line (with its
// newline, if it had one) to out; a line the since filter drops appends
// nothing.
func render(out, line []byte, o lineOpts) []byte {
	if !o.perLine() {
		return append(out, line...)
	}
	body, nl := bytes.CutSuffix(line, []byte("\n"))
	ts, content, ok := parseLine(body)
	if ok && !o.since.IsZero() && ts.Before(o.since) {
		return out
	}
	if o.timestamps && ok {
		out = ts.UTC().AppendFormat(out, time.RFC3339Nano)
		out = append(out, ' ')
	}
	out = append(out, content...)
	if nl {
		out = append(out, '\n')
	}
	return out
}

// cut renders the complete lines of data (read from a file at some
// offset) and returns the rendered bytes and how many bytes of data they
// consumed. A trailing partial line is left for the next read unless
// final (the writer has stopped) or full (data is as long as a read may
// be, so a line longer than a chunk is passed on in pieces).
func cut(data []byte, o lineOpts, final, full bool) (out []byte, used int) {
	if !o.perLine() {
		return data, len(data)
	}
	out = make([]byte, 0, len(data)+len(data)/4)
	for used < len(data) {
		nl := bytes.IndexByte(data[used:], '\n')
		if nl < 0 {
			if final || used == 0 && full {
				out = render(out, data[used:], o)
				used = len(data)
			}
			break
		}
		out = render(out, data[used:used+nl+1], o)
		used += nl + 1
	}
	return out, used
}

// tailStart is the offset of the first of the last n lines of the file
// of the given size (a trailing partial line counts as a line); n <= 0 is
// the end.
func tailStart(r io.ReaderAt, size int64, n int64) (int64, error) {
	if n <= 0 {
		return size, nil
	}
	const block = 32 << 10
	buf := make([]byte, block)
	pos := size
	seen := int64(0)
	for pos > 0 {
		k := min(int64(block), pos)
		pos -= k
		if _, err := r.ReadAt(buf[:k], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := k - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				continue
			}
			if pos+i == size-1 {
				continue // the last line's own newline
			}
			seen++
			if seen == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}
