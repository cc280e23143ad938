package verify

// object walks the top-level members of a JSON object. Its input must already
// have passed json.Valid, so it only finds boundaries and never checks
// grammar; it is iterative, so nesting depth costs no stack. The bounds checks
// are kept anyway so that misuse yields "no more members", not a panic.
type object struct {
	data []byte
	i    int
}

// openObject starts walking data, reporting false when it is not an object.
func openObject(data []byte) (object, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return object{}, false
	}
	return object{data: data, i: i + 1}, true
}

// next returns the next member's name (a JSON string, quotes included) and
// raw value, or more=false at the end of the object.
func (o *object) next() (name, val []byte, more bool) {
	d := o.data
	i := skipSpace(d, o.i)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] != '"' {
		return nil, nil, false
	}
	end := endOfString(d, i)
	name = d[i:end]
	i = skipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		return nil, nil, false
	}
	i = skipSpace(d, i+1)
	end = endOfValue(d, i)
	val = d[i:end]
	o.i = end
	return name, val, true
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index just past the string starting at d[i] == '"'.
func endOfString(d []byte, i int) int {
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(d)
}

// endOfValue returns the index just past the value starting at d[i].
func endOfValue(d []byte, i int) int {
	if i >= len(d) {
		return len(d)
	}
	switch d[i] {
	case '"':
		return endOfString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				j = endOfString(d, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(d)
	}
	// A number or a literal.
	for j := i; j < len(d); j++ {
		switch d[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
	}
	return len(d)
}
