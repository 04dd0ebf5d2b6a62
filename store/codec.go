package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Key layout (see doc.go). Version keys sort by id then by sequence, so a
// prefix scan over one id yields its history oldest first, and a scan over
// prefixVersion visits ids in byte order. Meta keys sort before every version
// key and are never visited by a version scan.
const (
	prefixMeta    byte = 0x00
	prefixVersion byte = 'v'

	metaFormat   byte = 'f' // one byte: formatVersion
	metaOffset   byte = 'o' // + partition (4, big-endian) + topic: next offset (8, big-endian)
	metaTruncate byte = 't' // truncate watermark LSN (8, big-endian)
	metaTruncTs  byte = 's' // commit time of the last truncate, ms (8, big-endian)

	formatVersion byte = 1

	versionKeyLen = 1 + 16 + 8
)

// Value flags.
const (
	flagDeleted     uint8 = 1 << iota
	flagContentType       // ContentType.Valid
	flagLength            // LengthSeconds.Valid
	// flagTruncated marks a delete written by a truncate. Values written
	// before it existed lack it, so their truncates read as deletes.
	flagTruncated
)

var errCorrupt = errors.New("corrupt record")

func appendVersionKey(dst []byte, id uuid.UUID, seq uint64) []byte {
	dst = append(dst, prefixVersion)
	dst = append(dst, id[:]...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func parseVersionKey(k []byte) (uuid.UUID, uint64, error) {
	var id uuid.UUID
	if len(k) != versionKeyLen || k[0] != prefixVersion {
		return id, 0, fmt.Errorf("version key %x: %w", k, errCorrupt)
	}
	copy(id[:], k[1:17])
	return id, binary.BigEndian.Uint64(k[17:]), nil
}

func rowPrefix(id uuid.UUID) []byte {
	return append([]byte{prefixVersion}, id[:]...)
}

var (
	keyFormat   = []byte{prefixMeta, metaFormat}
	keyTruncate = []byte{prefixMeta, metaTruncate}
	keyTruncTs  = []byte{prefixMeta, metaTruncTs}
)

func offsetKey(tp TopicPartition) []byte {
	k := make([]byte, 0, 6+len(tp.Topic))
	k = append(k, prefixMeta, metaOffset)
	k = binary.BigEndian.AppendUint32(k, uint32(tp.Partition))
	return append(k, tp.Topic...)
}

func parseOffsetKey(k []byte) (TopicPartition, error) {
	if len(k) < 6 {
		return TopicPartition{}, fmt.Errorf("offset key %x: %w", k, errCorrupt)
	}
	return TopicPartition{Topic: string(k[6:]), Partition: int32(binary.BigEndian.Uint32(k[2:6]))}, nil
}

func int64Value(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func parseInt64Value(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("int64 value of %d bytes: %w", len(v), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// appendValue encodes a version. The projection the in-memory index needs
// comes first so that Open can stop decoding early:
//
//	format(1) flags(1) validFrom lsn [contentType] [length]
//	tsMs offset partition topic [slug title publishMicros]
//
// Integers are varints, strings are uvarint-length-prefixed; the bracketed
// fields are present per flags (the row only when not deleted). truncated
// marks a delete as a truncate's.
func appendValue(dst []byte, deleted, truncated bool, row *Row, src *Source, validFrom int64) []byte {
	var flags uint8
	if deleted {
		flags |= flagDeleted
		if truncated {
			flags |= flagTruncated
		}
	} else {
		if row.ContentType.Valid {
			flags |= flagContentType
		}
		if row.LengthSeconds.Valid {
			flags |= flagLength
		}
	}
	dst = append(dst, formatVersion, flags)
	dst = binary.AppendVarint(dst, validFrom)
	dst = binary.AppendVarint(dst, src.LSN)
	if flags&flagContentType != 0 {
		dst = appendString(dst, row.ContentType.String)
	}
	if flags&flagLength != 0 {
		dst = binary.AppendVarint(dst, int64(row.LengthSeconds.Int32))
	}
	dst = binary.AppendVarint(dst, src.TsMs)
	dst = binary.AppendVarint(dst, src.Offset)
	dst = binary.AppendVarint(dst, int64(src.Partition))
	dst = appendString(dst, src.Topic)
	if !deleted {
		dst = appendString(dst, row.Slug)
		dst = appendString(dst, row.Title)
		dst = binary.AppendVarint(dst, row.PublishMicros)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads a value; the first failure sticks so callers check once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.fail()
		return nil
	}
	s := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return s
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if int64(int32(v)) != v {
		d.fail()
	}
	return int32(v)
}

// decodeProjection reads the fields the in-memory index holds, and the
// content type's bytes (aliasing b) for the caller to number.
func decodeProjection(b []byte) (version, []byte, error) {
	d := decoder{b: b}
	var (
		v     version
		ctype []byte
	)
	if f := d.byte(); f != formatVersion && d.err == nil {
		return v, nil, fmt.Errorf("value format %d: %w", f, errCorrupt)
	}
	v.flags = d.byte() & storedFlags
	v.validFrom = d.varint()
	v.lsn = d.varint()
	if v.flags&flagContentType != 0 {
		ctype = d.bytes()
	}
	if v.flags&flagLength != 0 {
		v.length = d.int32()
	}
	if d.err != nil {
		return version{}, nil, fmt.Errorf("version value: %w", d.err)
	}
	return v, ctype, nil
}

// decodeVersion reads a whole stored version.
func decodeVersion(b []byte) (Version, error) {
	d := decoder{b: b}
	var v Version
	if f := d.byte(); f != formatVersion && d.err == nil {
		return v, fmt.Errorf("value format %d: %w", f, errCorrupt)
	}
	flags := d.byte()
	v.Deleted = flags&flagDeleted != 0
	switch {
	case v.Deleted && flags&flagTruncated != 0:
		v.Op = OpTruncate
	case v.Deleted:
		v.Op = OpDelete
	default:
		v.Op = OpUpdate // until the caller, knowing the version before, says create
	}
	v.ValidFromMs = d.varint()
	v.Source.LSN = d.varint()
	if flags&flagContentType != 0 {
		v.Row.ContentType.String = string(d.bytes())
		v.Row.ContentType.Valid = true
	}
	if flags&flagLength != 0 {
		v.Row.LengthSeconds.Int32 = d.int32()
		v.Row.LengthSeconds.Valid = true
	}
	v.Source.TsMs = d.varint()
	v.Source.Offset = d.varint()
	v.Source.Partition = d.int32()
	v.Source.Topic = string(d.bytes())
	if !v.Deleted {
		v.Row.Slug = string(d.bytes())
		v.Row.Title = string(d.bytes())
		v.Row.PublishMicros = d.varint()
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return Version{}, fmt.Errorf("version value: %w", d.err)
	}
	return v, nil
}
