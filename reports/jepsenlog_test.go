package reports

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// readJepsenLogForTest reads the etcd corpus's jepsen.util lines. It is the
// fallback while histories.ReadJepsenLog is a stub; once that reader lands,
// readHistory uses it and this goes unused.
func readJepsenLogForTest(path string) (histories.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var h histories.History
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		i := strings.Index(s, "jepsen.util - ")
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+len("jepsen.util - "):])
		if len(fields) < 3 {
			continue
		}
		p, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		typ, err := histories.ParseType(fields[1])
		if err != nil {
			return nil, err
		}
		op := histories.Op{Index: int64(len(h)), Time: int64(line), Line: int32(line), Process: histories.Process(p), Type: typ, F: strings.TrimPrefix(fields[2], ":")}
		rest := strings.Join(fields[3:], " ")
		switch {
		case rest == "nil" || rest == "":
		case strings.HasPrefix(rest, "["):
			var vs []any
			for _, x := range strings.Fields(strings.Trim(rest, "[]")) {
				n, _ := strconv.ParseInt(x, 10, 64)
				vs = append(vs, n)
			}
			op.Value = vs
		case strings.HasPrefix(rest, ":"):
			op.Error = strings.TrimPrefix(rest, ":")
		default:
			n, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				op.Value = rest
			} else {
				op.Value = n
			}
		}
		h = append(h, op)
	}
	return h, sc.Err()
}

// readHistory reads a history with the project's reader, falling back to
// the test's own Jepsen-log reader while that one is a stub.
func readHistory(dir string) (histories.History, error) {
	h, err := histories.ReadFile(dir)
	if err == nil {
		return h, nil
	}
	p, rerr := histories.Resolve(dir)
	if rerr != nil || !strings.HasSuffix(p, ".log") {
		return nil, err
	}
	return readJepsenLogForTest(p)
}
