package schemas

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// pythonAvro returns a python3 that imports Apache Avro's reference
// implementation. PATH may hold an interpreter (pyenv) that lacks the Debian
// package, so the system one is tried too.
func pythonAvro() (string, bool) {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import avro.io, avro.schema").Run() == nil {
			return path, true
		}
	}
	return "", false
}

const pythonDecode = `
import datetime, io, json, sys
import avro.io, avro.schema

schema = avro.schema.parse(open(sys.argv[1]).read())
reader = avro.io.DatumReader(schema)
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
out = []
for h in json.load(open(sys.argv[2])):
    b = bytes.fromhex(h)
    if b[0] == 0:
        header = {"framing": "confluent", "id": int.from_bytes(b[1:5], "big")}
        body = b[5:]
    elif b[:2] == b"\xc3\x01":
        header = {"framing": "single-object", "fingerprint": str(int.from_bytes(b[2:10], "little"))}
        body = b[10:]
    else:
        sys.exit("unknown framing: " + h[:20])
    buf = io.BytesIO(body)
    rec = reader.read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(body):
        sys.exit("%d trailing bytes" % (len(body) - buf.tell()))
    rec["event_ts"] = (rec["event_ts"] - epoch) // datetime.timedelta(milliseconds=1)
    out.append({"header": header, "record": rec})
json.dump(out, sys.stdout)
`

// TestEncodePythonAvro decodes what we write with Apache Avro's Python
// implementation. Only values are compared: python-avro 1.11 shares goavro's
// canonical-form bug, so its fingerprint is not a reference; its byte order
// reading of ours is.
func TestEncodePythonAvro(t *testing.T) {
	python, ok := pythonAvro()
	if !ok {
		t.Skip("python3 with Apache Avro not found: install it with apt-get install -y python3-avro")
	}
	dir := t.TempDir()
	schemaPath := filepath.Join(dir, "schema.avsc")
	if err := os.WriteFile(schemaPath, []byte(ProcessedEngagement()), 0o644); err != nil {
		t.Fatal(err)
	}
	type sent struct {
		framing string
		out     *Output
	}
	var sents []sent
	var hexes []string
	for _, f := range []struct {
		name string
		enc  *Encoder
	}{
		{"confluent", newEncoder(t, 99, FramingConfluent)},
		{"single-object", newEncoder(t, 0, FramingSingleObject)},
	} {
		for i := range outputCases {
			if outputCases[i].goavroOnly {
				continue
			}
			b, err := f.enc.Append(nil, &outputCases[i].out)
			if err != nil {
				t.Fatal(err)
			}
			sents = append(sents, sent{f.name, &outputCases[i].out})
			hexes = append(hexes, hex.EncodeToString(b))
		}
	}
	in, _ := json.Marshal(hexes)
	inPath := filepath.Join(dir, "records.json")
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pythonDecode, schemaPath, inPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Header map[string]any `json:"header"`
		Record map[string]any `json:"record"`
	}
	dec := json.NewDecoder(bytes.NewReader(stdout))
	dec.UseNumber() // exact int64 and float64 values
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("python output %s: %v", stdout, err)
	}
	if len(got) != len(sents) {
		t.Fatalf("got %d records from python, want %d", len(got), len(sents))
	}
	fp := strconv.FormatUint(specFingerprint(t), 10)
	for i, s := range sents {
		g := got[i]
		what := fmt.Sprintf("record %d (%s)", i, s.framing)
		switch s.framing {
		case "confluent":
			if g.Header["id"] != json.Number("99") {
				t.Errorf("%s: got id %v, want 99", what, g.Header["id"])
			}
		case "single-object":
			if g.Header["fingerprint"] != fp {
				t.Errorf("%s: got fingerprint %v, want %s", what, g.Header["fingerprint"], fp)
			}
		}
		for k, w := range pythonWant(s.out) {
			if gv := g.Record[k]; !reflect.DeepEqual(gv, w) {
				t.Errorf("%s %s: got %#v, want %#v", what, k, gv, w)
			}
		}
	}
}

// pythonWant is o as python's json.dump of the decoded record reads back
// through json.Decoder.UseNumber.
func pythonWant(o *Output) map[string]any {
	s := func(v sql.NullString) any {
		if !v.Valid {
			return nil
		}
		return v.String
	}
	i := func(v sql.NullInt32) any {
		if !v.Valid {
			return nil
		}
		return json.Number(strconv.Itoa(int(v.Int32)))
	}
	d := func(v sql.NullFloat64) any {
		if !v.Valid {
			return nil
		}
		return json.Number(pythonRepr(v.Float64))
	}
	return map[string]any{
		"event_id":           json.Number(strconv.FormatInt(o.EventID, 10)),
		"content_id":         s(o.ContentID),
		"user_id":            s(o.UserID),
		"event_type":         s(o.EventType),
		"event_ts":           json.Number(strconv.FormatInt(o.EventTs.UnixMilli(), 10)),
		"duration_ms":        i(o.DurationMs),
		"device":             s(o.Device),
		"content_type":       s(o.ContentType),
		"length_seconds":     i(o.LengthSeconds),
		"engagement_seconds": d(o.EngagementSeconds),
		"engagement_pct":     d(o.EngagementPct),
	}
}

// pythonRepr is Python's repr of a double in the range the test values use,
// where Python writes fixed notation with the shortest round-tripping digits.
func pythonRepr(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		panic(fmt.Sprintf("pythonRepr: %v is outside the fixed-notation range", f))
	}
	r := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(r, ".") {
		r += ".0"
	}
	return r
}
