package parse

import (
	"math"
	"strconv"
	"time"
)

// Epoch numbers carry no unit, so the unit is told from the magnitude. A
// value below epochMillisFrom is seconds (up to the year 5138); below
// epochMicrosFrom, milliseconds (from 1973-03-03 on); below epochNanosFrom,
// microseconds; above, nanoseconds. Every realistic log time is unambiguous.
const (
	epochMillisFrom = 1e11
	epochMicrosFrom = 1e14
	epochNanosFrom  = 1e17
)

// parseTimestamp parses the time formats gateways log: RFC 3339 (with or
// without fractional seconds), nginx's $time_local and epoch numbers (see
// epochMillisFrom). Anything else, and epoch values <= 0, yield the zero
// Time. Results are in UTC.
//
// The parsers are hand-written because time.Parse needs a string (an
// allocation per line) and allocates again on failure.
func parseTimestamp(b []byte) time.Time {
	b = trimSpace(b)
	if len(b) == 0 {
		return time.Time{}
	}
	if len(b) >= len("2006-01-02T15:04:05Z") && b[4] == '-' {
		t, _ := parseRFC3339(b)
		return t
	}
	if len(b) == len("02/Jan/2006:15:04:05 -0700") && b[2] == '/' {
		t, _ := parseTimeLocal(b)
		return t
	}
	return parseEpoch(b)
}

// parseRFC3339 parses 2006-01-02T15:04:05[.999999999](Z|±07:00). A
// lower-case t or a space as date-time separator, a lower-case z, a comma
// before the fraction and an offset without colon are accepted too;
// fraction digits beyond nanoseconds are dropped.
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' ||
		(b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return time.Time{}, false
	}
	year, month, day := atoi(b[0:4]), atoi(b[5:7]), atoi(b[8:10])
	hour, minute, sec := atoi(b[11:13]), atoi(b[14:16]), atoi(b[17:19])
	i, nsec := 19, 0
	if b[i] == '.' || b[i] == ',' {
		i++
		start, scale := i, int(1e9)
		for i < len(b) && isDigit(b[i]) {
			if scale > 1 {
				scale /= 10
				nsec += int(b[i]-'0') * scale
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	if i >= len(b) {
		return time.Time{}, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		z := b[i+1:]
		var oh, om int
		switch {
		case len(z) == 5 && z[2] == ':':
			oh, om = atoi(z[0:2]), atoi(z[3:5])
		case len(z) == 4:
			oh, om = atoi(z[0:2]), atoi(z[2:4])
		default:
			return time.Time{}, false
		}
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i = len(b)
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	return civil(year, month, day, hour, minute, sec, nsec, offset)
}

// parseTimeLocal parses nginx's $time_local, 02/Jan/2006:15:04:05 -0700.
func parseTimeLocal(b []byte) (time.Time, bool) {
	if len(b) != len("02/Jan/2006:15:04:05 -0700") ||
		b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' ||
		(b[21] != '+' && b[21] != '-') {
		return time.Time{}, false
	}
	month := 0
	const months = "janfebmaraprmayjunjulaugsepoctnovdec"
	for m := 0; m < 12; m++ {
		if hasFoldPrefix(b[3:6], months[3*m:3*m+3]) {
			month = m + 1
			break
		}
	}
	oh, om := atoi(b[22:24]), atoi(b[24:26])
	if oh < 0 || oh > 23 || om < 0 || om > 59 {
		return time.Time{}, false
	}
	offset := (oh*60 + om) * 60
	if b[21] == '-' {
		offset = -offset
	}
	return civil(atoi(b[7:11]), month, atoi(b[0:2]), atoi(b[12:14]), atoi(b[15:17]), atoi(b[18:20]), 0, offset)
}

// civil validates the fields (atoi yields -1 for non-digits) and builds
// the UTC instant; offset is the zone's offset east of UTC in seconds.
func civil(year, month, day, hour, minute, sec, nsec, offset int) (time.Time, bool) {
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// atoi parses a short run of ASCII digits, -1 when b has anything else.
func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseEpoch parses an epoch number (JSON number syntax or digits with an
// optional fraction) whose unit follows from its magnitude.
func parseEpoch(b []byte) time.Time {
	var whole, frac uint64 // frac in units of 1e-9 of the epoch unit
	i := 0
	for i < len(b) && isDigit(b[i]) {
		if whole > (math.MaxInt64-9)/10 {
			return time.Time{}
		}
		whole = whole*10 + uint64(b[i]-'0')
		i++
	}
	if i == 0 {
		return time.Time{} // also rejects negative numbers
	}
	if i < len(b) && b[i] == '.' {
		i++
		start, scale := i, uint64(1e9)
		for i < len(b) && isDigit(b[i]) {
			if scale > 1 {
				scale /= 10
				frac += uint64(b[i]-'0') * scale
			}
			i++
		}
		if i == start {
			return time.Time{}
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		// Rare enough that a float (and its string) is fine.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || !(f > 0 && f < math.MaxInt64) {
			return time.Time{}
		}
		whole = uint64(f)
		frac = uint64((f - math.Floor(f)) * 1e9)
		i = len(b)
	}
	if i != len(b) || (whole == 0 && frac == 0) {
		return time.Time{}
	}
	var sec, nsec uint64
	switch {
	case whole < epochMillisFrom:
		sec, nsec = whole, frac
	case whole < epochMicrosFrom:
		sec, nsec = whole/1e3, whole%1e3*1e6+frac/1e3
	case whole < epochNanosFrom:
		sec, nsec = whole/1e6, whole%1e6*1e3+frac/1e6
	default:
		sec, nsec = whole/1e9, whole%1e9
	}
	return time.Unix(int64(sec), int64(nsec)).UTC()
}
