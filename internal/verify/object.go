package verify

import "github.com/jwtwatch/jwtwatch/internal/jsonlex"

// object walks the top-level members of a JSON object with jwtwatch's JSON
// lexer (internal/jsonlex), validating as it goes: a header or the claims
// are read and checked in one pass. Nested values are validated without
// recursion up to encoding/json's depth, so a hostile token costs neither
// stack nor allocation.
type object struct {
	data  []byte
	i     int
	state int
}

// What object.next expects.
const (
	objFirst = iota // a member or '}'
	objNext         // ',' or '}'
	objEnd          // nothing: the object closed, with only whitespace after it
	objBad          // nothing: the input is not one JSON object
)

// openObject starts walking data, reporting false when it does not start
// as an object.
func openObject(data []byte) (object, bool) {
	i := jsonlex.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return object{}, false
	}
	return object{data: data, i: i + 1}, true
}

// next returns the next member's name (a JSON string, quotes included) and
// raw value, or more=false at the end of the object or where it stops being
// valid JSON; valid then tells which.
func (o *object) next() (name, val []byte, more bool) {
	d := o.data
	i := jsonlex.SkipSpace(d, o.i)
	switch {
	case o.state != objFirst && o.state != objNext:
		return nil, nil, false
	case i < len(d) && d[i] == '}':
		if jsonlex.SkipSpace(d, i+1) == len(d) {
			o.state = objEnd
		} else {
			o.state = objBad
		}
		return nil, nil, false
	case o.state == objNext:
		if i >= len(d) || d[i] != ',' {
			o.state = objBad
			return nil, nil, false
		}
		i = jsonlex.SkipSpace(d, i+1)
	}
	o.state = objBad // until the member is read whole
	if i >= len(d) || d[i] != '"' {
		return nil, nil, false
	}
	end, _ := jsonlex.String(d, i)
	if end < 0 {
		return nil, nil, false
	}
	name = d[i:end]
	i = jsonlex.SkipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		return nil, nil, false
	}
	i = jsonlex.SkipSpace(d, i+1)
	if end = jsonlex.SkipNested(d, i, 2, jsonlex.StdlibDepth); end < 0 {
		return nil, nil, false
	}
	o.i, o.state = end, objNext
	return name, d[i:end], true
}

// valid reports, once next returned more=false, whether the input was one
// JSON object, as encoding/json's Valid would say.
func (o *object) valid() bool { return o.state == objEnd }
